/*
 * fuzz_ut_metadata.c — libFuzzer target for the BEP 9 message codec.
 *
 * Any input must parse or fail cleanly with a reason. A message that parses
 * must keep the promises ut_metadata.h makes (a known type, the piece in
 * range, for data a total_size within the cap and exactly the piece's bytes
 * after the dictionary, pointing into the input), and its dictionary must
 * re-encode to bytes that parse back to the same message. Otherwise the
 * target aborts so the fuzzer reports the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/ut_metadata.h"
#include "shoal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const uint8_t *data, size_t size, const struct ut_metadata_msg *m)
{
    if (m->type > UT_METADATA_REJECT || m->piece >= UT_METADATA_MAX_PIECES)
        abort();
    if (m->type != UT_METADATA_DATA) {
        if (m->data || m->data_len || m->total_size)
            abort();
        return;
    }
    if (m->total_size < 1 || m->total_size > UT_METADATA_MAX_SIZE)
        abort();
    if (m->data_len != ut_metadata_piece_len(m->total_size, m->piece) || m->data_len == 0)
        abort();
    if (m->data < data || m->data + m->data_len != data + size)
        abort();
}

static void
round_trip(const struct ut_metadata_msg *m)
{
    static uint8_t buf[UT_METADATA_MAX_HEADER + UT_METADATA_PIECE];
    size_t n = ut_metadata_encode(buf, m->type, m->piece, m->total_size);
    if (n == 0 || n >= UT_METADATA_MAX_HEADER)
        abort();
    memcpy(buf + n, m->data ? m->data : (const uint8_t *)"", m->data_len);
    struct ut_metadata_msg back;
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    if (ut_metadata_parse(buf, n + m->data_len, &back, &err) != 0)
        abort();
    if (back.type != m->type || back.piece != m->piece ||
        back.total_size != m->total_size || back.data_len != m->data_len ||
        (m->data_len && memcmp(back.data, m->data, m->data_len)))
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ut_metadata_msg m;
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    int rc = ut_metadata_parse(data, size, &m, &err);
    if (rc) {
        if (rc >= 0 || !err.why)
            abort();
        return 0;
    }
    check(data, size, &m);
    round_trip(&m);
    return 0;
}
