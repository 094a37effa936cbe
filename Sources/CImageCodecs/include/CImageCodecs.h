#ifndef CIMAGECODECS_H
#define CIMAGECODECS_H
#include <stddef.h>
#include <stdint.h>

/// Library version marker (placeholder until the decoders land).
int cimagecodecs_version(void);

#endif
