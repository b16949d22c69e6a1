/*
 * krpc.c — KRPC messages of the BitTorrent DHT (BEP 5, 32, 42, 43, 51):
 * datagram to struct and back. Codec layer.
 *
 * Pure: it reads and writes caller buffers through the bencode codec and
 * must not touch a socket or the clock. Every field is checked before the
 * caller sees it; nothing is allocated by a length the datagram claims
 * (the only allocation is the bencode token array, bounded by
 * KRPC_MAX_TOKENS).
 */
#include "codec/krpc.h"

#include <string.h>

#include "base/alloc.h"
#include "base/util.h"
#include "codec/bencode.h"

static const char *const method_names[] = {
    [KRPC_PING] = "ping",
    [KRPC_FIND_NODE] = "find_node",
    [KRPC_GET_PEERS] = "get_peers",
    [KRPC_ANNOUNCE_PEER] = "announce_peer",
    [KRPC_SAMPLE_INFOHASHES] = "sample_infohashes",
};

const char *
krpc_method_name(int method)
{
    if (method <= KRPC_METHOD_UNKNOWN || method > KRPC_SAMPLE_INFOHASHES)
        return NULL;
    return method_names[method];
}

/* ------------------------------------------------------------------ parse */

static size_t
off_of(const struct benc_doc *d, uint32_t t)
{
    return d->tok[t].start;
}

/* A 20-byte string under key, copied to out; `missing` and `badlen` are the
 * reasons when it is absent or of another length. */
static int
get_id(const struct benc_doc *d, uint32_t dict, const char *key, uint8_t out[KRPC_ID_LEN],
       const char *missing, const char *badlen, struct shoal_perr *err)
{
    uint32_t t = benc_dict_get_type(d, dict, key, BENC_STR);
    if (!t)
        return perr_fail(err, off_of(d, dict), SHOAL_EPARSE, missing);
    size_t n;
    const uint8_t *p = benc_str(d, t, &n);
    if (n != KRPC_ID_LEN)
        return perr_fail(err, off_of(d, t), SHOAL_EPARSE, badlen);
    memcpy(out, p, KRPC_ID_LEN);
    return 0;
}

/* An optional string whose length must be a multiple of `unit`. */
static int
get_slice(const struct benc_doc *d, uint32_t dict, const char *key, size_t unit,
          struct krpc_slice *out, unsigned bit, unsigned *has, const char *why,
          struct shoal_perr *err)
{
    uint32_t t = benc_dict_get_type(d, dict, key, BENC_STR);
    if (!t)
        return 0;
    out->p = benc_str(d, t, &out->len);
    if (out->len % unit)
        return perr_fail(err, off_of(d, t), SHOAL_EPARSE, why);
    *has |= bit;
    return 0;
}

static int
get_token(const struct benc_doc *d, uint32_t dict, struct krpc_msg *m,
          struct shoal_perr *err)
{
    uint32_t t = benc_dict_get_type(d, dict, "token", BENC_STR);
    if (!t)
        return 0;
    size_t n;
    const uint8_t *p = benc_str(d, t, &n);
    if (n > KRPC_MAX_TOKEN)
        return perr_fail(err, off_of(d, t), SHOAL_EPARSE, "token longer than 64 bytes");
    memcpy(m->token, p, n);
    m->token_len = (uint8_t)n;
    m->has |= KRPC_HAS_TOKEN;
    return 0;
}

static void
get_want(const struct benc_doc *d, uint32_t dict, struct krpc_msg *m)
{
    uint32_t l = benc_dict_get_type(d, dict, "want", BENC_LIST);
    if (!l)
        return;
    m->has |= KRPC_HAS_WANT;
    uint32_t t = benc_first(l);
    for (uint32_t i = 0; i < d->tok[l].count; i++, t = benc_next(d, t)) {
        if (benc_str_eq(d, t, "n4"))
            m->want |= KRPC_WANT_N4;
        else if (benc_str_eq(d, t, "n6"))
            m->want |= KRPC_WANT_N6;
    }
}

static int
parse_announce_args(const struct benc_doc *d, uint32_t a, struct krpc_msg *m,
                    struct shoal_perr *err)
{
    int rc = get_token(d, a, m, err);
    if (rc)
        return rc;
    if (!(m->has & KRPC_HAS_TOKEN) || m->token_len == 0)
        return perr_fail(err, off_of(d, a), SHOAL_EPARSE,
                         "announce_peer without a token");
    uint32_t ip = benc_dict_get_type(d, a, "implied_port", BENC_INT);
    if (ip) {
        m->has |= KRPC_HAS_IMPLIED_PORT;
        m->implied_port = d->tok[ip].val != 0;
    }
    uint32_t p = benc_dict_get(d, a, "port");
    if (p) {
        if (d->tok[p].type != BENC_INT || d->tok[p].val < 0 || d->tok[p].val > 65535)
            return perr_fail(err, off_of(d, p), SHOAL_EPARSE, "port out of range");
        m->port = (uint16_t)d->tok[p].val;
        m->has |= KRPC_HAS_PORT;
    }
    if (m->implied_port)
        return 0;
    if (!p)
        return perr_fail(err, off_of(d, a), SHOAL_EPARSE, "announce_peer without a port");
    if (m->port == 0)
        return perr_fail(err, off_of(d, p), SHOAL_EPARSE, "port out of range");
    return 0;
}

static int
parse_query(const struct benc_doc *d, struct krpc_msg *m, struct shoal_perr *err)
{
    uint32_t q = benc_dict_get_type(d, 0, "q", BENC_STR);
    if (!q)
        return perr_fail(err, 0, SHOAL_EPARSE, "query without a method name q");
    for (int i = KRPC_PING; i <= KRPC_SAMPLE_INFOHASHES; i++)
        if (benc_str_eq(d, q, method_names[i]))
            m->method = (uint8_t)i;
    uint32_t a = benc_dict_get_type(d, 0, "a", BENC_DICT);
    if (!a)
        return perr_fail(err, 0, SHOAL_EPARSE, "query without an argument dictionary a");
    int rc = get_id(d, a, "id", m->id, "query without a node id",
                    "node id is not 20 bytes", err);
    if (rc)
        return rc;
    switch (m->method) {
    case KRPC_FIND_NODE:
    case KRPC_SAMPLE_INFOHASHES:
        rc = get_id(d, a, "target", m->target, "query without a target",
                    "target is not 20 bytes", err);
        break;
    case KRPC_GET_PEERS:
    case KRPC_ANNOUNCE_PEER:
        rc = get_id(d, a, "info_hash", m->target, "query without an info_hash",
                    "info_hash is not 20 bytes", err);
        break;
    default:
        break;
    }
    if (rc)
        return rc;
    if (m->method == KRPC_ANNOUNCE_PEER)
        rc = parse_announce_args(d, a, m, err);
    if (m->method != KRPC_PING && m->method != KRPC_METHOD_UNKNOWN)
        get_want(d, a, m);
    return rc;
}

static void
get_values(const struct benc_doc *d, uint32_t r, struct krpc_msg *m)
{
    uint32_t l = benc_dict_get_type(d, r, "values", BENC_LIST);
    if (!l)
        return;
    m->has |= KRPC_HAS_VALUES;
    uint32_t t = benc_first(l);
    for (uint32_t i = 0; i < d->tok[l].count; i++, t = benc_next(d, t)) {
        size_t n = 0;
        const uint8_t *p = d->tok[t].type == BENC_STR ? benc_str(d, t, &n) : NULL;
        if (n == KRPC_PEER4_LEN && m->nvalues4 < KRPC_MAX_VALUES)
            memcpy(m->values4[m->nvalues4++], p, n);
        else if (n == KRPC_PEER6_LEN && m->nvalues6 < KRPC_MAX_VALUES)
            memcpy(m->values6[m->nvalues6++], p, n);
        else
            m->values_dropped++;
    }
}

static int
parse_response(const struct benc_doc *d, struct krpc_msg *m, struct shoal_perr *err)
{
    uint32_t r = benc_dict_get_type(d, 0, "r", BENC_DICT);
    if (!r)
        return perr_fail(err, 0, SHOAL_EPARSE, "response without a dictionary r");
    int rc = get_id(d, r, "id", m->id, "response without a node id",
                    "node id is not 20 bytes", err);
    if (!rc)
        rc = get_slice(d, r, "nodes", KRPC_NODE4_LEN, &m->nodes, KRPC_HAS_NODES, &m->has,
                       "nodes not a multiple of 26 bytes", err);
    if (!rc)
        rc = get_slice(d, r, "nodes6", KRPC_NODE6_LEN, &m->nodes6, KRPC_HAS_NODES6,
                       &m->has, "nodes6 not a multiple of 38 bytes", err);
    if (!rc)
        rc = get_slice(d, r, "samples", KRPC_ID_LEN, &m->samples, KRPC_HAS_SAMPLES,
                       &m->has, "samples not a multiple of 20 bytes", err);
    if (!rc)
        rc = get_token(d, r, m, err);
    if (rc)
        return rc;
    get_values(d, r, m);
    uint32_t t = benc_dict_get_type(d, r, "interval", BENC_INT);
    if (t) {
        m->interval = d->tok[t].val;
        m->has |= KRPC_HAS_INTERVAL;
    }
    t = benc_dict_get_type(d, r, "num", BENC_INT);
    if (t) {
        m->num = d->tok[t].val;
        m->has |= KRPC_HAS_NUM;
    }
    return 0;
}

static int
parse_error(const struct benc_doc *d, struct krpc_msg *m, struct shoal_perr *err)
{
    uint32_t e = benc_dict_get_type(d, 0, "e", BENC_LIST);
    if (!e)
        return perr_fail(err, 0, SHOAL_EPARSE, "error without a list e");
    uint32_t c = benc_first(e);
    if (d->tok[e].count < 1 || d->tok[c].type != BENC_INT)
        return perr_fail(err, off_of(d, e), SHOAL_EPARSE,
                         "error list does not start with a code");
    m->ecode = d->tok[c].val;
    uint32_t s = benc_next(d, c);
    if (d->tok[e].count >= 2 && d->tok[s].type == BENC_STR) {
        m->emsg.p = benc_str(d, s, &m->emsg.len);
        if (m->emsg.len > KRPC_MAX_ERROR_MSG)
            m->emsg.len = KRPC_MAX_ERROR_MSG;
    }
    return 0;
}

/* The top-level fields every type may carry: t, y, v, ip, ro. */
static int
parse_common(const struct benc_doc *d, struct krpc_msg *m, struct shoal_perr *err)
{
    uint32_t t = benc_dict_get_type(d, 0, "t", BENC_STR);
    if (!t)
        return perr_fail(err, 0, SHOAL_EPARSE, "missing transaction id t");
    size_t n;
    const uint8_t *p = benc_str(d, t, &n);
    if (n == 0)
        return perr_fail(err, off_of(d, t), SHOAL_EPARSE, "empty transaction id");
    if (n > KRPC_MAX_TID)
        return perr_fail(err, off_of(d, t), SHOAL_EPARSE,
                         "transaction id longer than 16 bytes");
    uint32_t y = benc_dict_get_type(d, 0, "y", BENC_STR);
    if (!y)
        return perr_fail(err, 0, SHOAL_EPARSE, "missing message type y");
    if (benc_str_eq(d, y, "q"))
        m->type = KRPC_QUERY;
    else if (benc_str_eq(d, y, "r"))
        m->type = KRPC_RESPONSE;
    else if (benc_str_eq(d, y, "e"))
        m->type = KRPC_ERROR;
    else
        return perr_fail(err, off_of(d, y), SHOAL_EPARSE,
                         "message type y is not q, r or e");
    /* Set only now, so a failure above leaves no tid to answer to. */
    memcpy(m->tid, p, n);
    m->tid_len = (uint8_t)n;

    uint32_t v = benc_dict_get_type(d, 0, "v", BENC_STR);
    if (v) {
        const uint8_t *vp = benc_str(d, v, &n);
        if (n <= KRPC_MAX_V) {
            memcpy(m->v, vp, n);
            m->v_len = (uint8_t)n;
            m->has |= KRPC_HAS_V;
        }
    }
    uint32_t ip = benc_dict_get_type(d, 0, "ip", BENC_STR);
    if (ip) {
        const uint8_t *ipp = benc_str(d, ip, &n);
        if (n != KRPC_PEER4_LEN && n != KRPC_PEER6_LEN)
            return perr_fail(err, off_of(d, ip), SHOAL_EPARSE,
                             "ip is neither 6 nor 18 bytes");
        memcpy(m->ip, ipp, n);
        m->ip_len = (uint8_t)n;
        m->has |= KRPC_HAS_IP;
    }
    uint32_t ro = benc_dict_get_type(d, 0, "ro", BENC_INT);
    m->ro = ro && d->tok[ro].val == 1;
    return 0;
}

int
krpc_parse(struct krpc_msg *m, const void *buf, size_t len, struct shoal_perr *err)
{
    memset(m, 0, sizeof(*m));
    if (len > KRPC_MAX_PACKET)
        return perr_fail(err, KRPC_MAX_PACKET, SHOAL_ETOOBIG,
                         "datagram longer than 2048 bytes");
    struct benc_doc d;
    int rc = benc_decode(&d, buf, len, KRPC_MAX_TOKENS, NULL, err);
    if (rc)
        goto out;
    if (d.tok[0].type != BENC_DICT) {
        rc = perr_fail(err, 0, SHOAL_EPARSE, "message is not a dictionary");
        goto out;
    }
    rc = parse_common(&d, m, err);
    if (rc)
        goto out;
    if (m->type == KRPC_QUERY)
        rc = parse_query(&d, m, err);
    else if (m->type == KRPC_RESPONSE)
        rc = parse_response(&d, m, err);
    else
        rc = parse_error(&d, m, err);
out:
    benc_doc_cleanup(&d);
    if (rc && m->type != KRPC_QUERY) {
        /* Only a query with its tid is worth an error reply. */
        m->type = 0;
        m->tid_len = 0;
    }
    return rc;
}

/* ------------------------------------------------------------------ encode */

void
krpc_query_init(struct krpc_msg *m, int method, const uint8_t *tid, size_t tid_len,
                const uint8_t id[KRPC_ID_LEN])
{
    memset(m, 0, sizeof(*m));
    m->type = KRPC_QUERY;
    m->method = (uint8_t)method;
    m->tid_len = (uint8_t)(tid_len <= KRPC_MAX_TID ? tid_len : 0);
    memcpy(m->tid, tid, m->tid_len);
    memcpy(m->id, id, KRPC_ID_LEN);
}

void
krpc_response_init(struct krpc_msg *m, const uint8_t *tid, size_t tid_len,
                   const uint8_t id[KRPC_ID_LEN])
{
    krpc_query_init(m, KRPC_METHOD_UNKNOWN, tid, tid_len, id);
    m->type = KRPC_RESPONSE;
}

void
krpc_error_init(struct krpc_msg *m, const uint8_t *tid, size_t tid_len, int code,
                const char *msg)
{
    memset(m, 0, sizeof(*m));
    m->type = KRPC_ERROR;
    m->tid_len = (uint8_t)(tid_len <= KRPC_MAX_TID ? tid_len : 0);
    memcpy(m->tid, tid, m->tid_len);
    m->ecode = code;
    m->emsg.p = (const uint8_t *)msg;
    m->emsg.len = msg ? strlen(msg) : 0;
}

static int
slice_ok(const struct krpc_msg *m, unsigned bit, const struct krpc_slice *s, size_t unit)
{
    if (!(m->has & bit))
        return 1;
    return s->len % unit == 0 && (s->p || s->len == 0);
}

/* The checks krpc_parse makes, so that every encoding parses back. */
static int
encodable(const struct krpc_msg *m)
{
    if (m->tid_len == 0 || m->tid_len > KRPC_MAX_TID)
        return 0;
    if ((m->has & KRPC_HAS_IP) && m->ip_len != KRPC_PEER4_LEN &&
        m->ip_len != KRPC_PEER6_LEN)
        return 0;
    if ((m->has & KRPC_HAS_V) && m->v_len > KRPC_MAX_V)
        return 0;
    if (m->token_len > KRPC_MAX_TOKEN)
        return 0;
    switch (m->type) {
    case KRPC_QUERY:
        if (!krpc_method_name(m->method))
            return 0;
        if (m->method == KRPC_ANNOUNCE_PEER) {
            if (!(m->has & KRPC_HAS_TOKEN) || m->token_len == 0)
                return 0;
            int implied = (m->has & KRPC_HAS_IMPLIED_PORT) && m->implied_port;
            if (!implied && (!(m->has & KRPC_HAS_PORT) || m->port == 0))
                return 0;
        }
        return 1;
    case KRPC_RESPONSE:
        return slice_ok(m, KRPC_HAS_NODES, &m->nodes, KRPC_NODE4_LEN) &&
               slice_ok(m, KRPC_HAS_NODES6, &m->nodes6, KRPC_NODE6_LEN) &&
               slice_ok(m, KRPC_HAS_SAMPLES, &m->samples, KRPC_ID_LEN) &&
               m->nvalues4 <= KRPC_MAX_VALUES && m->nvalues6 <= KRPC_MAX_VALUES;
    case KRPC_ERROR:
        return m->emsg.p || m->emsg.len == 0;
    default:
        return 0;
    }
}

static void
put_keystr(struct benc_enc *e, const char *key, const void *p, size_t n)
{
    benc_key(e, key);
    benc_put_str(e, p, n);
}

static void
put_keyint(struct benc_enc *e, const char *key, int64_t v)
{
    benc_key(e, key);
    benc_put_int(e, v);
}

static void
put_want(struct benc_enc *e, const struct krpc_msg *m)
{
    if (!(m->has & KRPC_HAS_WANT) || m->method == KRPC_PING)
        return;
    benc_key(e, "want");
    benc_list_begin(e);
    if (m->want & KRPC_WANT_N4)
        benc_put_cstr(e, "n4");
    if (m->want & KRPC_WANT_N6)
        benc_put_cstr(e, "n6");
    benc_end(e);
}

static void
put_args(struct benc_enc *e, const struct krpc_msg *m)
{
    int ann = m->method == KRPC_ANNOUNCE_PEER;
    int by_hash = ann || m->method == KRPC_GET_PEERS;
    int by_target = m->method == KRPC_FIND_NODE || m->method == KRPC_SAMPLE_INFOHASHES;
    benc_key(e, "a");
    benc_dict_begin(e);
    put_keystr(e, "id", m->id, KRPC_ID_LEN);
    if (ann && (m->has & KRPC_HAS_IMPLIED_PORT))
        put_keyint(e, "implied_port", m->implied_port);
    if (by_hash)
        put_keystr(e, "info_hash", m->target, KRPC_ID_LEN);
    if (ann && (m->has & KRPC_HAS_PORT))
        put_keyint(e, "port", m->port);
    if (by_target)
        put_keystr(e, "target", m->target, KRPC_ID_LEN);
    if (ann)
        put_keystr(e, "token", m->token, m->token_len);
    put_want(e, m);
    benc_end(e);
}

static void
put_slice(struct benc_enc *e, const struct krpc_msg *m, unsigned bit, const char *key,
          const struct krpc_slice *s)
{
    if (m->has & bit)
        put_keystr(e, key, s->p, s->len);
}

static void
put_response(struct benc_enc *e, const struct krpc_msg *m)
{
    benc_key(e, "r");
    benc_dict_begin(e);
    put_keystr(e, "id", m->id, KRPC_ID_LEN);
    if (m->has & KRPC_HAS_INTERVAL)
        put_keyint(e, "interval", m->interval);
    put_slice(e, m, KRPC_HAS_NODES, "nodes", &m->nodes);
    put_slice(e, m, KRPC_HAS_NODES6, "nodes6", &m->nodes6);
    if (m->has & KRPC_HAS_NUM)
        put_keyint(e, "num", m->num);
    put_slice(e, m, KRPC_HAS_SAMPLES, "samples", &m->samples);
    if (m->has & KRPC_HAS_TOKEN)
        put_keystr(e, "token", m->token, m->token_len);
    if (m->has & KRPC_HAS_VALUES) {
        benc_key(e, "values");
        benc_list_begin(e);
        for (size_t i = 0; i < m->nvalues4; i++)
            benc_put_str(e, m->values4[i], KRPC_PEER4_LEN);
        for (size_t i = 0; i < m->nvalues6; i++)
            benc_put_str(e, m->values6[i], KRPC_PEER6_LEN);
        benc_end(e);
    }
    benc_end(e);
}

static void
put_error(struct benc_enc *e, const struct krpc_msg *m)
{
    size_t n = m->emsg.len < KRPC_MAX_ERROR_MSG ? m->emsg.len : KRPC_MAX_ERROR_MSG;
    benc_key(e, "e");
    benc_list_begin(e);
    benc_put_int(e, m->ecode);
    benc_put_str(e, n ? m->emsg.p : (const uint8_t *)"", n);
    benc_end(e);
}

int
krpc_encode(const struct krpc_msg *m, struct buf *out)
{
    if (!encodable(m))
        return SHOAL_EINVAL;
    struct benc_enc e;
    benc_enc_init(&e, KRPC_MAX_PACKET);
    benc_dict_begin(&e);
    if (m->type == KRPC_QUERY)
        put_args(&e, m);
    if (m->type == KRPC_ERROR)
        put_error(&e, m);
    if (m->has & KRPC_HAS_IP)
        put_keystr(&e, "ip", m->ip, m->ip_len);
    if (m->type == KRPC_QUERY) {
        benc_key(&e, "q");
        benc_put_cstr(&e, method_names[m->method]);
    }
    if (m->type == KRPC_RESPONSE)
        put_response(&e, m);
    if (m->ro)
        put_keyint(&e, "ro", 1);
    put_keystr(&e, "t", m->tid, m->tid_len);
    if (m->has & KRPC_HAS_V)
        put_keystr(&e, "v", m->v, m->v_len);
    benc_key(&e, "y");
    benc_put_cstr(&e, m->type == KRPC_QUERY ? "q" : m->type == KRPC_RESPONSE ? "r" : "e");
    benc_end(&e);
    int rc = benc_enc_error(&e);
    if (!rc)
        rc = buf_append(out, e.buf.data, e.buf.len);
    benc_enc_cleanup(&e);
    return rc;
}

/* ------------------------------------------------------------------ compact forms */

size_t
krpc_put_peer(uint8_t *out, const uint8_t *ip, size_t iplen, uint16_t port)
{
    if (iplen != 4 && iplen != 16)
        return 0;
    memcpy(out, ip, iplen);
    be16_put(out + iplen, port);
    return iplen + 2;
}

size_t
krpc_put_node(uint8_t *out, const uint8_t id[KRPC_ID_LEN], const uint8_t *ip,
              size_t iplen, uint16_t port)
{
    if (iplen != 4 && iplen != 16)
        return 0;
    memcpy(out, id, KRPC_ID_LEN);
    return KRPC_ID_LEN + krpc_put_peer(out + KRPC_ID_LEN, ip, iplen, port);
}
