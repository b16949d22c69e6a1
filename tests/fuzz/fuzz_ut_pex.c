/*
 * fuzz_ut_pex.c — libFuzzer target for the BEP 11 peer exchange codec.
 *
 * Any input must parse or fail cleanly with a reason. A message that
 * parses must stay within the caps of ut_pex.h (entries read per list,
 * families of 4 or 16 bytes); it must encode, the encoding must parse back
 * to the same entries, and encode to the same bytes again. Otherwise the
 * target aborts so the fuzzer reports the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "codec/ut_pex.h"
#include "shoal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_values(const struct ut_pex_msg *m)
{
    if (m->nadded > 2 * UT_PEX_MAX_READ || m->ndropped > 2 * UT_PEX_MAX_READ)
        abort();
    for (size_t i = 0; i < m->nadded; i++)
        if (m->added[i].ip_len != 4 && m->added[i].ip_len != 16)
            abort();
    for (size_t i = 0; i < m->ndropped; i++)
        if ((m->dropped[i].ip_len != 4 && m->dropped[i].ip_len != 16) ||
            m->dropped[i].flags != 0)
            abort();
}

static void
check_same(const struct ut_pex_peer *a, size_t na, const struct ut_pex_peer *b, size_t nb)
{
    if (na != nb)
        abort();
    for (size_t i = 0; i < na; i++)
        if (!ut_pex_same(&a[i], &b[i]) || a[i].flags != b[i].flags)
            abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ut_pex_msg *a = xmalloc(sizeof(*a));
    struct ut_pex_msg *b = xmalloc(sizeof(*b));
    struct shoal_perr err = {0};
    struct buf one, two;
    if (!a || !b)
        abort();
    buf_init(&one, UT_PEX_MAX_MSG);
    buf_init(&two, UT_PEX_MAX_MSG);
    int rc = ut_pex_parse(data, size, a, &err);
    if (rc != 0) {
        if ((rc != SHOAL_EPARSE && rc != SHOAL_ETOOBIG) || err.why == NULL ||
            err.off > size || a->nadded || a->ndropped)
            abort();
        goto out;
    }
    check_values(a);
    if (ut_pex_encode(a->added, a->nadded, a->dropped, a->ndropped, &one) != 0)
        abort();
    if (ut_pex_parse(one.data, one.len, b, &err) != 0)
        abort();
    check_values(b);
    /* The parser keeps each family's order and puts IPv4 first, so the
     * entries come back in the same order. */
    check_same(a->added, a->nadded, b->added, b->nadded);
    check_same(a->dropped, a->ndropped, b->dropped, b->ndropped);
    if (b->skipped != 0)
        abort();
    if (ut_pex_encode(b->added, b->nadded, b->dropped, b->ndropped, &two) != 0 ||
        two.len != one.len || memcmp(one.data, two.data, one.len) != 0)
        abort();
out:
    buf_cleanup(&one);
    buf_cleanup(&two);
    xfree(a);
    xfree(b);
    return 0;
}
