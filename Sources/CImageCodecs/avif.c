// AVIF through libavif (dav1d or aom to decode, aom to encode), the first image of a file.
#include "common.h"

#include <avif/avif.h>

static avifDecoder *avif_open(const uint8_t *data, size_t count, kic_limits limits, kic_result *result) {
    avifDecoder *decoder = avifDecoderCreate();
    if (!decoder) {
        *result = kic_fail(KIC_FAILED, "out of memory");
        return NULL;
    }
    decoder->imageDimensionLimit = limits.max_side;
    decoder->imageSizeLimit = limits.max_pixels > UINT32_MAX ? UINT32_MAX : (uint32_t)limits.max_pixels;
    decoder->ignoreExif = AVIF_TRUE;
    decoder->ignoreXMP = AVIF_TRUE;
    avifResult status = avifDecoderSetIOMemory(decoder, data, count);
    if (status == AVIF_RESULT_OK) status = avifDecoderParse(decoder);
    if (status != AVIF_RESULT_OK) {
        *result = kic_fail(KIC_CORRUPT, "%s", avifResultToString(status));
        avifDecoderDestroy(decoder);
        return NULL;
    }
    *result = kic_ok();
    return decoder;
}

kic_result kic_avif_read_header(const uint8_t *data, size_t count, kic_limits limits, kic_header *header) {
    kic_result result;
    avifDecoder *decoder = avif_open(data, count, limits, &result);
    if (!decoder) return result;
    header->width = decoder->image->width;
    header->height = decoder->image->height;
    header->has_alpha = decoder->alphaPresent;
    avifDecoderDestroy(decoder);
    return kic_ok();
}

kic_result kic_avif_decode(const uint8_t *data, size_t count, kic_limits limits, uint8_t *rgb, size_t rgb_count) {
    kic_result result;
    avifDecoder *decoder = avif_open(data, count, limits, &result);
    if (!decoder) return result;
    uint8_t *rgba = NULL;
    avifResult status = avifDecoderNextImage(decoder);
    if (status != AVIF_RESULT_OK) {
        result = kic_fail(KIC_CORRUPT, "%s", avifResultToString(status));
        goto done;
    }
    avifImage *image = decoder->image;
    size_t pixels = (size_t)image->width * image->height;
    if (pixels * 3 != rgb_count) {
        result = kic_fail(KIC_FAILED, "output buffer does not match the %ux%u image", image->width, image->height);
        goto done;
    }
    avifRGBImage converted;
    avifRGBImageSetDefaults(&converted, image);
    converted.depth = 8;
    if (decoder->alphaPresent) {
        rgba = malloc(pixels * 4);
        if (!rgba) {
            result = kic_fail(KIC_FAILED, "out of memory");
            goto done;
        }
        converted.format = AVIF_RGB_FORMAT_RGBA;
        converted.pixels = rgba;
        converted.rowBytes = image->width * 4;
    } else {
        converted.format = AVIF_RGB_FORMAT_RGB;
        converted.pixels = rgb;
        converted.rowBytes = image->width * 3;
    }
    status = avifImageYUVToRGB(image, &converted);
    if (status != AVIF_RESULT_OK) {
        result = kic_fail(KIC_CORRUPT, "%s", avifResultToString(status));
        goto done;
    }
    if (rgba) kic_composite_over_white(rgba, rgb, pixels);
done:
    free(rgba);
    avifDecoderDestroy(decoder);
    return result;
}

kic_result kic_avif_encode(const uint8_t *rgb, uint32_t width, uint32_t height, int quality, int speed,
                           int threads, kic_output *output) {
    // High quality keeps full-resolution chroma, as the JPEG encoder does.
    avifImage *image = avifImageCreate(width, height, 8, quality >= 90 ? AVIF_PIXEL_FORMAT_YUV444 : AVIF_PIXEL_FORMAT_YUV420);
    avifEncoder *encoder = avifEncoderCreate();
    avifRWData encoded = AVIF_DATA_EMPTY;
    kic_result result = kic_ok();
    if (!image || !encoder) {
        result = kic_fail(KIC_FAILED, "out of memory");
        goto done;
    }
    image->colorPrimaries = AVIF_COLOR_PRIMARIES_BT709;
    image->transferCharacteristics = AVIF_TRANSFER_CHARACTERISTICS_SRGB;
    image->matrixCoefficients = AVIF_MATRIX_COEFFICIENTS_BT601;
    image->yuvRange = AVIF_RANGE_FULL;
    avifRGBImage source;
    avifRGBImageSetDefaults(&source, image);
    source.format = AVIF_RGB_FORMAT_RGB;
    source.depth = 8;
    source.pixels = (uint8_t *)rgb;
    source.rowBytes = width * 3;
    avifResult status = avifImageRGBToYUV(image, &source);
    if (status == AVIF_RESULT_OK) {
        // libavif 1.x's documented quality scale: 100 is quantizer 0, 0 is 63.
        int quantizer = ((100 - quality) * AVIF_QUANTIZER_WORST_QUALITY + 50) / 100;
        encoder->minQuantizer = quantizer;
        encoder->maxQuantizer = quantizer;
        encoder->speed = speed;
        encoder->maxThreads = threads;
        status = avifEncoderWrite(encoder, image, &encoded);
    }
    if (status != AVIF_RESULT_OK) {
        result = kic_fail(KIC_FAILED, "%s", avifResultToString(status));
        goto done;
    }
    output->bytes = malloc(encoded.size);
    if (!output->bytes) {
        result = kic_fail(KIC_FAILED, "out of memory");
        goto done;
    }
    memcpy(output->bytes, encoded.data, encoded.size);
    output->count = encoded.size;
done:
    avifRWDataFree(&encoded);
    if (encoder) avifEncoderDestroy(encoder);
    if (image) avifImageDestroy(image);
    return result;
}
