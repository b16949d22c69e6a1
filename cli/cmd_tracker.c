/*
 * cmd_tracker.c — `shoal tracker`: runs the tracker and index server until
 * SIGINT or SIGTERM. CLI layer; uses only shoal.h.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "shoal.h"

/* Announce intervals accepted: below a minute clients would hammer the
 * tracker, but tests and small private swarms want short ones; peers expire
 * after two intervals, so a day is the useful maximum. */
#define INTERVAL_MIN 10
#define INTERVAL_MAX 86400
/* Upper bounds that are surely typos beyond. */
#define MAX_PEERS_LIMIT  (1u << 30)
#define MAX_SWARMS_LIMIT (1u << 26)
#define RATE_LIMIT       1000000

enum {
    OPT_HTTP = 1,
    OPT_UDP,
    OPT_WHITELIST,
    OPT_INTERVAL,
    OPT_MAX_PEERS,
    OPT_MAX_SWARMS,
    OPT_RATE,
    OPT_LOCAL_ONLY
};

/* clang-format off */
static const struct opt_def tracker_opts[] = {
    {OPT_HTTP, "http", 0, "ADDR:PORT", "0.0.0.0:6969 when neither --http nor --udp",
     "serve HTTP announces, scrapes, /stats and a status page on ADDR:PORT "
     "([ADDR]:PORT for IPv6; port 0: any free port)", OPT_CONFIG},
    {OPT_UDP, "udp", 0, "ADDR:PORT", "0.0.0.0:6969 when neither --http nor --udp",
     "serve UDP announces and scrapes (BEP 15) on ADDR:PORT", OPT_CONFIG},
    {OPT_WHITELIST, "whitelist", 0, "FILE", "none: any torrent",
     "track only the infohashes listed in FILE (40 hex digits a line)", OPT_CONFIG},
    {OPT_INTERVAL, "interval", 0, "SECONDS", "1800",
     "announce interval handed to clients, 10 to 86400 seconds (or 30m, 1h); "
     "peers expire after two", OPT_CONFIG},
    {OPT_MAX_PEERS, "max-peers", 0, "N", "16777216",
     "peers kept in all, over every swarm", OPT_CONFIG},
    {OPT_MAX_SWARMS, "max-swarms", 0, "N", "1048576",
     "swarms kept; the least active is dropped past it", OPT_CONFIG},
    {OPT_RATE, "rate", 0, "N", "100",
     "requests per second allowed from one address", OPT_CONFIG},
    {OPT_LOCAL_ONLY, "local-only", 0, NULL, "off",
     "listen on loopback addresses only (also SHOAL_LOCAL_ONLY=1)", OPT_CONFIG},
    {0},
};
/* clang-format on */

/* The tracker a signal stops: one per process. */
static shoal_tracker *signal_target;

static void
on_signal(int sig)
{
    (void)sig;
    if (signal_target)
        shoal_tracker_stop(signal_target);
}

/* The tracker's warnings, on stderr. */
static void
log_line(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "shoal tracker: %s\n", line);
}

static void
init_tracker(void *ctx)
{
    struct shoal_tracker_settings *s = ctx;
    shoal_tracker_settings_init(s);
    s->log = log_line;
}

static int
set_address(const char **field, const char *val, char *why, size_t whylen)
{
    char host[256];
    uint16_t port;
    if (shoal_parse_hostport(val, SHOAL_HOSTPORT_ANY_PORT, host, sizeof(host), &port)) {
        snprintf(why, whylen, "expected ADDR:PORT, e.g. 127.0.0.1:6969 or [::1]:6969");
        return -1;
    }
    *field = val;
    return 0;
}

static int
set_number(uint64_t min, uint64_t max, const char *val, uint64_t *out, char *why,
           size_t whylen)
{
    if (cli_parse_uint(val, min, max, out) != 0) {
        snprintf(why, whylen, "expected a number from %" PRIu64 " to %" PRIu64, min, max);
        return -1;
    }
    return 0;
}

static int
set_tracker(void *ctx, int id, const char *val, char *why, size_t whylen)
{
    struct shoal_tracker_settings *s = ctx;
    uint64_t v;
    switch (id) {
    case OPT_HTTP:
        return set_address(&s->http_addr, val, why, whylen);
    case OPT_UDP:
        return set_address(&s->udp_addr, val, why, whylen);
    case OPT_WHITELIST:
        s->whitelist = val;
        return 0;
    case OPT_INTERVAL:
        if (cli_parse_duration(val, &v) != 0 || v < INTERVAL_MIN || v > INTERVAL_MAX) {
            snprintf(why, whylen,
                     "expected %d to %d seconds (the minimum is %d s; 30m, 1h also work)",
                     INTERVAL_MIN, INTERVAL_MAX, INTERVAL_MIN);
            return -1;
        }
        s->interval = (uint32_t)v;
        return 0;
    case OPT_MAX_PEERS:
        if (set_number(1, MAX_PEERS_LIMIT, val, &v, why, whylen))
            return -1;
        s->max_peers = (size_t)v;
        return 0;
    case OPT_MAX_SWARMS:
        if (set_number(1, MAX_SWARMS_LIMIT, val, &v, why, whylen))
            return -1;
        s->max_swarms = (size_t)v;
        return 0;
    case OPT_RATE:
        if (set_number(1, RATE_LIMIT, val, &v, why, whylen))
            return -1;
        s->rate_per_ip = (uint32_t)v;
        return 0;
    case OPT_LOCAL_ONLY:
        s->local_only = val[0] == '1';
        return 0;
    default:
        snprintf(why, whylen, "not an option of tracker");
        return -1;
    }
}

/* Says why the tracker could not start; a failure to listen names the
 * address and the system's reason. */
static int
start_failed(const struct shoal_tracker_settings *s, int rc, const struct shoal_perr *err)
{
    if (rc < 0 && rc > SHOAL_ELAST && err->why && strstr(err->why, "listen")) {
        /* The library says which listener failed only in words. */
        const char *addr = strstr(err->why, "UDP") ? s->udp_addr : s->http_addr;
        cli_error("tracker", "cannot listen on %s: %s", addr ? addr : "?",
                  shoal_strerror(rc));
        return EXIT_FAIL;
    }
    cli_error("tracker", "%s", shoal_perr_text(err));
    return rc == SHOAL_EINVAL || rc == SHOAL_EPARSE || rc == SHOAL_ELOCALONLY ? EXIT_USAGE
                                                                              : EXIT_FAIL;
}

static int
run_tracker(void *ctx, int argc, char **argv)
{
    struct shoal_tracker_settings *s = ctx;
    (void)argc;
    (void)argv;
    if (!s->http_addr && !s->udp_addr)
        s->http_addr = s->udp_addr = "0.0.0.0:6969";
    shoal_tracker *tr = NULL;
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    int rc = shoal_tracker_new(s, &tr, &err);
    if (rc)
        return start_failed(s, rc, &err);
    if (shoal_tracker_http_port(tr))
        printf("http on port %d\n", shoal_tracker_http_port(tr));
    if (shoal_tracker_udp_port(tr))
        printf("udp on port %d\n", shoal_tracker_udp_port(tr));
    fflush(stdout);
    signal_target = tr;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    rc = shoal_tracker_run(tr);
    signal_target = NULL;
    shoal_tracker_free(tr);
    fprintf(stderr, "shoal tracker: stopped\n");
    return rc ? EXIT_FAIL : EXIT_OK;
}

const struct cmd_entry cmd_tracker = {
    .name = "tracker",
    .args = "",
    .summary = "run a tracker (HTTP and UDP announce/scrape, /stats, a status page)",
    .about = "Runs a BitTorrent tracker until SIGINT or SIGTERM: HTTP announces and "
             "scrapes (BEP 3, 23, 48), UDP ones (BEP 15), /stats as JSON and a status "
             "page. Open to any torrent unless --whitelist is given.",
    .opts = tracker_opts,
    .min_args = 0,
    .max_args = 0,
    .ctx_size = sizeof(struct shoal_tracker_settings),
    .init = init_tracker,
    .set = set_tracker,
    .run = run_tracker,
};
