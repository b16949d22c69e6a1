/*
 * webseed_map.c — torrent byte ranges to web seed files and URLs (BEP 19,
 * BEP 47). Engine layer: pure, it reads only the metainfo it is given and
 * must not touch sockets, files or the clock.
 */
#include "engine/webseed_map.h"

#include <string.h>

#include "base/buf.h"
#include "codec/metainfo.h"

int
webseed_map_segment(const shoal_metainfo *m, uint64_t off, uint64_t end,
                    struct webseed_segment *seg)
{
    if (off >= end || end > m->total_size || m->file_count == 0)
        return SHOAL_EINVAL;
    /* The last file that starts at or before off. Empty files share their
     * offset with the file after them, so the one found holds a byte. */
    size_t lo = 0, hi = m->file_count;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->files[mid].offset <= off)
            lo = mid;
        else
            hi = mid;
    }
    const struct shoal_file *f = &m->files[lo];
    if (off < f->offset || off - f->offset >= f->size)
        return SHOAL_EINVAL;
    uint64_t file_end = f->offset + f->size;
    seg->file = lo;
    seg->file_off = off - f->offset;
    seg->len = (end < file_end ? end : file_end) - off;
    seg->pad = (f->attr & SHOAL_FILE_PAD) != 0;
    return 0;
}

/* RFC 3986 unreserved characters go as they are; every other byte is
 * percent-encoded, which every server decodes the same way. */
static void
append_encoded(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            buf_append_byte(b, c);
        } else {
            buf_append_byte(b, '%');
            buf_append_byte(b, (uint8_t)hex[c >> 4]);
            buf_append_byte(b, (uint8_t)hex[c & 15]);
        }
    }
}

int
webseed_map_url(const char *base, const shoal_metainfo *m, size_t file, char **out)
{
    *out = NULL;
    if (file >= m->file_count || !base[0])
        return SHOAL_EINVAL;
    size_t blen = strlen(base);
    int slash = base[blen - 1] == '/';
    struct buf b;
    buf_init(&b, WEBSEED_MAX_URL);
    buf_append(&b, base, blen);
    if (m->multifile || slash) {
        /* The file's path begins with the torrent's name (metainfo.h). */
        if (!slash)
            buf_append_byte(&b, '/');
        const char *p = m->files[file].path;
        for (;;) {
            const char *e = strchr(p, '/');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            append_encoded(&b, p, n);
            if (!e)
                break;
            buf_append_byte(&b, '/');
            p = e + 1;
        }
    }
    int rc = buf_error(&b);
    if (!rc) {
        *out = (char *)buf_steal(&b, NULL);
        rc = *out ? 0 : SHOAL_ENOMEM;
    }
    buf_cleanup(&b);
    return rc;
}
