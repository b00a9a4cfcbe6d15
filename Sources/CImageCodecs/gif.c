// GIF through giflib: the first frame of a file, and single-frame indexed output.
#include "common.h"

#include <gif_lib.h>

static int gif_read_bytes(GifFileType *gif, GifByteType *destination, int count) {
    return (int)kic_reader_read(gif->UserData, destination, (size_t)count);
}

static kic_result gif_failure(kic_status status, int code) {
    const char *text = GifErrorString(code);
    return kic_fail(status, "%s", text ? text : "GIF error");
}

kic_result kic_gif_read_header(const uint8_t *data, size_t count, kic_header *header) {
    kic_reader reader = {data, count, 0};
    int code = 0;
    GifFileType *gif = DGifOpen(&reader, gif_read_bytes, &code);
    if (!gif) return gif_failure(KIC_CORRUPT, code);
    header->width = (uint32_t)gif->SWidth;
    header->height = (uint32_t)gif->SHeight;
    // Whether the first frame uses transparency is known only once its extensions are read.
    header->has_alpha = 0;
    DGifCloseFile(gif, &code);
    return kic_ok();
}

/// Reads records up to the first image, remembering its transparent index.
static int gif_seek_first_image(GifFileType *gif, int *transparent_index) {
    *transparent_index = NO_TRANSPARENT_COLOR;
    for (;;) {
        GifRecordType record;
        if (DGifGetRecordType(gif, &record) == GIF_ERROR) return GIF_ERROR;
        if (record == IMAGE_DESC_RECORD_TYPE) return DGifGetImageDesc(gif);
        if (record == TERMINATE_RECORD_TYPE) {
            gif->Error = D_GIF_ERR_NO_IMAG_DSCR;
            return GIF_ERROR;
        }
        if (record != EXTENSION_RECORD_TYPE) continue;
        int function = 0;
        GifByteType *extension = NULL;
        if (DGifGetExtension(gif, &function, &extension) == GIF_ERROR) return GIF_ERROR;
        if (function == GRAPHICS_EXT_FUNC_CODE && extension) {
            GraphicsControlBlock control;
            if (DGifExtensionToGCB(extension[0], extension + 1, &control) == GIF_OK)
                *transparent_index = control.TransparentColor;
        }
        while (extension) {
            if (DGifGetExtensionNext(gif, &extension) == GIF_ERROR) return GIF_ERROR;
        }
    }
}

kic_result kic_gif_decode(const uint8_t *data, size_t count, kic_limits limits, uint8_t *rgb, size_t rgb_count) {
    kic_reader reader = {data, count, 0};
    int code = 0;
    GifFileType *gif = DGifOpen(&reader, gif_read_bytes, &code);
    if (!gif) return gif_failure(KIC_CORRUPT, code);
    kic_result result = kic_ok();
    GifByteType *line = NULL;
    uint32_t width = (uint32_t)gif->SWidth, height = (uint32_t)gif->SHeight;
    int transparent_index;
    if ((size_t)width * height * 3 != rgb_count) {
        result = kic_fail(KIC_FAILED, "output buffer does not match the %ux%u image", width, height);
        goto done;
    }
    if (gif_seek_first_image(gif, &transparent_index) == GIF_ERROR) {
        result = gif_failure(KIC_CORRUPT, gif->Error);
        goto done;
    }
    GifImageDesc frame = gif->Image;
    ColorMapObject *colors = frame.ColorMap ? frame.ColorMap : gif->SColorMap;
    // The frame's own size is checked too: giflib would otherwise trust a descriptor far larger
    // than the logical screen.
    if (frame.Width <= 0 || frame.Height <= 0 || (uint32_t)frame.Width > limits.max_side ||
        (uint32_t)frame.Height > limits.max_side || (uint64_t)frame.Width * (uint64_t)frame.Height > limits.max_pixels) {
        result = kic_fail(KIC_TOO_LARGE, "GIF frame of %dx%d is over the limits", frame.Width, frame.Height);
        goto done;
    }
    if (!colors) {
        result = kic_fail(KIC_CORRUPT, "GIF has no colour map");
        goto done;
    }
    // What the first frame does not cover is transparent, which lands on white.
    memset(rgb, 255, rgb_count);
    line = malloc((size_t)frame.Width);
    if (!line) {
        result = kic_fail(KIC_FAILED, "out of memory");
        goto done;
    }
    // Rows of an interlaced frame arrive in four passes.
    static const int pass_start[] = {0, 4, 2, 1}, pass_step[] = {8, 8, 4, 2};
    int passes = frame.Interlace ? 4 : 1;
    for (int pass = 0; pass < passes; pass++) {
        int start = frame.Interlace ? pass_start[pass] : 0, step = frame.Interlace ? pass_step[pass] : 1;
        for (int row = start; row < frame.Height; row += step) {
            if (DGifGetLine(gif, line, frame.Width) == GIF_ERROR) {
                result = gif_failure(KIC_CORRUPT, gif->Error);
                goto done;
            }
            int y = frame.Top + row;
            if (y < 0 || (uint32_t)y >= height) continue;
            for (int column = 0; column < frame.Width; column++) {
                int x = frame.Left + column;
                if (x < 0 || (uint32_t)x >= width || line[column] == transparent_index) continue;
                if (line[column] >= colors->ColorCount) continue;
                GifColorType color = colors->Colors[line[column]];
                uint8_t *pixel = rgb + ((size_t)y * width + (size_t)x) * 3;
                pixel[0] = color.Red;
                pixel[1] = color.Green;
                pixel[2] = color.Blue;
            }
        }
    }
done:
    free(line);
    DGifCloseFile(gif, &code);
    return result;
}

static int gif_write_bytes(GifFileType *gif, const GifByteType *bytes, int count) {
    return kic_buffer_append(gif->UserData, bytes, (size_t)count) ? count : 0;
}

kic_result kic_gif_encode(const uint8_t *indices, uint32_t width, uint32_t height, const uint8_t *palette,
                          int palette_size, kic_output *output) {
    if (width > 65535 || height > 65535) return kic_fail(KIC_TOO_LARGE, "GIF holds at most 65535 pixels a side");
    if (palette_size < 2 || palette_size > 256) return kic_fail(KIC_FAILED, "palette of %d colours", palette_size);
    // giflib wants a power-of-two table; the unused tail stays black.
    int table_size = 2;
    while (table_size < palette_size) table_size *= 2;
    ColorMapObject *colors = GifMakeMapObject(table_size, NULL);
    if (!colors) return kic_fail(KIC_FAILED, "out of memory");
    memset(colors->Colors, 0, sizeof(GifColorType) * (size_t)table_size);
    for (int i = 0; i < palette_size; i++) {
        colors->Colors[i].Red = palette[3 * i];
        colors->Colors[i].Green = palette[3 * i + 1];
        colors->Colors[i].Blue = palette[3 * i + 2];
    }
    kic_buffer buffer = {0};
    int code = 0;
    GifFileType *gif = EGifOpen(&buffer, gif_write_bytes, &code);
    if (!gif) {
        GifFreeMapObject(colors);
        return gif_failure(KIC_FAILED, code);
    }
    int ok = EGifPutScreenDesc(gif, (int)width, (int)height, table_size, 0, colors) == GIF_OK &&
             EGifPutImageDesc(gif, 0, 0, (int)width, (int)height, false, NULL) == GIF_OK;
    for (uint32_t y = 0; ok && y < height; y++)
        ok = EGifPutLine(gif, (GifPixelType *)(indices + (size_t)y * width), (int)width) == GIF_OK;
    int error = gif->Error;
    GifFreeMapObject(colors);
    if (EGifCloseFile(gif, &code) == GIF_ERROR && ok) {
        ok = 0;
        error = code;
    }
    if (!ok || buffer.failed) {
        free(buffer.bytes);
        return buffer.failed ? kic_fail(KIC_FAILED, "out of memory") : gif_failure(KIC_FAILED, error);
    }
    output->bytes = buffer.bytes;
    output->count = buffer.count;
    return kic_ok();
}

kic_result kic_gif_median_cut_palette(const uint8_t *rgb, uint32_t width, uint32_t height, uint8_t *palette,
                                      int *palette_size) {
    size_t pixels = (size_t)width * height;
    GifByteType *planes = malloc(pixels * 4);
    GifColorType *colors = malloc(sizeof(GifColorType) * 256);
    if (!planes || !colors) {
        free(planes);
        free(colors);
        return kic_fail(KIC_FAILED, "out of memory");
    }
    GifByteType *red = planes, *green = planes + pixels, *blue = planes + 2 * pixels, *indices = planes + 3 * pixels;
    for (size_t i = 0; i < pixels; i++) {
        red[i] = rgb[3 * i];
        green[i] = rgb[3 * i + 1];
        blue[i] = rgb[3 * i + 2];
    }
    int size = *palette_size;
    int status = GifQuantizeBuffer(width, height, &size, red, green, blue, indices, colors);
    if (status == GIF_OK) {
        for (int i = 0; i < size; i++) {
            palette[3 * i] = colors[i].Red;
            palette[3 * i + 1] = colors[i].Green;
            palette[3 * i + 2] = colors[i].Blue;
        }
        *palette_size = size;
    }
    free(planes);
    free(colors);
    return status == GIF_OK ? kic_ok() : kic_fail(KIC_FAILED, "palette quantisation failed");
}
