// WebP through libwebp: lossy, lossless, with or without alpha. Animated files are refused.
#include "common.h"

#include <webp/decode.h>
#include <webp/encode.h>

static const char *webp_status_text(VP8StatusCode status) {
    switch (status) {
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "corrupt bitstream";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "file is truncated";
    default: return "decoding failed";
    }
}

static kic_result webp_features(const uint8_t *data, size_t count, WebPBitstreamFeatures *features) {
    VP8StatusCode status = WebPGetFeatures(data, count, features);
    if (status != VP8_STATUS_OK) return kic_fail(KIC_CORRUPT, "%s", webp_status_text(status));
    if (features->has_animation) return kic_fail(KIC_UNSUPPORTED, "animated WebP is not supported");
    return kic_ok();
}

kic_result kic_webp_read_header(const uint8_t *data, size_t count, kic_header *header) {
    WebPBitstreamFeatures features;
    kic_result result = webp_features(data, count, &features);
    if (result.status != KIC_OK) return result;
    header->width = (uint32_t)features.width;
    header->height = (uint32_t)features.height;
    header->has_alpha = features.has_alpha;
    return kic_ok();
}

kic_result kic_webp_decode(const uint8_t *data, size_t count, uint8_t *rgb, size_t rgb_count) {
    WebPBitstreamFeatures features;
    kic_result result = webp_features(data, count, &features);
    if (result.status != KIC_OK) return result;
    size_t pixels = (size_t)features.width * (size_t)features.height;
    if (pixels * 3 != rgb_count) return kic_fail(KIC_FAILED, "output buffer does not match the image");
    if (!features.has_alpha) {
        if (!WebPDecodeRGBInto(data, count, rgb, rgb_count, features.width * 3))
            return kic_fail(KIC_CORRUPT, "corrupt or truncated WebP data");
        return kic_ok();
    }
    uint8_t *rgba = malloc(pixels * 4);
    if (!rgba) return kic_fail(KIC_FAILED, "out of memory");
    if (!WebPDecodeRGBAInto(data, count, rgba, pixels * 4, features.width * 4)) {
        free(rgba);
        return kic_fail(KIC_CORRUPT, "corrupt or truncated WebP data");
    }
    kic_composite_over_white(rgba, rgb, pixels);
    free(rgba);
    return kic_ok();
}

kic_result kic_webp_encode(const uint8_t *rgb, uint32_t width, uint32_t height, int quality, kic_output *output) {
    if (width > WEBP_MAX_DIMENSION || height > WEBP_MAX_DIMENSION)
        return kic_fail(KIC_TOO_LARGE, "WebP holds at most %d pixels a side", WEBP_MAX_DIMENSION);
    uint8_t *bytes = NULL;
    size_t count = quality >= 100 ? WebPEncodeLosslessRGB(rgb, (int)width, (int)height, (int)width * 3, &bytes)
                                  : WebPEncodeRGB(rgb, (int)width, (int)height, (int)width * 3, (float)quality, &bytes);
    if (count == 0) {
        WebPFree(bytes);
        return kic_fail(KIC_FAILED, "WebP encoding failed");
    }
    // Hand the caller memory it can release with free(), like the other encoders.
    output->bytes = malloc(count);
    if (!output->bytes) {
        WebPFree(bytes);
        return kic_fail(KIC_FAILED, "out of memory");
    }
    memcpy(output->bytes, bytes, count);
    output->count = count;
    WebPFree(bytes);
    return kic_ok();
}
