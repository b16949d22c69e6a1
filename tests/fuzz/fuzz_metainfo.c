/*
 * fuzz_metainfo.c — libFuzzer target for torrent parsing. A parsed torrent
 * must satisfy the path-safety rules and the size invariants, whatever the
 * input, and producing its magnet link must work.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shoal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_path(const char *p)
{
    if (p[0] == '/' || p[0] == '\0' || strstr(p, "//") || strchr(p, '\\'))
        abort();
    /* No component may be "." or "..". */
    for (const char *c = p; c; c = strchr(c, '/')) {
        if (*c == '/')
            c++;
        if ((c[0] == '.' && (c[1] == '/' || c[1] == '\0')) ||
            (c[0] == '.' && c[1] == '.' && (c[2] == '/' || c[2] == '\0')))
            abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    shoal_metainfo *m = NULL;
    struct shoal_perr err;
    int rc = shoal_metainfo_parse(data, size, &m, &err);
    if (rc != 0) {
        if (m != NULL || shoal_perr_text(&err) == NULL)
            abort();
        return 0;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < shoal_metainfo_file_count(m); i++) {
        const struct shoal_file *f = shoal_metainfo_file(m, i);
        check_path(f->path);
        if (f->symlink)
            check_path(f->symlink);
        if (f->offset != total)
            abort();
        total += f->size;
    }
    uint64_t plen = shoal_metainfo_piece_length(m);
    if (total != shoal_metainfo_total_size(m) || total == 0 || plen == 0 ||
        (total + plen - 1) / plen != shoal_metainfo_piece_count(m))
        abort();
    check_path(shoal_metainfo_name(m));
    char *magnet = shoal_metainfo_magnet(m);
    shoal_free(magnet);
    shoal_metainfo_free(m);
    return 0;
}
