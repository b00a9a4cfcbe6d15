// C side of the ImageCodecs target: thin calls into libpng, libjpeg-turbo, libwebp, giflib and
// libavif. It exists because libpng and libjpeg report errors by longjmp, which Swift cannot
// catch; every function here catches them and returns a status with a message instead.
//
// Decoding is split in two: `kic_*_read_header` reads only the header (no pixel memory), so the
// caller can apply its size limits first; `kic_*_decode` then writes RGB8 rows into a buffer the
// caller owns, with any alpha composited over white.
#ifndef KONTEXT_IMAGE_CODECS_H
#define KONTEXT_IMAGE_CODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    KIC_OK = 0,
    /// The bytes are not a valid file of the format (truncated, corrupt, inconsistent).
    KIC_CORRUPT = 1,
    /// A valid file using a feature this build does not decode (e.g. an animated WebP).
    KIC_UNSUPPORTED = 2,
    /// The image exceeds a limit the caller set.
    KIC_TOO_LARGE = 3,
    /// The encoder failed or ran out of memory.
    KIC_FAILED = 4,
} kic_status;

/// A status with the library's own message.
typedef struct {
    kic_status status;
    char message[200];
} kic_result;

typedef struct {
    uint32_t width;
    uint32_t height;
    /// Non-zero when the image carries transparency that decoding composites over white.
    int32_t has_alpha;
} kic_header;

/// Caller-chosen bounds that the libraries enforce themselves as well, as a second line of defence.
typedef struct {
    uint32_t max_side;
    uint64_t max_pixels;
} kic_limits;

/// Bytes produced by an encoder; release with `kic_free_output`.
typedef struct {
    uint8_t *bytes;
    size_t count;
} kic_output;

void kic_free_output(kic_output *output);

kic_result kic_png_read_header(const uint8_t *data, size_t count, kic_limits limits, kic_header *header);
kic_result kic_png_decode(const uint8_t *data, size_t count, kic_limits limits, uint8_t *rgb, size_t rgb_count);
/// `compression_level` 0..9 (zlib).
kic_result kic_png_encode(const uint8_t *rgb, uint32_t width, uint32_t height, int compression_level, kic_output *output);

kic_result kic_jpeg_read_header(const uint8_t *data, size_t count, kic_header *header);
/// `max_scans` bounds the work a progressive file can ask for (a scan bomb costs no memory but
/// unbounded time).
kic_result kic_jpeg_decode(const uint8_t *data, size_t count, uint32_t max_scans, uint8_t *rgb, size_t rgb_count);
/// `quality` 0..100, chroma subsampled 4:2:0 below 90 and 4:4:4 from 90 up.
kic_result kic_jpeg_encode(const uint8_t *rgb, uint32_t width, uint32_t height, int quality, kic_output *output);

kic_result kic_webp_read_header(const uint8_t *data, size_t count, kic_header *header);
kic_result kic_webp_decode(const uint8_t *data, size_t count, uint8_t *rgb, size_t rgb_count);
/// `quality` 0..100 (lossy); 100 switches to lossless.
kic_result kic_webp_encode(const uint8_t *rgb, uint32_t width, uint32_t height, int quality, kic_output *output);

/// GIF: the first frame only, drawn on the logical screen.
kic_result kic_gif_read_header(const uint8_t *data, size_t count, kic_header *header);
kic_result kic_gif_decode(const uint8_t *data, size_t count, kic_limits limits, uint8_t *rgb, size_t rgb_count);
/// Writes one frame from an indexed image: `indices` (width*height) into `palette` (RGB triples,
/// `palette_size` entries, 2..256).
kic_result kic_gif_encode(const uint8_t *indices, uint32_t width, uint32_t height, const uint8_t *palette,
                          int palette_size, kic_output *output);
/// Median-cut palette (giflib's quantizer) of at most `*palette_size` colours for an RGB8 image;
/// on return `*palette_size` holds the number of entries written to `palette` (RGB triples).
kic_result kic_gif_median_cut_palette(const uint8_t *rgb, uint32_t width, uint32_t height, uint8_t *palette,
                                      int *palette_size);

kic_result kic_avif_read_header(const uint8_t *data, size_t count, kic_limits limits, kic_header *header);
kic_result kic_avif_decode(const uint8_t *data, size_t count, kic_limits limits, uint8_t *rgb, size_t rgb_count);
/// `quality` 0..100 mapped onto the AV1 quantizer (100 = lossless-grade 4:4:4); `speed` 0..10.
kic_result kic_avif_encode(const uint8_t *rgb, uint32_t width, uint32_t height, int quality, int speed,
                           int threads, kic_output *output);

/// The versions of the libraries in use ("libpng 1.6.39, libjpeg-turbo 2.1.5, ..."), for diagnostics.
void kic_library_versions(char *text, size_t size);

/// Composites `count` RGBA8 pixels over white into RGB8, as Pillow's paste over a white canvas.
void kic_composite_over_white(const uint8_t *rgba, uint8_t *rgb, size_t count);

#ifdef __cplusplus
}
#endif

#endif
