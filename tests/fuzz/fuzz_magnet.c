/*
 * fuzz_magnet.c — libFuzzer target for the magnet link codec.
 *
 * Any input must parse or fail cleanly (no crash, no leak, a reason on
 * failure). A link that parses must survive format and parse again with
 * everything it held, and formatting must be a fixed point; otherwise the
 * target aborts so the fuzzer reports the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/magnet.h"
#include "shoal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
same_list(size_t (*count)(const shoal_magnet *),
          const char *(*get)(const shoal_magnet *, size_t), const shoal_magnet *a,
          const shoal_magnet *b)
{
    if (count(a) != count(b))
        abort();
    for (size_t i = 0; i < count(a); i++)
        if (strcmp(get(a, i), get(b, i)) != 0)
            abort();
    if (get(a, count(a)) != NULL)
        abort();
}

static void
same(const shoal_magnet *a, const shoal_magnet *b)
{
    if (memcmp(shoal_magnet_infohash(a), shoal_magnet_infohash(b), SHOAL_INFOHASH_LEN))
        abort();
    const char *na = shoal_magnet_name(a), *nb = shoal_magnet_name(b);
    if ((na == NULL) != (nb == NULL) || (na && strcmp(na, nb) != 0))
        abort();
    same_list(shoal_magnet_tracker_count, shoal_magnet_tracker, a, b);
    same_list(shoal_magnet_webseed_count, shoal_magnet_webseed, a, b);
    same_list(shoal_magnet_peer_count, shoal_magnet_peer, a, b);
    if (shoal_magnet_select_count(a) != shoal_magnet_select_count(b))
        abort();
    for (size_t i = 0; i < shoal_magnet_select_count(a); i++) {
        uint32_t fa, la, fb, lb;
        shoal_magnet_select(a, i, &fa, &la);
        shoal_magnet_select(b, i, &fb, &lb);
        /* Stored ranges are sorted, disjoint and not adjacent. */
        if (fa != fb || la != lb || fa > la)
            abort();
        if (i > 0) {
            uint32_t pf, pl;
            shoal_magnet_select(a, i - 1, &pf, &pl);
            if ((uint64_t)pl + 1 >= fa)
                abort();
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The parser takes a C string; an embedded NUL simply ends it. */
    char *uri = malloc(size + 1);
    if (!uri)
        return 0;
    memcpy(uri, data, size);
    uri[size] = '\0';

    shoal_magnet *mg = NULL;
    struct shoal_perr err = {0};
    int rc = shoal_magnet_parse(uri, &mg, &err);
    free(uri);
    if (rc != 0) {
        if (mg || !err.why || err.off > size)
            abort();
        if (rc != SHOAL_EPARSE && rc != SHOAL_ETOOBIG)
            abort();
        return 0;
    }

    char *s = shoal_magnet_format(mg);
    if (!s)
        abort();
    /* Escaping can make the formatted link longer than the parser's input
     * limit; such a link is fine, it just cannot be read back. */
    if (strlen(s) <= MAGNET_MAX_URI) {
        shoal_magnet *again = NULL;
        if (shoal_magnet_parse(s, &again, &err) != 0)
            abort();
        same(mg, again);
        char *s2 = shoal_magnet_format(again);
        if (!s2 || strcmp(s, s2) != 0)
            abort();
        shoal_free(s2);
        shoal_magnet_free(again);
    }
    shoal_free(s);
    shoal_magnet_free(mg);
    return 0;
}
