/*
 * krpc.c — placeholder bodies while the interface settles. Codec layer.
 */
#include "codec/krpc.h"

#include "shoal.h"

int
krpc_parse(struct krpc_msg *m, const void *buf, size_t len, struct shoal_perr *err)
{
    (void)m;
    (void)buf;
    (void)len;
    (void)err;
    return SHOAL_EUNSUPPORTED;
}

const char *
krpc_method_name(int method)
{
    (void)method;
    return NULL;
}

void
krpc_query_init(struct krpc_msg *m, int method, const uint8_t *tid, size_t tid_len,
                const uint8_t id[KRPC_ID_LEN])
{
    (void)m;
    (void)method;
    (void)tid;
    (void)tid_len;
    (void)id;
}

void
krpc_response_init(struct krpc_msg *m, const uint8_t *tid, size_t tid_len,
                   const uint8_t id[KRPC_ID_LEN])
{
    (void)m;
    (void)tid;
    (void)tid_len;
    (void)id;
}

void
krpc_error_init(struct krpc_msg *m, const uint8_t *tid, size_t tid_len, int code,
                const char *msg)
{
    (void)m;
    (void)tid;
    (void)tid_len;
    (void)code;
    (void)msg;
}

int
krpc_encode(const struct krpc_msg *m, struct buf *out)
{
    (void)m;
    (void)out;
    return SHOAL_EUNSUPPORTED;
}

size_t
krpc_put_peer(uint8_t *out, const uint8_t *ip, size_t iplen, uint16_t port)
{
    (void)out;
    (void)ip;
    (void)iplen;
    (void)port;
    return 0;
}

size_t
krpc_put_node(uint8_t *out, const uint8_t id[KRPC_ID_LEN], const uint8_t *ip,
              size_t iplen, uint16_t port)
{
    (void)out;
    (void)id;
    (void)ip;
    (void)iplen;
    (void)port;
    return 0;
}
