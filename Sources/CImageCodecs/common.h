// Helpers shared by the codec files (not part of the public interface).
#ifndef KONTEXT_IMAGE_CODECS_COMMON_H
#define KONTEXT_IMAGE_CODECS_COMMON_H

#include "image_codecs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline kic_result kic_ok(void) {
    kic_result result;
    result.status = KIC_OK;
    result.message[0] = 0;
    return result;
}

__attribute__((format(printf, 2, 3)))
static inline kic_result kic_fail(kic_status status, const char *format, ...) {
    kic_result result;
    result.status = status;
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(result.message, sizeof result.message, format, arguments);
    va_end(arguments);
    return result;
}

/// A growable byte buffer for encoders that write through a callback.
typedef struct {
    uint8_t *bytes;
    size_t count;
    size_t capacity;
    int failed;
} kic_buffer;

static inline int kic_buffer_append(kic_buffer *buffer, const uint8_t *bytes, size_t count) {
    if (buffer->failed) return 0;
    if (buffer->count + count > buffer->capacity) {
        size_t capacity = buffer->capacity ? buffer->capacity : 65536;
        while (capacity < buffer->count + count) capacity *= 2;
        uint8_t *grown = realloc(buffer->bytes, capacity);
        if (!grown) {
            buffer->failed = 1;
            return 0;
        }
        buffer->bytes = grown;
        buffer->capacity = capacity;
    }
    memcpy(buffer->bytes + buffer->count, bytes, count);
    buffer->count += count;
    return 1;
}

/// Reads sequentially from a caller-owned byte range.
typedef struct {
    const uint8_t *bytes;
    size_t count;
    size_t offset;
} kic_reader;

static inline size_t kic_reader_read(kic_reader *reader, uint8_t *destination, size_t count) {
    size_t available = reader->count - reader->offset;
    size_t taken = count < available ? count : available;
    memcpy(destination, reader->bytes + reader->offset, taken);
    reader->offset += taken;
    return taken;
}

#endif
