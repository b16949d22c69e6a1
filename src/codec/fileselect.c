/*
 * fileselect.c — reads a file selection ("0,2,5-7") against a torrent's
 * file count. Codec layer: pure, so that a program can check --only before
 * it creates anything, with the same rules the session applies.
 */
#include "codec/fileselect.h"

#include <string.h>

#include "base/util.h"
#include "codec/metainfo.h"

/* Says how the files are numbered, for an index out of range. */
static int
out_of_range(struct shoal_perr *err, size_t off, size_t nfiles)
{
    if (nfiles == 1)
        return perr_failf(err, off, SHOAL_EINVAL, "file index out of range",
                          "the torrent has 1 file, numbered 0");
    return perr_failf(err, off, SHOAL_EINVAL, "file index out of range",
                      "the torrent has %zu files, numbered 0-%zu", nfiles, nfiles - 1);
}

int
fileselect_parse(const char *only, size_t nfiles, uint8_t *want, struct shoal_perr *err)
{
    const char *s = only;
    if (!*s)
        return perr_failf(err, 0, SHOAL_EINVAL, "empty file selection",
                          "expected file indices like 0,2,5-7");
    while (*s) {
        const char *e = s;
        while (*e && *e != ',')
            e++;
        const char *dash = memchr(s, '-', (size_t)(e - s));
        uint64_t a, b;
        int bad = dash ? parse_u64(s, (size_t)(dash - s), &a) ||
                             parse_u64(dash + 1, (size_t)(e - dash - 1), &b)
                       : parse_u64(s, (size_t)(e - s), &a);
        if (!dash)
            b = a;
        size_t off = (size_t)(s - only);
        if (bad || a > b)
            return perr_failf(err, off, SHOAL_EINVAL, "malformed file selection",
                              "expected file indices like 0,2,5-7");
        if (b >= nfiles)
            return out_of_range(err, off, nfiles);
        if (want)
            memset(want + a, 1, (size_t)(b - a + 1));
        s = *e ? e + 1 : e;
    }
    return 0;
}

int
shoal_metainfo_check_selection(const shoal_metainfo *m, const char *only,
                               struct shoal_perr *err)
{
    if (!m || !only)
        return SHOAL_EINVAL;
    return fileselect_parse(only, m->file_count, NULL, err);
}
