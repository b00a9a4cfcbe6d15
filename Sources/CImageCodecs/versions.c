#include "common.h"

#include <avif/avif.h>
#include <gif_lib.h>
#include <jpeglib.h>
#include <png.h>
#include <webp/decode.h>

#define KIC_STRING(x) #x
#define KIC_EXPAND(x) KIC_STRING(x)

void kic_library_versions(char *text, size_t size) {
    int webp = WebPGetDecoderVersion();
    char av1[256];
    avifCodecVersions(av1);
    snprintf(text, size, "libpng %s, libjpeg-turbo %s, libwebp %d.%d.%d, giflib %d.%d.%d, libavif %s (%s)",
             png_get_libpng_ver(NULL), KIC_EXPAND(LIBJPEG_TURBO_VERSION), webp >> 16, (webp >> 8) & 0xFF, webp & 0xFF,
             GIFLIB_MAJOR, GIFLIB_MINOR, GIFLIB_RELEASE, avifVersion(), av1);
}
