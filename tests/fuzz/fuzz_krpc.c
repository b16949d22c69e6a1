/*
 * fuzz_krpc.c — libFuzzer target for the KRPC codec (src/codec/krpc.c).
 *
 * Any input must parse or fail cleanly with a reason; a failure leaves a
 * tid behind only for a query (the node answers those with error 203). A
 * message that parses must hold only what krpc.h allows (tid of 1 to 16
 * bytes, whole compact nodes, values within their caps, ip of 6 or 18
 * bytes), and unless its method is unknown it must encode, parse back to
 * the same fields, and encode to the same bytes again. Otherwise the target
 * aborts so the fuzzer reports the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "codec/krpc.h"
#include "shoal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_values(const struct krpc_msg *m)
{
    if (m->tid_len < 1 || m->tid_len > KRPC_MAX_TID)
        abort();
    if (m->type < KRPC_QUERY || m->type > KRPC_ERROR)
        abort();
    if (m->nodes.len % KRPC_NODE4_LEN || m->nodes6.len % KRPC_NODE6_LEN ||
        m->samples.len % KRPC_ID_LEN)
        abort();
    if (m->nvalues4 > KRPC_MAX_VALUES || m->nvalues6 > KRPC_MAX_VALUES)
        abort();
    if (m->token_len > KRPC_MAX_TOKEN || m->v_len > KRPC_MAX_V ||
        m->emsg.len > KRPC_MAX_ERROR_MSG)
        abort();
    if ((m->has & KRPC_HAS_IP) && m->ip_len != 6 && m->ip_len != 18)
        abort();
    if (m->type == KRPC_QUERY && m->method == KRPC_ANNOUNCE_PEER &&
        (m->token_len == 0 || (!m->implied_port && m->port == 0)))
        abort();
}

static int
slice_eq(const struct krpc_slice *a, const struct krpc_slice *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

static void
check_same(const struct krpc_msg *a, const struct krpc_msg *b)
{
    if (a->type != b->type || a->method != b->method || a->tid_len != b->tid_len ||
        memcmp(a->tid, b->tid, a->tid_len) != 0 || a->has != b->has || a->ro != b->ro ||
        a->ip_len != b->ip_len || memcmp(a->ip, b->ip, a->ip_len) != 0 ||
        a->v_len != b->v_len || memcmp(a->v, b->v, a->v_len) != 0)
        abort();
    if (a->type != KRPC_ERROR && memcmp(a->id, b->id, KRPC_ID_LEN) != 0)
        abort();
    if (memcmp(a->target, b->target, KRPC_ID_LEN) != 0 || a->port != b->port ||
        a->implied_port != b->implied_port || a->want != b->want ||
        a->token_len != b->token_len || memcmp(a->token, b->token, a->token_len) != 0)
        abort();
    if (!slice_eq(&a->nodes, &b->nodes) || !slice_eq(&a->nodes6, &b->nodes6) ||
        !slice_eq(&a->samples, &b->samples) || !slice_eq(&a->emsg, &b->emsg))
        abort();
    if (a->interval != b->interval || a->num != b->num || a->ecode != b->ecode ||
        a->nvalues4 != b->nvalues4 || a->nvalues6 != b->nvalues6 ||
        b->values_dropped != 0 ||
        memcmp(a->values4, b->values4, a->nvalues4 * KRPC_PEER4_LEN) != 0 ||
        memcmp(a->values6, b->values6, a->nvalues6 * KRPC_PEER6_LEN) != 0)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct krpc_msg a, b;
    struct shoal_perr err = {0};
    int rc = krpc_parse(&a, data, size, &err);
    if (rc != 0) {
        if ((rc != SHOAL_EPARSE && rc != SHOAL_ETOOBIG) || err.why == NULL ||
            err.off > size)
            abort();
        if (a.tid_len && a.type != KRPC_QUERY)
            abort();
        return 0;
    }
    check_values(&a);
    if (a.type == KRPC_QUERY && a.method == KRPC_METHOD_UNKNOWN)
        return 0;

    struct buf one, two;
    buf_init(&one, KRPC_MAX_PACKET);
    buf_init(&two, KRPC_MAX_PACKET);
    if (krpc_encode(&a, &one) != 0)
        abort();
    if (krpc_parse(&b, one.data, one.len, &err) != 0)
        abort();
    check_values(&b);
    check_same(&a, &b);
    if (krpc_encode(&b, &two) != 0 || two.len != one.len ||
        memcmp(one.data, two.data, one.len) != 0)
        abort();
    buf_cleanup(&one);
    buf_cleanup(&two);
    return 0;
}
