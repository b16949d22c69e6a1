/*
 * swarm_opts.c — the options of the session commands: checks each value
 * (from the command line or the config file) against the form it must have
 * and stores it in a struct swarm_opts. CLI layer.
 */
#include "swarm_opts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

void
swarm_opts_init(struct swarm_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->dir = ".";
    o->port = SWARM_DEFAULT_PORT;
    o->exit_when_done = 1;
    o->incomplete_ext = 1;
    o->dht = 1;
    o->pex = 1;
    o->lsd = 1;
    o->transports = SHOAL_TRANSPORT_TCP | SHOAL_TRANSPORT_UTP;
    o->encryption = SHOAL_ENCRYPTION_PREFERRED;
    o->port_mapping = 1;
}

/* --transport: "utp,tcp" (or "tcp,utp"), "tcp" or "utp". Returns the
 * SHOAL_TRANSPORT_* bits, or 0 when val is none of these. */
static int
transport_bits(const char *val)
{
    if (!strcmp(val, "utp,tcp") || !strcmp(val, "tcp,utp"))
        return SHOAL_TRANSPORT_TCP | SHOAL_TRANSPORT_UTP;
    if (!strcmp(val, "tcp"))
        return SHOAL_TRANSPORT_TCP;
    if (!strcmp(val, "utp"))
        return SHOAL_TRANSPORT_UTP;
    return 0;
}

/* --encryption MODE, or 0 when val names no mode. */
static int
encryption_mode(const char *val)
{
    if (!strcmp(val, "tolerated"))
        return SHOAL_ENCRYPTION_TOLERATED;
    if (!strcmp(val, "preferred"))
        return SHOAL_ENCRYPTION_PREFERRED;
    if (!strcmp(val, "required"))
        return SHOAL_ENCRYPTION_REQUIRED;
    return 0;
}

/* A file list as --only takes it: "0,2,5-7". The library checks the
 * numbers against the torrent. */
static int
only_syntax(const char *s)
{
    int digits = 0;
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9')
            digits++;
        else if ((*s == ',' || *s == '-') && digits)
            digits = 0;
        else
            return -1;
    }
    return digits ? 0 : -1;
}

static int
fail(char *why, size_t whylen, const char *text)
{
    snprintf(why, whylen, "%s", text);
    return -1;
}

static int
set_rate(uint64_t *field, const char *val, char *why, size_t whylen)
{
    if (cli_parse_size(val, field) != 0)
        return fail(
            why, whylen,
            "expected bytes per second, e.g. 500K or 1.5M (K, M, G: KiB, MiB, GiB)");
    return 0;
}

static int
set_text(const char **field, const char *val, char *why, size_t whylen)
{
    if (!val[0])
        return fail(why, whylen, "expected a value, not an empty string");
    *field = val;
    return 0;
}

int
swarm_opts_set(struct swarm_opts *o, int id, const char *val, char *why, size_t whylen)
{
    uint64_t v;
    int on = val[0] == '1';
    switch (id) {
    case SWARM_OPT_DIR:
        return set_text(&o->dir, val, why, whylen);
    case SWARM_OPT_PEER: {
        char host[256];
        uint16_t port;
        if (shoal_parse_hostport(val, 0, host, sizeof(host), &port) != 0)
            return fail(why, whylen, "expected HOST:PORT or [IPV6]:PORT, port 1-65535");
        if (o->npeers >= SWARM_MAX_PEERS) {
            snprintf(why, whylen, "at most %d peers", SWARM_MAX_PEERS);
            return -1;
        }
        o->peers[o->npeers++] = val;
        return 0;
    }
    case SWARM_OPT_TRACKER:
        if (!strstr(val, "://"))
            return fail(why, whylen,
                        "expected a URL: http://, https:// or udp://HOST:PORT");
        if (o->ntrackers >= SWARM_MAX_PEERS) {
            snprintf(why, whylen, "at most %d trackers", SWARM_MAX_PEERS);
            return -1;
        }
        o->trackers[o->ntrackers++] = val;
        o->trackers[o->ntrackers] = NULL;
        return 0;
    case SWARM_OPT_PORT:
        if (cli_parse_uint(val, 0, 65535, &v) != 0)
            return fail(why, whylen, "expected a port 0-65535 (0: any free port)");
        o->port = (int)v;
        o->port_set = 1;
        return 0;
    case SWARM_OPT_MAX_UP:
        return set_rate(&o->max_up, val, why, whylen);
    case SWARM_OPT_MAX_DOWN:
        return set_rate(&o->max_down, val, why, whylen);
    case SWARM_OPT_LOCAL_ONLY:
        o->local_only = on;
        return 0;
    case SWARM_OPT_RECHECK:
        o->recheck = on;
        return 0;
    case SWARM_OPT_VERBOSE:
        o->verbose = on;
        return 0;
    case SWARM_OPT_STATE_DIR:
        return set_text(&o->state_dir, val, why, whylen);
    case SWARM_OPT_INCOMPLETE_EXT:
        o->incomplete_ext = on;
        return 0;
    case SWARM_OPT_SEED_RATIO: {
        char *end;
        errno = 0;
        double r = strtod(val, &end);
        if (val[0] < '0' || val[0] > '9' || *end || errno || !(r > 0) || r > 1e6)
            return fail(why, whylen, "expected a positive decimal, e.g. 1 or 1.5");
        o->seed_ratio = r;
        return 0;
    }
    case SWARM_OPT_SEED_TIME:
        if (cli_parse_duration(val, &v) != 0 || v == 0)
            return fail(why, whylen,
                        "expected a duration: 90, 90s, 30m, 2h, 1d or 1h30m");
        o->seed_time_s = v;
        return 0;
    case SWARM_OPT_ON_DONE:
        return set_text(&o->on_done, val, why, whylen);
    case SWARM_OPT_LOG:
        return set_text(&o->log_path, val, why, whylen);
    case SWARM_OPT_ONLY:
        if (only_syntax(val) != 0)
            return fail(why, whylen,
                        "expected file indices as shoal info numbers them: 0,2,5-7");
        o->only = val;
        return 0;
    case SWARM_OPT_SEQUENTIAL:
        o->sequential = on;
        return 0;
    case SWARM_OPT_SEED:
        o->exit_when_done = !on;
        return 0;
    case SWARM_OPT_EXIT_WHEN_DONE:
        o->exit_when_done = on;
        return 0;
    case SWARM_OPT_DHT:
        o->dht = on;
        return 0;
    case SWARM_OPT_PEX:
        o->pex = on;
        return 0;
    case SWARM_OPT_LSD:
        o->lsd = on;
        return 0;
    case SWARM_OPT_DHT_PORT:
        if (cli_parse_uint(val, 0, 65535, &v) != 0)
            return fail(why, whylen,
                        "expected a port 0-65535 (0: the TCP port's number)");
        o->dht_port = (int)v;
        return 0;
    case SWARM_OPT_DHT_BOOTSTRAP: {
        char host[256];
        uint16_t port;
        if (shoal_parse_hostport(val, 0, host, sizeof(host), &port) != 0)
            return fail(why, whylen, "expected HOST:PORT or [IPV6]:PORT, port 1-65535");
        if (o->ndht_bootstrap >= SWARM_MAX_PEERS) {
            snprintf(why, whylen, "at most %d bootstrap nodes", SWARM_MAX_PEERS);
            return -1;
        }
        o->dht_bootstrap[o->ndht_bootstrap++] = val;
        o->dht_bootstrap[o->ndht_bootstrap] = NULL;
        return 0;
    }
    case SWARM_OPT_TRANSPORT:
        if (!(o->transports = transport_bits(val)))
            return fail(why, whylen, "expected utp,tcp or tcp or utp");
        return 0;
    case SWARM_OPT_ENCRYPTION:
        if (!(o->encryption = encryption_mode(val)))
            return fail(why, whylen, "expected tolerated, preferred or required");
        return 0;
    case SWARM_OPT_PROXY:
        if (strncmp(val, "socks5://", 9) != 0)
            return fail(why, whylen, "expected socks5://[USER:PASS@]HOST:PORT");
        o->proxy = val;
        return 0;
    case SWARM_OPT_PROXY_ONLY:
        o->proxy_only = on;
        return 0;
    case SWARM_OPT_ANONYMOUS:
        o->anonymous = on;
        return 0;
    case SWARM_OPT_BLOCKLIST:
        return set_text(&o->blocklist, val, why, whylen);
    case SWARM_OPT_PORT_MAPPING:
        o->port_mapping = on;
        return 0;
    case SWARM_OPT_BIND:
        return set_text(&o->bind, val, why, whylen);
    default:
        return fail(why, whylen, "not an option of this command");
    }
}

int
swarm_opts_set_fn(void *ctx, int id, const char *val, char *why, size_t whylen)
{
    return swarm_opts_set(ctx, id, val, why, whylen);
}
