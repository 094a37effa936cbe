#include "CJPEGWriter.h"

#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <jpeglib.h>

struct writer_error {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
};

static void writer_error_exit(j_common_ptr cinfo) {
    struct writer_error *error = (struct writer_error *)cinfo->err;
    longjmp(error->jump, 1);
}

int bench_write_gray_jpeg(const char *path, const uint8_t *pixels, int32_t width, int32_t height,
                          int32_t quality, char *message, size_t message_capacity) {
    if (message && message_capacity > 0) message[0] = 0;
    if (!path || !pixels || width <= 0 || height <= 0) {
        if (message && message_capacity > 0) snprintf(message, message_capacity, "invalid arguments");
        return 1;
    }
    FILE *file = fopen(path, "wb");
    if (!file) {
        if (message && message_capacity > 0) snprintf(message, message_capacity, "cannot create %s", path);
        return 1;
    }
    struct jpeg_compress_struct cinfo;
    struct writer_error error;
    cinfo.err = jpeg_std_error(&error.manager);
    error.manager.error_exit = writer_error_exit;
    if (setjmp(error.jump)) {
        if (message && message_capacity > 0) {
            char text[JMSG_LENGTH_MAX];
            (*cinfo.err->format_message)((j_common_ptr)&cinfo, text);
            snprintf(message, message_capacity, "%s", text);
        }
        jpeg_destroy_compress(&cinfo);
        fclose(file);
        return 1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_stdio_dest(&cinfo, file);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = 1;
    cinfo.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * (size_t)width);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    if (fclose(file) != 0) {
        if (message && message_capacity > 0) snprintf(message, message_capacity, "cannot write %s", path);
        return 1;
    }
    return 0;
}
