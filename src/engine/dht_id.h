/*
 * dht_id.h — the vocabulary the DHT modules share: node addresses, XOR
 * distance between ids, and BEP 42 node ids derived from an external
 * address. Engine layer, pure: no sockets, no clock, no randomness of its
 * own (random bits come in as arguments).
 *
 * BEP 42 ties a node id to the node's IP address, so a host cannot pick ids
 * next to an infohash it wants to eclipse: the first 21 bits of the id come
 * from crc32c(masked ip | r << 29) and the last byte carries r. The rule
 * cannot hold behind NAT on a private network or on loopback, where many
 * nodes share one address, so dht_id_exempt() names the addresses it is
 * never enforced for.
 */
#ifndef SHOAL_DHT_ID_H
#define SHOAL_DHT_ID_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define DHT_ID_LEN 20

/* A node or peer address in wire form: the IP in network order and the port
 * in host order. len is 4 or 16; a zeroed struct is "no address". */
struct dht_addr {
    uint8_t len;
    uint8_t ip[16];
    uint16_t port;
};

/* 1 when a and b are the same IP and port, else 0. */
int dht_addr_eq(const struct dht_addr *a, const struct dht_addr *b);

/* Fills *out from an AF_INET or AF_INET6 socket address; an IPv4-mapped
 * IPv6 address becomes the IPv4 address it carries. Returns 0, or
 * SHOAL_EINVAL for another family. */
int dht_addr_from_sockaddr(struct dht_addr *out, const struct sockaddr *sa);

/* Fills *ss (and *len when not NULL) from a. Returns 0, or SHOAL_EINVAL
 * when a->len is neither 4 nor 16. */
int dht_addr_to_sockaddr(const struct dht_addr *a, struct sockaddr_storage *ss,
                         socklen_t *len);

/* Reads a compact peer (6 or 18 bytes, BEP 5/32). Returns 0, or SHOAL_EINVAL
 * for another length. */
int dht_addr_from_compact(struct dht_addr *out, const uint8_t *p, size_t len);

/* Writes a as a compact peer into out (room for 18 bytes); returns 6, 18,
 * or 0 when a is no address. */
size_t dht_addr_to_compact(const struct dht_addr *a, uint8_t *out);

/* Reads the compact node at index i of a nodes (family 4: 26-byte entries)
 * or nodes6 (family 6: 38-byte entries) string into id and *a. The caller
 * keeps i below len / entry size. */
void dht_node_from_compact(const uint8_t *nodes, size_t i, int family,
                           uint8_t id[DHT_ID_LEN], struct dht_addr *a);

/* -1, 0 or 1 as a is closer to, as close as, or farther from target than b
 * by XOR distance (BEP 5). */
int dht_id_cmp_dist(const uint8_t target[DHT_ID_LEN], const uint8_t a[DHT_ID_LEN],
                    const uint8_t b[DHT_ID_LEN]);

/* Number of leading bits a and b share (0..160). */
int dht_id_common_bits(const uint8_t a[DHT_ID_LEN], const uint8_t b[DHT_ID_LEN]);

/* ---------------------------------------------------------------- BEP 42 */

/* CRC-32C (Castagnoli), as BEP 42 uses it. */
uint32_t dht_crc32c(const uint8_t *p, size_t n);

/* Makes a BEP 42 node id for the external address ip[0..iplen) (4 or 16
 * bytes): r = rnd[19] & 7 goes into the crc and rnd[19] into the last byte;
 * the 11 free bits of bytes 2..18 come from rnd. Returns 0, or SHOAL_EINVAL
 * for another iplen. The id of the BEP's test vectors comes out with rnd
 * holding the vector's random bytes. */
int dht_id_make(uint8_t out[DHT_ID_LEN], const uint8_t *ip, size_t iplen,
                const uint8_t rnd[DHT_ID_LEN]);

/* 1 when id satisfies BEP 42 for ip[0..iplen) (its first 21 bits match the
 * crc for r = id[19] & 7), else 0. */
int dht_id_valid(const uint8_t id[DHT_ID_LEN], const uint8_t *ip, size_t iplen);

/* 1 for addresses BEP 42 is never enforced for: IPv4 0/8, 10/8, 100.64/10,
 * 127/8, 169.254/16, 172.16/12, 192.168/16; IPv6 ::1, ::, fc00::/7 and
 * fe80::/10 (and IPv4-mapped forms of the IPv4 ones, for len 16). */
int dht_id_exempt(const uint8_t *ip, size_t iplen);

#endif
