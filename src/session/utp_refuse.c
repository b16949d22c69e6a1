/*
 * utp_refuse.c — answers uTP connection attempts with a reset until shoal
 * speaks uTP (BEP 29). Session layer: a UDP_UTP handler of the session's
 * UDP mux (udp.h).
 *
 * The UDP socket shares the TCP port's number, as in libtorrent and
 * Transmission, because the DHT tells other nodes that port. A client that
 * prefers uTP then sends its SYN there; silence would cost it a connect
 * timeout per attempt before it tries TCP, while a reset makes it fall
 * back at once.
 */
#include "session/utp_refuse.h"

#include "base/alloc.h"
#include "session/udp.h"
#include "shoal.h"

/* Resets sent per second at most: one per SYN, and no more than a host
 * that dials many peers a second could need. */
#define UTP_REFUSE_PER_SECOND 100

/* BEP 29 packet types and the header's version. */
#define UTP_ST_RESET 3
#define UTP_ST_SYN   4
#define UTP_VERSION  1

struct utp_refuse {
    struct udp_mux *udp;
    uint64_t (*now_ms)(void *ctx);
    void *ctx;
    uint64_t second; /* the second being counted */
    unsigned in_second;
    uint64_t sent;
};

size_t
utp_refuse_reply(const uint8_t *p, size_t n, uint8_t out[UTP_REFUSE_HEADER_LEN])
{
    if (n < UTP_REFUSE_HEADER_LEN || p[0] != (UTP_ST_SYN << 4 | UTP_VERSION))
        return 0;
    /* Header: type/version, extension, connection_id, timestamp,
     * timestamp_difference, wnd_size, seq_nr, ack_nr. */
    for (size_t i = 0; i < UTP_REFUSE_HEADER_LEN; i++)
        out[i] = 0;
    out[0] = UTP_ST_RESET << 4 | UTP_VERSION;
    out[2] = p[2];
    out[3] = p[3];
    out[18] = p[16];
    out[19] = p[17];
    return UTP_REFUSE_HEADER_LEN;
}

static int
on_datagram(void *ctx, const uint8_t *p, size_t n, const struct sockaddr *from,
            socklen_t fromlen)
{
    struct utp_refuse *r = ctx;
    uint8_t out[UTP_REFUSE_HEADER_LEN];
    if (!utp_refuse_reply(p, n, out))
        return SHOAL_EUNSUPPORTED;
    uint64_t second = r->now_ms(r->ctx) / 1000;
    if (second != r->second) {
        r->second = second;
        r->in_second = 0;
    }
    if (r->in_second >= UTP_REFUSE_PER_SECOND)
        return 0;
    r->in_second++;
    if (udp_send(r->udp, out, sizeof(out), from, fromlen) == 0)
        r->sent++;
    return 0;
}

int
utp_refuse_new(struct udp_mux *udp, uint64_t (*now_ms)(void *ctx), void *ctx,
               struct utp_refuse **out)
{
    *out = NULL;
    struct utp_refuse *r = xcalloc(1, sizeof(*r));
    if (!r)
        return SHOAL_ENOMEM;
    r->udp = udp;
    r->now_ms = now_ms;
    r->ctx = ctx;
    struct udp_handler h = {on_datagram, r};
    udp_mux_set_handler(udp, UDP_UTP, &h);
    *out = r;
    return 0;
}

void
utp_refuse_free(struct utp_refuse *r)
{
    if (!r)
        return;
    udp_mux_set_handler(r->udp, UDP_UTP, NULL);
    xfree(r);
}

uint64_t
utp_refuse_sent(const struct utp_refuse *r)
{
    return r->sent;
}
