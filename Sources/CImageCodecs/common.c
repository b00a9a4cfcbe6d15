#include "common.h"

void kic_free_output(kic_output *output) {
    free(output->bytes);
    output->bytes = NULL;
    output->count = 0;
}

void kic_composite_over_white(const uint8_t *rgba, uint8_t *rgb, size_t count) {
    for (size_t i = 0; i < count; i++) {
        unsigned alpha = rgba[4 * i + 3];
        for (int channel = 0; channel < 3; channel++) {
            // Pillow's BLEND: round((c * a + 255 * (255 - a)) / 255) with its DIV255 trick.
            unsigned blended = rgba[4 * i + channel] * alpha + 255u * (255u - alpha) + 128u;
            rgb[3 * i + channel] = (uint8_t)(((blended >> 8) + blended) >> 8);
        }
    }
}
