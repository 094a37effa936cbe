#ifndef CJPEGWRITER_H
#define CJPEGWRITER_H
// A grey baseline JPEG writer on libjpeg, for the benchmarks' synthetic input files (the engine
// itself only decodes JPEG). libjpeg reports errors with longjmp, which stays inside this C frame.

#include <stddef.h>
#include <stdint.h>

/// Writes `width * height` grey bytes (row-major) to `path` as a baseline JPEG of `quality`
/// (1-100). Returns 0 on success; otherwise nonzero with a message in `message`.
int bench_write_gray_jpeg(const char *path, const uint8_t *pixels, int32_t width, int32_t height,
                          int32_t quality, char *message, size_t message_capacity);

#endif
