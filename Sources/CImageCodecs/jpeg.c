// JPEG through libjpeg-turbo: baseline, progressive, greyscale and CMYK/YCCK, to RGB8.
#include "common.h"

#include <jerror.h>
#include <jpeglib.h>
#include <setjmp.h>

typedef struct {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    int truncated;
} jpeg_error;

typedef struct {
    struct jpeg_progress_mgr progress;
    uint32_t max_scans;
} jpeg_scan_limit;

static void jpeg_raise(j_common_ptr common) {
    jpeg_error *error = (jpeg_error *)common->err;
    common->err->format_message(common, error->message);
    longjmp(error->jump, 1);
}

static void jpeg_note(j_common_ptr common, int level) {
    // A premature end fills the rest with grey; report it as the truncation it is. Other warnings
    // (extraneous bytes and the like) describe files that still decode fully.
    if (level < 0 && common->err->msg_code == JWRN_JPEG_EOF) ((jpeg_error *)common->err)->truncated = 1;
}

static void jpeg_check_scans(j_common_ptr common) {
    jpeg_scan_limit *limit = (jpeg_scan_limit *)common->progress;
    j_decompress_ptr decompress = (j_decompress_ptr)common;
    if (decompress->progressive_mode && (uint32_t)decompress->input_scan_number > limit->max_scans) {
        jpeg_error *error = (jpeg_error *)common->err;
        snprintf(error->message, sizeof error->message, "progressive JPEG has more than %u scans", limit->max_scans);
        longjmp(error->jump, 2);
    }
}

static void jpeg_init_error(jpeg_error *error) {
    jpeg_std_error(&error->manager);
    error->manager.error_exit = jpeg_raise;
    error->manager.emit_message = jpeg_note;
    error->message[0] = 0;
    error->truncated = 0;
}

kic_result kic_jpeg_read_header(const uint8_t *data, size_t count, kic_header *header) {
    struct jpeg_decompress_struct decompress;
    jpeg_error error;
    jpeg_init_error(&error);
    decompress.err = &error.manager;
    if (setjmp(error.jump)) {
        jpeg_destroy_decompress(&decompress);
        return kic_fail(KIC_CORRUPT, "%s", error.message);
    }
    jpeg_create_decompress(&decompress);
    jpeg_mem_src(&decompress, data, count);
    jpeg_read_header(&decompress, TRUE);
    header->width = decompress.image_width;
    header->height = decompress.image_height;
    header->has_alpha = 0;
    jpeg_destroy_decompress(&decompress);
    return kic_ok();
}

/// CMYK to RGB as Pillow does: r = (255 - c)(255 - k) / 255. Adobe files store the inks inverted.
static void jpeg_cmyk_to_rgb(const uint8_t *cmyk, uint8_t *rgb, uint32_t width, int inverted) {
    for (uint32_t x = 0; x < width; x++) {
        unsigned k = inverted ? cmyk[4 * x + 3] : 255u - cmyk[4 * x + 3];
        for (int channel = 0; channel < 3; channel++) {
            unsigned ink = inverted ? cmyk[4 * x + channel] : 255u - cmyk[4 * x + channel];
            unsigned product = ink * k + 128u;
            rgb[3 * x + channel] = (uint8_t)(((product >> 8) + product) >> 8);
        }
    }
}

kic_result kic_jpeg_decode(const uint8_t *data, size_t count, uint32_t max_scans, uint8_t *rgb, size_t rgb_count) {
    struct jpeg_decompress_struct decompress;
    jpeg_error error;
    jpeg_scan_limit limit = {{jpeg_check_scans, 0, 0, 0, 0}, max_scans};
    jpeg_init_error(&error);
    decompress.err = &error.manager;
    uint8_t *volatile cmyk_row = NULL;
    int jumped = setjmp(error.jump);
    if (jumped) {
        free(cmyk_row);
        jpeg_destroy_decompress(&decompress);
        return kic_fail(jumped == 2 ? KIC_UNSUPPORTED : KIC_CORRUPT, "%s", error.message);
    }
    jpeg_create_decompress(&decompress);
    decompress.progress = &limit.progress;
    jpeg_mem_src(&decompress, data, count);
    jpeg_read_header(&decompress, TRUE);
    int cmyk = decompress.jpeg_color_space == JCS_CMYK || decompress.jpeg_color_space == JCS_YCCK;
    decompress.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&decompress);
    uint32_t width = decompress.output_width, height = decompress.output_height;
    if ((size_t)width * height * 3 != rgb_count) {
        jpeg_destroy_decompress(&decompress);
        return kic_fail(KIC_FAILED, "output buffer does not match the %ux%u image", width, height);
    }
    if (cmyk) {
        cmyk_row = malloc((size_t)width * 4);
        if (!cmyk_row) {
            jpeg_destroy_decompress(&decompress);
            return kic_fail(KIC_FAILED, "out of memory");
        }
    }
    while (decompress.output_scanline < height && !error.truncated) {
        uint8_t *row = rgb + (size_t)decompress.output_scanline * width * 3;
        JSAMPROW target = cmyk ? cmyk_row : row;
        jpeg_read_scanlines(&decompress, &target, 1);
        if (cmyk) jpeg_cmyk_to_rgb(cmyk_row, row, width, decompress.saw_Adobe_marker);
    }
    free(cmyk_row);
    // jpeg_finish_decompress can still jump to the handler above, which frees cmyk_row again.
    cmyk_row = NULL;
    int truncated = error.truncated;
    if (!truncated) jpeg_finish_decompress(&decompress);
    jpeg_destroy_decompress(&decompress);
    if (truncated) return kic_fail(KIC_CORRUPT, "file is truncated (premature end of JPEG data)");
    return kic_ok();
}

kic_result kic_jpeg_encode(const uint8_t *rgb, uint32_t width, uint32_t height, int quality, kic_output *output) {
    struct jpeg_compress_struct compress;
    jpeg_error error;
    jpeg_init_error(&error);
    compress.err = &error.manager;
    unsigned char *volatile bytes = NULL;
    unsigned long volatile size = 0;
    if (setjmp(error.jump)) {
        jpeg_destroy_compress(&compress);
        free(bytes);
        return kic_fail(KIC_FAILED, "%s", error.message);
    }
    jpeg_create_compress(&compress);
    jpeg_mem_dest(&compress, (unsigned char **)&bytes, (unsigned long *)&size);
    compress.image_width = width;
    compress.image_height = height;
    compress.input_components = 3;
    compress.in_color_space = JCS_RGB;
    jpeg_set_defaults(&compress);
    jpeg_set_quality(&compress, quality, TRUE);
    // Full-resolution chroma at high quality, where 4:2:0 smearing of red edges is visible.
    int subsampling = quality >= 90 ? 1 : 2;
    compress.comp_info[0].h_samp_factor = subsampling;
    compress.comp_info[0].v_samp_factor = subsampling;
    compress.optimize_coding = TRUE;
    jpeg_start_compress(&compress, TRUE);
    while (compress.next_scanline < height) {
        JSAMPROW row = (JSAMPROW)(rgb + (size_t)compress.next_scanline * width * 3);
        jpeg_write_scanlines(&compress, &row, 1);
    }
    jpeg_finish_compress(&compress);
    jpeg_destroy_compress(&compress);
    output->bytes = bytes;
    output->count = size;
    return kic_ok();
}
