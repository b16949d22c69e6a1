/*
 * utp_refuse.h — the UDP_UTP handler of a session that does not speak uTP
 * yet: it answers a connection attempt (ST_SYN) with ST_RESET, so a peer
 * that tries uTP first on our port (libtorrent does) falls back to TCP at
 * once instead of waiting for its connect to time out. Session layer.
 * Replaced by the uTP socket layer when that exists.
 */
#ifndef SHOAL_UTP_REFUSE_H
#define SHOAL_UTP_REFUSE_H

#include <stddef.h>
#include <stdint.h>

struct udp_mux;
struct utp_refuse;

/* BEP 29: every uTP packet starts with a 20-byte header. */
#define UTP_REFUSE_HEADER_LEN 20

/*
 * The ST_RESET that answers the uTP packet p[0..n): a 20-byte header of
 * type ST_RESET whose connection_id is the SYN's (the id the connecting
 * side receives on) and whose ack_nr is the SYN's seq_nr. Returns
 * UTP_REFUSE_HEADER_LEN with out filled when p is a version 1 ST_SYN, else
 * 0 (nothing is answered). Pure.
 */
size_t utp_refuse_reply(const uint8_t *p, size_t n, uint8_t out[UTP_REFUSE_HEADER_LEN]);

/*
 * Registers the refuser as udp's UDP_UTP handler. Resets go out at most
 * UTP_REFUSE_PER_SECOND a second (one per SYN, never larger than it), so
 * the port cannot be used to reflect a flood. now_ms is the clock it
 * counts by; ctx is passed to it. Keeps udp, which must outlive the
 * refuser. Returns 0 and *out, or SHOAL_ENOMEM.
 */
int utp_refuse_new(struct udp_mux *udp, uint64_t (*now_ms)(void *ctx), void *ctx,
                   struct utp_refuse **out);
/* Empties the UDP_UTP slot and frees r; NULL does nothing. */
void utp_refuse_free(struct utp_refuse *r);
/* Resets sent so far, for tests. */
uint64_t utp_refuse_sent(const struct utp_refuse *r);

#endif
