/*
 * buf.h — a growable byte buffer with a hard size cap. Base layer.
 *
 * Every buffer that grows from outside input has a cap, so a hostile peer or
 * file cannot make it grow without bound. Errors are sticky: after a failed
 * append every later append does nothing and buf_error() reports the first
 * failure, so encoders can append freely and check once at the end.
 */
#ifndef SHOAL_BUF_H
#define SHOAL_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
    uint8_t *data;
    size_t len;
    size_t cap; /* bytes allocated */
    size_t max; /* hard limit on len */
    int err;    /* first error (negative SHOAL_E*), or 0 */
};

/* Initializes an empty buffer that may grow to `max` bytes. */
void buf_init(struct buf *b, size_t max);
void buf_cleanup(struct buf *b);
/* Empties the buffer (keeps its memory) and clears the error. */
void buf_reset(struct buf *b);

int buf_reserve(struct buf *b, size_t more);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_append_byte(struct buf *b, uint8_t c);
/* printf-style append. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Returns the first error, or 0. */
static inline int
buf_error(const struct buf *b)
{
    return b->err;
}

/*
 * Hands the contents to the caller as a NUL-terminated heap block (free with
 * xfree) and leaves the buffer empty. Returns NULL on a sticky error or when
 * out of memory.
 */
uint8_t *buf_steal(struct buf *b, size_t *len);

#endif
