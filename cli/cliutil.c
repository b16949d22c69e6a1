/*
 * cliutil.c — small helpers shared by the subcommands: sizes and rates in
 * human units, and reading sizes, rates, numbers, durations and flags back
 * from the command line and the config file. CLI layer.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd.h"
#include "shoal.h"

void
cli_human_size(uint64_t n, char *out, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)n;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, len, "%" PRIu64 " B", n);
    else if (v == (double)(uint64_t)v)
        snprintf(out, len, "%" PRIu64 " %s", (uint64_t)v, units[u]);
    else
        snprintf(out, len, "%.2f %s", v, units[u]);
}

/* Reads the digits at *s (at most 19, so no overflow) into *out. */
static int
digits(const char **s, uint64_t *out, int *count)
{
    uint64_t v = 0;
    int n = 0;
    while (**s >= '0' && **s <= '9') {
        if (n == 19)
            return -1;
        v = v * 10 + (uint64_t)(**s - '0');
        (*s)++;
        n++;
    }
    *out = v;
    *count = n;
    return 0;
}

int
cli_parse_size(const char *s, uint64_t *out)
{
    uint64_t whole, frac = 0, scale = 1;
    int n, nfrac = 0;
    if (digits(&s, &whole, &n) != 0 || n == 0)
        return -1;
    if (*s == '.') {
        s++;
        if (digits(&s, &frac, &nfrac) != 0 || nfrac == 0 || nfrac > 9)
            return -1;
        for (int i = 0; i < nfrac; i++)
            scale *= 10;
    }
    unsigned shift = 0;
    switch (*s) {
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    case 't':
    case 'T':
        shift = 40;
        break;
    default:
        break;
    }
    if (shift) {
        s++;
        if (!strcmp(s, "iB") || !strcmp(s, "B") || !strcmp(s, "/s") ||
            !strcmp(s, "B/s") || !strcmp(s, "iB/s"))
            s += strlen(s);
    } else if (nfrac) {
        return -1; /* a fraction of a byte */
    } else if (!strcmp(s, "B") || !strcmp(s, "/s") || !strcmp(s, "B/s")) {
        s += strlen(s);
    }
    if (*s || whole > (UINT64_MAX >> shift))
        return -1;
    /* frac / scale of a unit, in whole bytes (rounded down). frac < 2^30,
     * so frac << 20 fits; past MiB the rest of the shift comes after the
     * division, which keeps a KiB's precision for G and T. */
    uint64_t part =
        shift > 20 ? ((frac << 20) / scale) << (shift - 20) : (frac << shift) / scale;
    uint64_t v = whole << shift;
    if (v + part < v)
        return -1;
    *out = v + part;
    return 0;
}

int
cli_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v;
    int n;
    if (digits(&s, &v, &n) != 0 || n == 0 || *s || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int
cli_parse_duration(const char *s, uint64_t *out)
{
    static const struct {
        char unit;
        uint64_t secs;
    } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
    uint64_t total = 0;
    int parts = 0;
    if (!*s)
        return -1;
    while (*s) {
        uint64_t v;
        int n;
        if (digits(&s, &v, &n) != 0 || n == 0 || v > UINT32_MAX)
            return -1;
        uint64_t mul = 0;
        if (!*s && parts == 0) {
            mul = 1; /* a bare number is seconds */
        } else {
            for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
                if (*s == units[i].unit)
                    mul = units[i].secs;
            if (!mul)
                return -1;
            s++;
        }
        total += v * mul;
        parts++;
    }
    *out = total;
    return 0;
}

int
cli_parse_bool(const char *s)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i]))
            return 1;
        if (!strcasecmp(s, no[i]))
            return 0;
    }
    return -1;
}

int
cli_torrent_name(const char *path, char *out, size_t size)
{
    char name[PATH_MAX];
    if (shoal_create_name(path, name, sizeof(name)) != 0)
        return -1;
    int n = snprintf(out, size, "%s.torrent", name);
    return n > 0 && (size_t)n < size ? 0 : -1;
}
