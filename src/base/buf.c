/*
 * buf.c — growable byte buffer with a cap and a sticky error. Base layer.
 */
#include "base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "shoal.h"

void
buf_init(struct buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void
buf_cleanup(struct buf *b)
{
    xfree(b->data);
    memset(b, 0, sizeof(*b));
}

void
buf_reset(struct buf *b)
{
    b->len = 0;
    b->err = 0;
}

int
buf_reserve(struct buf *b, size_t more)
{
    if (b->err)
        return b->err;
    if (more > b->max - b->len) {
        b->err = SHOAL_ETOOBIG;
        return b->err;
    }
    /* +1 keeps room for the NUL that buf_steal() adds. */
    size_t need = b->len + more + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = xreallocarray(b->data, cap, 1);
    if (!p) {
        b->err = SHOAL_ENOMEM;
        return b->err;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int
buf_append_str(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int
buf_append_byte(struct buf *b, uint8_t c)
{
    return buf_append(b, &c, 1);
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        if (!b->err)
            b->err = SHOAL_EINVAL;
        return b->err;
    }
    int rc = buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

uint8_t *
buf_steal(struct buf *b, size_t *len)
{
    if (b->err || buf_reserve(b, 0))
        return NULL;
    b->data[b->len] = '\0';
    uint8_t *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
