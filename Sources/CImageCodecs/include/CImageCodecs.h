#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H
// C shims around libjpeg(-turbo) and libpng.
//
// Both libraries report fatal errors through setjmp/longjmp. A longjmp must never unwind Swift frames,
// so every codec call happens inside one of the functions below: each installs its own error handler,
// keeps its jmp_buf local to its own C frame, and reports failure as a status code plus message.
// Warnings are never printed; JPEG warnings are counted and the first one is kept.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Status codes returned by every shim function.
typedef enum {
    CIC_OK = 0,
    /// The codec rejected the data (corrupt, truncated, unsupported feature); `message` says why.
    CIC_ERR_CODEC = 1,
    /// The header announces more pixels than the caller's limit; nothing was allocated for pixels.
    CIC_ERR_TOO_LARGE = 2,
    /// A buffer could not be allocated.
    CIC_ERR_NO_MEMORY = 3,
    /// Invalid argument to the shim itself (null pointer, zero size).
    CIC_ERR_ARGUMENT = 4,
} cic_status;

enum { CIC_MESSAGE_CAPACITY = 256 };

/// Result of a decode. All buffers are allocated with malloc and released with
/// `cic_image_result_free`.
typedef struct {
    /// `width * height * channels` bytes, row-major, channels interleaved (RGB order), or NULL on failure.
    uint8_t *pixels;
    int32_t width;
    int32_t height;
    /// 1 (gray) or 3 (RGB), as requested.
    int32_t channels;
    /// Raw TIFF-structured EXIF payload (starting at the byte-order mark, i.e. after "Exif\0\0"
    /// for JPEG), or NULL when the file carries none.
    uint8_t *exif;
    size_t exif_size;
    /// Number of recoverable problems the codec reported (libjpeg warnings such as
    /// "Corrupt JPEG data" or "Premature end of JPEG file").
    int32_t warning_count;
    /// The first warning's text, empty when `warning_count == 0`.
    char first_warning[CIC_MESSAGE_CAPACITY];
    /// Error text when the status is not CIC_OK.
    char message[CIC_MESSAGE_CAPACITY];
    /// Header information, filled in as soon as the header was read (even when decoding then fails).
    int32_t header_width;
    int32_t header_height;
    /// JPEG: number of colour components; PNG: colour type.
    int32_t header_components;
    /// PNG bit depth (JPEG: 8).
    int32_t header_bit_depth;
} cic_image_result;

/// Decodes a JPEG to 8-bit gray (`channels` 1) or RGB (`channels` 3) the way OpenCV's JPEG decoder
/// does for IMREAD_GRAYSCALE / IMREAD_COLOR: libjpeg's JCS_GRAYSCALE or colour output for 1- and
/// 3-component files, and CMYK output folded with K as OpenCV 5 does for 4-component (CMYK/YCCK)
/// files (gray: then BT.601 fixed-point weights). Images with more than `max_pixels` pixels are
/// refused after the header is read, before any pixel buffer is allocated.
cic_status cic_decode_jpeg(const uint8_t *data, size_t size, uint64_t max_pixels, int32_t channels, cic_image_result *result);

/// Decodes a PNG to 8-bit gray (`channels` 1) or RGB (`channels` 3) with the libpng transformations
/// OpenCV's PNG decoder requests (strip 16 to 8 bits, strip alpha, palette to RGB, expand low bit
/// depths; gray: libpng's rgb_to_gray with weights 0.299/0.587; RGB: gray_to_rgb for gray files).
cic_status cic_decode_png(const uint8_t *data, size_t size, uint64_t max_pixels, int32_t channels, cic_image_result *result);

/// Releases the buffers of a result (safe on a zeroed or partially filled result).
void cic_image_result_free(cic_image_result *result);

/// Output buffer of the encoders; release with `cic_buffer_free`.
typedef struct {
    uint8_t *data;
    size_t size;
    size_t capacity;
    char message[CIC_MESSAGE_CAPACITY];
} cic_buffer;

/// Encodes 8-bit pixels as a PNG. `channels` is 1 (gray) or 3 (RGB); rows are tightly packed.
cic_status cic_encode_png(const uint8_t *pixels, int32_t width, int32_t height, int32_t channels, cic_buffer *output);

/// Encodes 8-bit pixels as a baseline JPEG (4:2:0 chroma subsampling for RGB) at `quality`
/// (1...100, libjpeg's scale). `channels` is 1 (gray) or 3 (RGB); rows are tightly packed.
cic_status cic_encode_jpeg(const uint8_t *pixels, int32_t width, int32_t height, int32_t channels, int32_t quality, cic_buffer *output);

void cic_buffer_free(cic_buffer *buffer);

#ifdef __cplusplus
}
#endif

#endif
