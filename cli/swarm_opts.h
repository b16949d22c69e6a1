/*
 * swarm_opts.h — the options of the session commands (get, seed, share):
 * their entries for the commands' option tables, and how a value fills a
 * struct swarm_opts. CLI layer.
 */
#ifndef SHOAL_CLI_SWARM_OPTS_H
#define SHOAL_CLI_SWARM_OPTS_H

#include <stddef.h>

#include "options.h"
#include "swarm.h"

/* Ids of the session options (opt_def.id). A command that adds options of
 * its own numbers them from SWARM_OPT_END on. */
enum {
    SWARM_OPT_DIR = 1,
    SWARM_OPT_PEER,
    SWARM_OPT_TRACKER,
    SWARM_OPT_PORT,
    SWARM_OPT_MAX_UP,
    SWARM_OPT_MAX_DOWN,
    SWARM_OPT_LOCAL_ONLY,
    SWARM_OPT_RECHECK,
    SWARM_OPT_VERBOSE,
    SWARM_OPT_STATE_DIR,
    SWARM_OPT_INCOMPLETE_EXT,
    SWARM_OPT_SEED_RATIO,
    SWARM_OPT_SEED_TIME,
    SWARM_OPT_ON_DONE,
    SWARM_OPT_LOG,
    SWARM_OPT_ONLY,
    SWARM_OPT_SEQUENTIAL,
    SWARM_OPT_SEED,
    SWARM_OPT_EXIT_WHEN_DONE,
    SWARM_OPT_DHT,
    SWARM_OPT_DHT_PORT,
    SWARM_OPT_DHT_BOOTSTRAP,
    SWARM_OPT_PEX,
    SWARM_OPT_LSD,
    SWARM_OPT_TRANSPORT,
    SWARM_OPT_ENCRYPTION,
    SWARM_OPT_PROXY,
    SWARM_OPT_PROXY_ONLY,
    SWARM_OPT_ANONYMOUS,
    SWARM_OPT_BLOCKLIST,
    SWARM_OPT_PORT_MAPPING,
    SWARM_OPT_BIND,
    SWARM_OPT_END
};

/* Table entries shared by the session commands (see struct opt_def). */
/* clang-format off */
#define SWARM_DEF_PEER                                                              \
    {SWARM_OPT_PEER, "peer", 0, "HOST:PORT", "none",                                \
     "connect to this peer too; an IPv6 address is written [ADDR]:PORT",            \
     OPT_REPEAT | OPT_CONFIG}
#define SWARM_DEF_TRACKER                                                           \
    {SWARM_OPT_TRACKER, "tracker", 0, "URL", "none",                                \
     "announce to this tracker too, besides the torrent's own",                     \
     OPT_REPEAT | OPT_CONFIG}
#define SWARM_DEF_PORT                                                              \
    {SWARM_OPT_PORT, "port", 0, "N", "6881, or a free port when 6881 is taken",     \
     "listen for peers on port N (0: any free port); a port given here or in the "  \
     "config file that is taken is an error", OPT_CONFIG}
#define SWARM_DEF_MAX_UP                                                            \
    {SWARM_OPT_MAX_UP, "max-up", 0, "RATE", "unlimited",                            \
     "upload at most RATE bytes per second; K, M and G are KiB, MiB and GiB "       \
     "(500K, 1.5M)", OPT_CONFIG}
#define SWARM_DEF_MAX_DOWN                                                          \
    {SWARM_OPT_MAX_DOWN, "max-down", 0, "RATE", "unlimited",                        \
     "download at most RATE bytes per second; K, M and G are KiB, MiB and GiB "     \
     "(500K, 1.5M)", OPT_CONFIG}
#define SWARM_DEF_LOCAL_ONLY                                                        \
    {SWARM_OPT_LOCAL_ONLY, "local-only", 0, NULL, "off",                            \
     "talk to loopback addresses only (also SHOAL_LOCAL_ONLY=1)", OPT_CONFIG}
#define SWARM_DEF_RECHECK                                                           \
    {SWARM_OPT_RECHECK, "recheck", 0, NULL, "off",                                  \
     "hash all the data on disk again, even when the resume state matches it", 0}
#define SWARM_DEF_VERBOSE                                                           \
    {SWARM_OPT_VERBOSE, "verbose", 'v', NULL, "off",                                \
     "print each event (peers, trackers, pieces) once, with a timestamp", OPT_CONFIG}
#define SWARM_DEF_STATE_DIR                                                         \
    {SWARM_OPT_STATE_DIR, "state-dir", 0, "DIR",                                    \
     "$XDG_STATE_HOME/shoal, or ~/.local/state/shoal",                              \
     "keep resume state and locks in DIR instead of the user's state folder",       \
     OPT_CONFIG}
#define SWARM_DEF_SEED_RATIO                                                        \
    {SWARM_OPT_SEED_RATIO, "seed-ratio", 0, "R", "never",                           \
     "stop seeding once R times the torrent's size is uploaded (a positive "        \
     "decimal: 1, 1.5)", OPT_CONFIG}
#define SWARM_DEF_SEED_TIME                                                         \
    {SWARM_OPT_SEED_TIME, "seed-time", 0, "DURATION", "never",                      \
     "stop seeding after DURATION: seconds (90), or with units s, m, h, d "         \
     "(30m, 2h, 1d, 1h30m)", OPT_CONFIG}
#define SWARM_DEF_LOG                                                               \
    {SWARM_OPT_LOG, "log", 0, "FILE", "none",                                       \
     "append every event, with a timestamp, to FILE", OPT_CONFIG}
/* The trackerless options, every session command has all five. */
#define SWARM_DEF_DISCOVERY                                                         \
    {SWARM_OPT_DHT, "dht", 0, NULL, "on",                                           \
     "find peers through the DHT (never for a private torrent)",                    \
     OPT_CONFIG | OPT_NEGATE},                                                      \
    {SWARM_OPT_DHT_PORT, "dht-port", 0, "N", "the TCP port's number",               \
     "run the DHT (and uTP, UDP trackers) on UDP port N", OPT_CONFIG},             \
    {SWARM_OPT_DHT_BOOTSTRAP, "dht-bootstrap", 0, "HOST:PORT",                      \
     "the public routers (none with --local-only)",                                 \
     "join the DHT through this node; given once or more, it replaces the "         \
     "default routers", OPT_REPEAT | OPT_CONFIG},                                   \
    {SWARM_OPT_PEX, "pex", 0, NULL, "on",                                           \
     "swap peer lists with peers (BEP 11; never for a private torrent)",            \
     OPT_CONFIG | OPT_NEGATE},                                                      \
    {SWARM_OPT_LSD, "lsd", 0, NULL, "on, off with --local-only",                    \
     "find peers on the local network by multicast (BEP 14; never for a private "   \
     "torrent)", OPT_CONFIG | OPT_NEGATE}
/* The reach and privacy options, every session command has all eight. */
#define SWARM_DEF_REACH                                                             \
    {SWARM_OPT_TRANSPORT, "transport", 0, "LIST", "utp,tcp",                        \
     "connect to peers over utp,tcp (uTP first), tcp or utp; only these are "      \
     "accepted", OPT_CONFIG},                                                       \
    {SWARM_OPT_ENCRYPTION, "encryption", 0, "MODE", "preferred",                    \
     "message stream encryption: tolerated (plaintext out, either in), preferred "  \
     "(encrypted where the peer can) or required (encrypted only)", OPT_CONFIG},    \
    {SWARM_OPT_PROXY, "proxy", 0, "URL", "none",                                    \
     "connect to peers and trackers through socks5://[USER:PASS@]HOST:PORT",        \
     OPT_CONFIG},                                                                   \
    {SWARM_OPT_PROXY_ONLY, "proxy-only", 0, NULL, "off",                            \
     "with --proxy: nothing leaves except through the proxy (no direct peers, "     \
     "DHT, LSD, uTP or port mapping)", OPT_CONFIG},                                 \
    {SWARM_OPT_ANONYMOUS, "anonymous", 0, NULL, "off",                              \
     "send no client name or version, no LSD, no port mapping; use the proxy for "  \
     "everything", OPT_CONFIG},                                                     \
    {SWARM_OPT_BLOCKLIST, "blocklist", 0, "FILE", "none",                           \
     "refuse peers in FILE's ranges (PeerGuardian text or eMule DAT, maybe "        \
     "gzip'd)", OPT_CONFIG},                                                        \
    {SWARM_OPT_PORT_MAPPING, "port-mapping", 0, NULL, "on, off with --local-only",  \
     "ask the router to forward our port (UPnP IGD, NAT-PMP)",                      \
     OPT_CONFIG | OPT_NEGATE},                                                      \
    {SWARM_OPT_BIND, "bind", 0, "ADDR|IFACE", "any",                                \
     "send and listen only from this address or network interface", OPT_CONFIG}
/* clang-format on */

/* Applies session option id (see opt_set_fn). Returns 0, or -1 with why. */
int swarm_opts_set(struct swarm_opts *o, int id, const char *val, char *why,
                   size_t whylen);

/* opt_set_fn for a context that is a struct swarm_opts. */
int swarm_opts_set_fn(void *ctx, int id, const char *val, char *why, size_t whylen);

#endif
