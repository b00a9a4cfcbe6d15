// PNG through libpng: every bit depth and colour type, interlaced or not, expanded to RGB8.
#include "common.h"

#include <png.h>
#include <setjmp.h>

typedef struct {
    kic_reader reader;
    char message[200];
    /// libpng states the reason for an invalid header in a warning before its generic error.
    int over_user_limit;
} png_source;

static void png_read_bytes(png_structp png, png_bytep destination, size_t count) {
    png_source *source = png_get_io_ptr(png);
    if (kic_reader_read(&source->reader, destination, count) != count) png_error(png, "file is truncated");
}

static void png_report_error(png_structp png, png_const_charp message) {
    png_source *source = png_get_error_ptr(png);
    if (!source->over_user_limit) snprintf(source->message, sizeof source->message, "%s", message);
    png_longjmp(png, 1);
}

static void png_note_warning(png_structp png, png_const_charp message) {
    png_source *source = png_get_error_ptr(png);
    if (strstr(message, "exceeds user limit")) {
        source->over_user_limit = 1;
        snprintf(source->message, sizeof source->message, "%s", message);
    }
}

/// Opens a read struct on `data`, sets the transforms to 8-bit RGB(A) and reads up to the pixels.
/// Must be followed by png_destroy_read_struct; errors longjmp to the caller's setjmp.
static void png_begin(png_structp png, png_infop info, kic_limits limits) {
    png_set_user_limits(png, limits.max_side, limits.max_side);
    png_read_info(png, info);
    int color_type = png_get_color_type(png, info);
    png_set_expand(png);
    png_set_scale_16(png);
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
}

/// Read and info structs reading from `source`; 0 when out of memory (nothing left to free).
static int png_open(png_source *source, png_structp *png, png_infop *info) {
    *png = png_create_read_struct(PNG_LIBPNG_VER_STRING, source, png_report_error, png_note_warning);
    *info = *png ? png_create_info_struct(*png) : NULL;
    if (!*info) {
        png_destroy_read_struct(png, NULL, NULL);
        return 0;
    }
    png_set_read_fn(*png, source, png_read_bytes);
    return 1;
}

static int png_has_alpha(png_structp png, png_infop info) {
    return (png_get_color_type(png, info) & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS);
}

kic_result kic_png_read_header(const uint8_t *data, size_t count, kic_limits limits, kic_header *header) {
    png_source source = {{data, count, 0}, {0}, 0};
    png_structp png;
    png_infop info;
    if (!png_open(&source, &png, &info)) return kic_fail(KIC_FAILED, "out of memory");
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        // libpng stops at the header when a side is over png_set_user_limits.
        if (source.over_user_limit) return kic_fail(KIC_TOO_LARGE, "%s", source.message);
        return kic_fail(KIC_CORRUPT, "%s", source.message);
    }
    png_set_user_limits(png, limits.max_side, limits.max_side);
    png_read_info(png, info);
    header->width = png_get_image_width(png, info);
    header->height = png_get_image_height(png, info);
    header->has_alpha = png_has_alpha(png, info);
    png_destroy_read_struct(&png, &info, NULL);
    return kic_ok();
}

kic_result kic_png_decode(const uint8_t *data, size_t count, kic_limits limits, uint8_t *rgb, size_t rgb_count) {
    png_source source = {{data, count, 0}, {0}, 0};
    png_structp png;
    png_infop info;
    if (!png_open(&source, &png, &info)) return kic_fail(KIC_FAILED, "out of memory");
    // Volatile: assigned after setjmp and read after a longjmp.
    png_bytep volatile rgba = NULL;
    png_bytepp volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(rgba);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        return kic_fail(KIC_CORRUPT, "%s", source.message);
    }
    png_begin(png, info, limits);
    uint32_t width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    int channels = png_get_channels(png, info);
    if ((size_t)width * height * 3 != rgb_count || (channels != 3 && channels != 4)) {
        png_destroy_read_struct(&png, &info, NULL);
        return kic_fail(KIC_FAILED, "output buffer does not match the %ux%u image", width, height);
    }
    png_bytep pixels = rgb;
    if (channels == 4) {
        rgba = malloc((size_t)width * height * 4);
        if (!rgba) png_error(png, "out of memory");
        pixels = rgba;
    }
    rows = malloc(sizeof(png_bytep) * height);
    if (!rows) png_error(png, "out of memory");
    for (uint32_t y = 0; y < height; y++) rows[y] = pixels + (size_t)y * width * channels;
    png_read_image(png, rows);
    // No png_read_end: the pixels are complete, and a file cut after its last IDAT still opens,
    // as it does in browsers.
    if (rgba) kic_composite_over_white(rgba, rgb, (size_t)width * height);
    free(rgba);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return kic_ok();
}

static void png_write_bytes(png_structp png, png_bytep bytes, size_t count) {
    if (!kic_buffer_append(png_get_io_ptr(png), bytes, count)) png_error(png, "out of memory");
}

static void png_flush(png_structp png) { (void)png; }

kic_result kic_png_encode(const uint8_t *rgb, uint32_t width, uint32_t height, int compression_level, kic_output *output) {
    png_source source = {{NULL, 0, 0}, {0}, 0};
    kic_buffer buffer = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &source, png_report_error, png_note_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        return kic_fail(KIC_FAILED, "out of memory");
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        free(buffer.bytes);
        return kic_fail(KIC_FAILED, "%s", source.message);
    }
    png_set_write_fn(png, &buffer, png_write_bytes, png_flush);
    png_set_compression_level(png, compression_level);
    png_set_IHDR(png, info, width, height, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_set_sRGB_gAMA_and_cHRM(png, info, PNG_sRGB_INTENT_PERCEPTUAL);
    png_write_info(png, info);
    for (uint32_t y = 0; y < height; y++) png_write_row(png, rgb + (size_t)y * width * 3);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    output->bytes = buffer.bytes;
    output->count = buffer.count;
    return kic_ok();
}
