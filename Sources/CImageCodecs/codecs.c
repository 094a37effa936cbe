// C shims around libjpeg(-turbo) and libpng; see include/CImageCodecs.h for the contract.
//
// Every jmp_buf lives in a context struct owned by the C function that called setjmp, and every
// codec call that may longjmp happens below that frame, so no longjmp ever crosses a Swift frame.
// Variables modified between setjmp and longjmp and read afterwards are volatile.

#include "CImageCodecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

static void cic_copy_message(char *destination, const char *text) {
    if (text == NULL) {
        destination[0] = 0;
        return;
    }
    snprintf(destination, CIC_MESSAGE_CAPACITY, "%s", text);
}

void cic_image_result_free(cic_image_result *result) {
    if (result == NULL) {
        return;
    }
    free(result->pixels);
    result->pixels = NULL;
    free(result->exif);
    result->exif = NULL;
    result->exif_size = 0;
}

static void cic_result_reset(cic_image_result *result) {
    memset(result, 0, sizeof(*result));
}

// MARK: - JPEG

// The error manager of the decoder and the encoder: `message` receives the fatal error's text;
// `result` (decoder only) counts warnings.
typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char *message;
    cic_image_result *result;
} cic_jpeg_error;

// Replaces libjpeg's error_exit, which would print and call exit().
static void cic_jpeg_error_exit(j_common_ptr cinfo) {
    cic_jpeg_error *error = (cic_jpeg_error *)cinfo->err;
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    cic_copy_message(error->message, text);
    longjmp(error->jump, 1);
}

// Replaces emit_message: warnings (level -1) are counted and the first is kept; trace messages
// (level >= 0) are dropped. Nothing is printed. Decoding goes on after a warning, as in OpenCV,
// whose error manager overrides only error_exit.
static void cic_jpeg_emit_message(j_common_ptr cinfo, int msg_level) {
    if (msg_level >= 0) {
        return;
    }
    cic_jpeg_error *error = (cic_jpeg_error *)cinfo->err;
    if (error->result->warning_count == 0) {
        char text[JMSG_LENGTH_MAX];
        (*cinfo->err->format_message)(cinfo, text);
        cic_copy_message(error->result->first_warning, text);
    }
    error->result->warning_count += 1;
    cinfo->err->num_warnings++;
}

static void cic_jpeg_output_message(j_common_ptr cinfo) {
    (void)cinfo;
}

// OpenCV's CMYK-to-BGR conversion for IMREAD_COLOR (icvCvt_CMYK2BGR_8u_C4C3R), written out in RGB
// order: each of C, M, Y is folded with K, giving R from C, G from M, B from Y.
static inline void cic_cmyk_to_rgb(const uint8_t *cmyk, uint8_t *rgb) {
    const int k = cmyk[3];
    for (int channel = 0; channel < 3; channel++) {
        rgb[channel] = (uint8_t)(k - ((255 - cmyk[channel]) * k >> 8));
    }
}

// OpenCV 5's CMYK-to-gray path: the CMYK samples are folded with K into B, G, R (the same fold as
// its CMYK-to-BGR conversion above), then weighted with the BT.601 14-bit
// fixed-point weights of cvtColor(BGR2GRAY). (OpenCV 4's icvCvt_CMYK2Gray weighted C with the blue
// weight instead; opencv-python 5.0.0 matches this version on the CMYK fixture.)
static inline uint8_t cic_cmyk_to_gray(const uint8_t *cmyk) {
    enum { kScaleBits = 14 };
    const int weightR = (int)(0.299 * (1 << kScaleBits) + 0.5);
    const int weightG = (int)(0.587 * (1 << kScaleBits) + 0.5);
    const int weightB = (1 << kScaleBits) - weightR - weightG;
    uint8_t rgb[3];
    cic_cmyk_to_rgb(cmyk, rgb);
    return (uint8_t)((weightR * rgb[0] + weightG * rgb[1] + weightB * rgb[2] + (1 << (kScaleBits - 1))) >> kScaleBits);
}

enum { CIC_JPEG_APP1 = JPEG_APP0 + 1 };

// Resets the result and checks the arguments every decoder shares.
static cic_status cic_decode_begin(const uint8_t *data, size_t size, int32_t channels, cic_image_result *result) {
    if (result == NULL) {
        return CIC_ERR_ARGUMENT;
    }
    cic_result_reset(result);
    if (data == NULL || size == 0) {
        cic_copy_message(result->message, "empty input");
        return CIC_ERR_ARGUMENT;
    }
    if (channels != 1 && channels != 3) {
        cic_copy_message(result->message, "channels must be 1 or 3");
        return CIC_ERR_ARGUMENT;
    }
    return CIC_OK;
}

cic_status cic_decode_jpeg(const uint8_t *data, size_t size, uint64_t max_pixels, int32_t channels, cic_image_result *result) {
    const cic_status argument_status = cic_decode_begin(data, size, channels, result);
    if (argument_status != CIC_OK) {
        return argument_status;
    }

    struct jpeg_decompress_struct cinfo;
    cic_jpeg_error error;
    memset(&cinfo, 0, sizeof(cinfo));
    cinfo.err = jpeg_std_error(&error.base);
    error.base.error_exit = cic_jpeg_error_exit;
    error.base.emit_message = cic_jpeg_emit_message;
    error.base.output_message = cic_jpeg_output_message;
    error.result = result;
    error.message = result->message;

    // Written after setjmp and needed on the error path.
    volatile cic_status status = CIC_ERR_CODEC;
    uint8_t *volatile pixels = NULL;
    uint8_t *volatile row = NULL;

    if (setjmp(error.jump) != 0) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        free(row);
        free(result->exif);
        result->exif = NULL;
        result->exif_size = 0;
        return status;
    }

    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_save_markers(&cinfo, CIC_JPEG_APP1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);

    result->header_width = (int32_t)cinfo.image_width;
    result->header_height = (int32_t)cinfo.image_height;
    result->header_components = cinfo.num_components;
    result->header_bit_depth = 8;

    const uint64_t pixel_count = (uint64_t)cinfo.image_width * (uint64_t)cinfo.image_height;
    if (cinfo.image_width == 0 || cinfo.image_height == 0) {
        cic_copy_message(result->message, "image has zero width or height");
        jpeg_destroy_decompress(&cinfo);
        return CIC_ERR_CODEC;
    }
    if (pixel_count > max_pixels) {
        snprintf(result->message, CIC_MESSAGE_CAPACITY, "%ux%u pixels exceed the limit of %llu pixels",
                 (unsigned)cinfo.image_width, (unsigned)cinfo.image_height, (unsigned long long)max_pixels);
        jpeg_destroy_decompress(&cinfo);
        return CIC_ERR_TOO_LARGE;
    }

    // The first APP1 segment that starts with the EXIF identifier carries the orientation.
    for (jpeg_saved_marker_ptr marker = cinfo.marker_list; marker != NULL; marker = marker->next) {
        if (marker->marker == CIC_JPEG_APP1 && marker->data_length > 6 &&
            memcmp(marker->data, "Exif\0\0", 6) == 0) {
            size_t exif_size = marker->data_length - 6;
            uint8_t *exif = malloc(exif_size);
            if (exif != NULL) {
                memcpy(exif, marker->data + 6, exif_size);
                result->exif = exif;
                result->exif_size = exif_size;
            }
            break;
        }
    }

    // OpenCV (grfmt_jpeg.cpp): libjpeg's own grayscale or colour output unless the file has four
    // components, which are read as CMYK and converted by OpenCV itself. For colour OpenCV asks
    // for JCS_EXT_BGR; JCS_EXT_RGB gives the same samples in the order wanted here.
    const int is_cmyk = cinfo.num_components == 4;
    if (is_cmyk) {
        cinfo.out_color_space = JCS_CMYK;
        cinfo.out_color_components = 4;
    } else if (channels == 3) {
        cinfo.out_color_space = JCS_EXT_RGB;
        cinfo.out_color_components = 3;
    } else {
        cinfo.out_color_space = JCS_GRAYSCALE;
        cinfo.out_color_components = 1;
    }

    jpeg_start_decompress(&cinfo);
    if (cinfo.output_width != cinfo.image_width || cinfo.output_height != cinfo.image_height ||
        cinfo.output_components != (is_cmyk ? 4 : channels)) {
        cic_copy_message(result->message, "unexpected libjpeg output geometry");
        jpeg_destroy_decompress(&cinfo);
        return CIC_ERR_CODEC;
    }

    const size_t width = cinfo.output_width;
    const size_t height = cinfo.output_height;
    const size_t stride = width * (size_t)channels;
    pixels = malloc(stride * height);
    if (is_cmyk) {
        row = malloc(width * 4);
    }
    if (pixels == NULL || (is_cmyk && row == NULL)) {
        status = CIC_ERR_NO_MEMORY;
        ERREXIT(&cinfo, JERR_OUT_OF_MEMORY);
    }

    while (cinfo.output_scanline < cinfo.output_height) {
        const size_t y = cinfo.output_scanline;
        JSAMPROW target = is_cmyk ? (JSAMPROW)row : (JSAMPROW)(pixels + y * stride);
        if (jpeg_read_scanlines(&cinfo, &target, 1) != 1) {
            // Only a suspending data source returns 0 rows; the memory source never suspends.
            cic_copy_message(result->message, "libjpeg returned no scanline");
            ERREXIT(&cinfo, JERR_INPUT_EOF);
        }
        if (is_cmyk) {
            uint8_t *out = pixels + y * stride;
            for (size_t x = 0; x < width; x++) {
                if (channels == 3) {
                    cic_cmyk_to_rgb(row + 4 * x, out + 3 * x);
                } else {
                    out[x] = cic_cmyk_to_gray(row + 4 * x);
                }
            }
        }
    }

    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    result->pixels = pixels;
    result->width = (int32_t)width;
    result->height = (int32_t)height;
    result->channels = channels;
    return CIC_OK;
}

// MARK: - PNG

typedef struct {
    jmp_buf jump;
    const uint8_t *data;
    size_t size;
    size_t position;
    cic_image_result *result;
    /// Set once created; its width bounds libpng's row buffers in cic_png_malloc.
    png_infop info;
} cic_png_reader;

// libpng allocates some chunks' data (eXIf) from the length in the chunk header before reading it,
// and png_set_chunk_malloc_max does not stop that in libpng 1.6.39: a 93-byte file claiming a
// 512 MiB eXIf chunk made it allocate 512 MiB (found by Tools/fuzz/libfuzzer.sh). No chunk can hold
// more than the file, and libpng's other buffers are rows (at most 8 bytes a pixel of the header's
// width), zlib state and small tables, so a larger single allocation is refused: libpng then
// reports it (a chunk is skipped and the read runs into the end of the file, or "out of memory").
static png_voidp cic_png_malloc(png_structp png, png_alloc_size_t size) {
    cic_png_reader *reader = (cic_png_reader *)png_get_mem_ptr(png);
    if (reader != NULL) {
        size_t width = reader->info != NULL ? (size_t)png_get_image_width(png, reader->info) : 0;
        size_t base = reader->size > ((size_t)1 << 20) ? reader->size : ((size_t)1 << 20);
        if (size > base + 16 * (width + 8) + ((size_t)1 << 16)) {
            return NULL;
        }
    }
    return malloc(size);
}

static void cic_png_free(png_structp png, png_voidp pointer) {
    (void)png;
    free(pointer);
}

static void cic_png_error(png_structp png, png_const_charp text) {
    cic_png_reader *reader = (cic_png_reader *)png_get_error_ptr(png);
    cic_copy_message(reader->result->message, text);
    longjmp(reader->jump, 1);
}

static void cic_png_warning(png_structp png, png_const_charp text) {
    cic_png_reader *reader = (cic_png_reader *)png_get_error_ptr(png);
    if (reader->result->warning_count == 0) {
        cic_copy_message(reader->result->first_warning, text);
    }
    reader->result->warning_count += 1;
}

static void cic_png_read(png_structp png, png_bytep out, png_size_t count) {
    cic_png_reader *reader = (cic_png_reader *)png_get_io_ptr(png);
    if (count > reader->size - reader->position) {
        png_error(png, "unexpected end of PNG data (file truncated)");
    }
    memcpy(out, reader->data + reader->position, count);
    reader->position += count;
}

cic_status cic_decode_png(const uint8_t *data, size_t size, uint64_t max_pixels, int32_t channels, cic_image_result *result) {
    const cic_status argument_status = cic_decode_begin(data, size, channels, result);
    if (argument_status != CIC_OK) {
        return argument_status;
    }

    cic_png_reader reader;
    memset(&reader, 0, sizeof(reader));
    reader.data = data;
    reader.size = size;
    reader.result = result;

    png_structp png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &reader, cic_png_error, cic_png_warning,
                                               &reader, cic_png_malloc, cic_png_free);
    if (png == NULL) {
        cic_copy_message(result->message, "png_create_read_struct failed");
        return CIC_ERR_NO_MEMORY;
    }
    png_infop info = png_create_info_struct(png);
    png_infop end_info = png_create_info_struct(png);
    if (info == NULL || end_info == NULL) {
        png_destroy_read_struct(&png, info ? &info : NULL, end_info ? &end_info : NULL);
        cic_copy_message(result->message, "png_create_info_struct failed");
        return CIC_ERR_NO_MEMORY;
    }
    reader.info = info;

    volatile cic_status status = CIC_ERR_CODEC;
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;

    if (setjmp(reader.jump) != 0) {
        png_destroy_read_struct(&png, &info, &end_info);
        free(pixels);
        free(rows);
        free(result->exif);
        result->exif = NULL;
        result->exif_size = 0;
        return status;
    }

    png_set_read_fn(png, &reader, cic_png_read);
    png_read_info(png, info);

    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, NULL, NULL, NULL);
    result->header_width = (int32_t)width;
    result->header_height = (int32_t)height;
    result->header_components = color_type;
    result->header_bit_depth = bit_depth;

    if ((uint64_t)width * (uint64_t)height > max_pixels) {
        snprintf(result->message, CIC_MESSAGE_CAPACITY, "%ux%u pixels exceed the limit of %llu pixels",
                 (unsigned)width, (unsigned)height, (unsigned long long)max_pixels);
        status = CIC_ERR_TOO_LARGE;
        longjmp(reader.jump, 1);
    }

    // The transformations OpenCV's PngDecoder::readData requests for a one- or three-channel 8-bit
    // target, in its order (for colour it adds png_set_bgr, left out here to keep RGB order).
    if (bit_depth == 16) {
        png_set_strip_16(png);
    }
    png_set_strip_alpha(png);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_set_palette_to_rgb(png);
    }
    if ((color_type & PNG_COLOR_MASK_COLOR) == 0 && bit_depth < 8) {
        png_set_expand_gray_1_2_4_to_8(png);
    }
    if (channels == 1) {
        png_set_rgb_to_gray(png, PNG_ERROR_ACTION_NONE, 0.299, 0.587);
    } else if ((color_type & PNG_COLOR_MASK_COLOR) == 0) {
        png_set_gray_to_rgb(png);
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    const size_t stride = (size_t)width * (size_t)channels;
    if (png_get_rowbytes(png, info) != stride || png_get_channels(png, info) != channels || png_get_bit_depth(png, info) != 8) {
        cic_copy_message(result->message, "libpng did not produce rows of 8-bit samples with the requested channels");
        longjmp(reader.jump, 1);
    }

    pixels = malloc(stride * (size_t)height);
    rows = malloc(sizeof(png_bytep) * (size_t)height);
    if (pixels == NULL || rows == NULL) {
        cic_copy_message(result->message, "out of memory for the pixel buffer");
        status = CIC_ERR_NO_MEMORY;
        longjmp(reader.jump, 1);
    }
    for (png_uint_32 y = 0; y < height; y++) {
        rows[y] = pixels + (size_t)y * stride;
    }
    png_read_image(png, rows);
    png_read_end(png, end_info);

#ifdef PNG_eXIf_SUPPORTED
    {
        png_uint_32 exif_size = 0;
        png_bytep exif = NULL;
        if (png_get_valid(png, info, PNG_INFO_eXIf)) {
            png_get_eXIf_1(png, info, &exif_size, &exif);
        } else if (png_get_valid(png, end_info, PNG_INFO_eXIf)) {
            png_get_eXIf_1(png, end_info, &exif_size, &exif);
        }
        if (exif != NULL && exif_size > 0) {
            uint8_t *copy = malloc(exif_size);
            if (copy != NULL) {
                memcpy(copy, exif, exif_size);
                result->exif = copy;
                result->exif_size = exif_size;
            }
        }
    }
#endif

    png_destroy_read_struct(&png, &info, &end_info);
    free(rows);
    result->pixels = pixels;
    result->width = (int32_t)width;
    result->height = (int32_t)height;
    result->channels = channels;
    return CIC_OK;
}

// MARK: - PNG encoding

typedef struct {
    jmp_buf jump;
    cic_buffer *output;
    int out_of_memory;
} cic_png_writer;

static void cic_png_write_error(png_structp png, png_const_charp text) {
    cic_png_writer *writer = (cic_png_writer *)png_get_error_ptr(png);
    cic_copy_message(writer->output->message, text);
    longjmp(writer->jump, 1);
}

static void cic_png_write_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;
}

// Appends `count` bytes to an encoder's output, doubling its capacity as needed; 0 when memory
// runs out (the buffer is then unchanged).
static int cic_buffer_append(cic_buffer *output, const uint8_t *bytes, size_t count) {
    if (count > output->capacity - output->size) {
        size_t capacity = output->capacity ? output->capacity : 4096;
        while (capacity - output->size < count) {
            if (capacity > SIZE_MAX / 2) {
                return 0;
            }
            capacity *= 2;
        }
        uint8_t *grown = realloc(output->data, capacity);
        if (grown == NULL) {
            return 0;
        }
        output->data = grown;
        output->capacity = capacity;
    }
    memcpy(output->data + output->size, bytes, count);
    output->size += count;
    return 1;
}

static void cic_png_write(png_structp png, png_bytep bytes, png_size_t count) {
    cic_png_writer *writer = (cic_png_writer *)png_get_io_ptr(png);
    if (!cic_buffer_append(writer->output, bytes, count)) {
        writer->out_of_memory = 1;
        png_error(png, "out of memory for the PNG output");
    }
}

static void cic_png_flush(png_structp png) {
    (void)png;
}

void cic_buffer_free(cic_buffer *buffer) {
    if (buffer == NULL) {
        return;
    }
    free(buffer->data);
    buffer->data = NULL;
    buffer->size = 0;
    buffer->capacity = 0;
}

cic_status cic_encode_png(const uint8_t *pixels, int32_t width, int32_t height, int32_t channels, cic_buffer *output) {
    if (output == NULL) {
        return CIC_ERR_ARGUMENT;
    }
    memset(output, 0, sizeof(*output));
    if (pixels == NULL || width <= 0 || height <= 0 || (channels != 1 && channels != 3)) {
        cic_copy_message(output->message, "invalid image geometry or channel count");
        return CIC_ERR_ARGUMENT;
    }

    cic_png_writer writer;
    memset(&writer, 0, sizeof(writer));
    writer.output = output;

    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &writer, cic_png_write_error, cic_png_write_warning);
    if (png == NULL) {
        cic_copy_message(output->message, "png_create_write_struct failed");
        return CIC_ERR_NO_MEMORY;
    }
    png_infop info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_write_struct(&png, NULL);
        cic_copy_message(output->message, "png_create_info_struct failed");
        return CIC_ERR_NO_MEMORY;
    }

    if (setjmp(writer.jump) != 0) {
        png_destroy_write_struct(&png, &info);
        cic_buffer_free(output);
        return writer.out_of_memory ? CIC_ERR_NO_MEMORY : CIC_ERR_CODEC;
    }

    png_set_write_fn(png, &writer, cic_png_write, cic_png_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    const size_t stride = (size_t)width * (size_t)channels;
    for (int32_t y = 0; y < height; y++) {
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * stride));
    }
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return CIC_OK;
}

// MARK: - JPEG encoding

enum { CIC_JPEG_CHUNK = 16384 };

typedef struct {
    struct jpeg_destination_mgr base;
    cic_buffer *output;
    int out_of_memory;
    JOCTET chunk[CIC_JPEG_CHUNK];
} cic_jpeg_destination;

static void cic_jpeg_init_destination(j_compress_ptr cinfo) {
    cic_jpeg_destination *destination = (cic_jpeg_destination *)cinfo->dest;
    destination->base.next_output_byte = destination->chunk;
    destination->base.free_in_buffer = CIC_JPEG_CHUNK;
}

// Called by libjpeg when the chunk is full: it must be emptied entirely.
static boolean cic_jpeg_empty_output_buffer(j_compress_ptr cinfo) {
    cic_jpeg_destination *destination = (cic_jpeg_destination *)cinfo->dest;
    if (!cic_buffer_append(destination->output, destination->chunk, CIC_JPEG_CHUNK)) {
        destination->out_of_memory = 1;
        ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 0);
    }
    cic_jpeg_init_destination(cinfo);
    return TRUE;
}

static void cic_jpeg_term_destination(j_compress_ptr cinfo) {
    cic_jpeg_destination *destination = (cic_jpeg_destination *)cinfo->dest;
    const size_t used = CIC_JPEG_CHUNK - destination->base.free_in_buffer;
    if (!cic_buffer_append(destination->output, destination->chunk, used)) {
        destination->out_of_memory = 1;
        ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 0);
    }
}

cic_status cic_encode_jpeg(const uint8_t *pixels, int32_t width, int32_t height, int32_t channels, int32_t quality, cic_buffer *output) {
    if (output == NULL) {
        return CIC_ERR_ARGUMENT;
    }
    memset(output, 0, sizeof(*output));
    if (pixels == NULL || width <= 0 || height <= 0 || width > JPEG_MAX_DIMENSION || height > JPEG_MAX_DIMENSION
        || (channels != 1 && channels != 3)) {
        cic_copy_message(output->message, "invalid image geometry or channel count (JPEG sides are at most 65500)");
        return CIC_ERR_ARGUMENT;
    }
    if (quality < 1 || quality > 100) {
        cic_copy_message(output->message, "JPEG quality must be in 1...100");
        return CIC_ERR_ARGUMENT;
    }

    struct jpeg_compress_struct cinfo;
    cic_jpeg_error error;
    // The destination (with its 16 KB chunk) is heap-allocated to keep this frame small.
    cic_jpeg_destination *volatile destination = calloc(1, sizeof(cic_jpeg_destination));
    if (destination == NULL) {
        cic_copy_message(output->message, "out of memory for the JPEG encoder");
        return CIC_ERR_NO_MEMORY;
    }
    destination->output = output;
    cinfo.err = jpeg_std_error(&error.base);
    error.base.error_exit = cic_jpeg_error_exit;
    error.base.output_message = cic_jpeg_output_message;
    error.message = output->message;
    error.result = NULL;
    if (setjmp(error.jump) != 0) {
        const int out_of_memory = destination->out_of_memory;
        jpeg_destroy_compress(&cinfo);
        free(destination);
        cic_buffer_free(output);
        return out_of_memory ? CIC_ERR_NO_MEMORY : CIC_ERR_CODEC;
    }
    jpeg_create_compress(&cinfo);
    destination->base.init_destination = cic_jpeg_init_destination;
    destination->base.empty_output_buffer = cic_jpeg_empty_output_buffer;
    destination->base.term_destination = cic_jpeg_term_destination;
    cinfo.dest = &destination->base;
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    const size_t stride = (size_t)width * (size_t)channels;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * stride);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    free(destination);
    return CIC_OK;
}
