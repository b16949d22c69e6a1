/*
 * cmd_dht.c — `shoal dht`: a standalone DHT node (a bootstrap node for a
 * private network, a helper for tests) that runs until SIGINT or SIGTERM
 * and prints its routing table on SIGUSR1 or with --table; and `shoal dht
 * lookup INFOHASH`, which finds the peers of a torrent, prints them one
 * "ip:port" a line, and exits. CLI layer; uses only shoal.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "cmd.h"
#include "shoal.h"
#include "state.h"

/* The node's default UDP port: the one BitTorrent clients use. */
#define DHT_DEFAULT_PORT 6881
/* Bootstrap nodes given at most. */
#define DHT_MAX_BOOT 16
/* --table: the first print this long after start (the node has joined by
 * then), then every DHT_TABLE_EVERY_S. */
#define DHT_TABLE_FIRST_S 5
#define DHT_TABLE_EVERY_S 60
/* lookup: how long it may take at most by default, and the pause before
 * a lookup that found nobody is tried again (the table is still filling). */
#define DHT_LOOKUP_TIMEOUT_S 30
#define DHT_LOOKUP_RETRY_S   2
/* Distinct peers a lookup prints at most. */
#define DHT_LOOKUP_MAX_PEERS 1000

enum {
    OPT_PORT = 1,
    OPT_BOOTSTRAP,
    OPT_TABLE,
    OPT_STATE,
    OPT_READ_ONLY,
    OPT_LOCAL_ONLY,
    OPT_ANNOUNCE,
    OPT_TIMEOUT,
    OPT_VERBOSE,
};

/* clang-format off */
static const struct opt_def dht_opts[] = {
    {OPT_PORT, "port", 0, "N", "6881 (a free port when taken); any for lookup",
     "run the node on UDP port N (0: any free port)", OPT_CONFIG},
    {OPT_BOOTSTRAP, "bootstrap", 0, "HOST:PORT",
     "the public routers (none with --local-only)",
     "join the DHT through this node; given once or more, it replaces the "
     "public routers", OPT_REPEAT | OPT_CONFIG},
    {OPT_TABLE, "table", 0, NULL, "off",
     "print the routing table 5 seconds after start, then every minute "
     "(SIGUSR1 prints it at any time)", 0},
    {OPT_STATE, "state", 0, "FILE", "dht-node.dat in the state folder; none with "
     "--local-only or for lookup",
     "load the routing table from FILE at start and save it there at exit and "
     "every 10 minutes, so a restart needs no bootstrap node", OPT_CONFIG},
    {OPT_READ_ONLY, "read-only", 0, NULL, "off",
     "query other nodes but answer none (BEP 43)", OPT_CONFIG},
    {OPT_LOCAL_ONLY, "local-only", 0, NULL, "off",
     "talk to loopback addresses only (also SHOAL_LOCAL_ONLY=1)", OPT_CONFIG},
    {OPT_ANNOUNCE, "announce", 0, "PORT", "none",
     "lookup: also announce that a peer listens on PORT of this host", 0},
    {OPT_TIMEOUT, "timeout", 0, "SECONDS", "30",
     "lookup: give up after SECONDS without a peer (30s, 2m also work)", 0},
    {OPT_VERBOSE, "verbose", 'v', NULL, "off",
     "print the node's log lines", OPT_CONFIG},
    {0},
};
/* clang-format on */

struct dht_ctx {
    int port;
    int port_set;
    const char *boot[DHT_MAX_BOOT + 1];
    int nboot;
    int table;
    const char *state;
    int read_only;
    int local_only;
    int announce;
    uint64_t timeout_s;
    int verbose;
};

static void
init_dht(void *ctx)
{
    struct dht_ctx *c = ctx;
    memset(c, 0, sizeof(*c));
    c->port = DHT_DEFAULT_PORT;
    c->timeout_s = DHT_LOOKUP_TIMEOUT_S;
}

static int
set_dht(void *ctx, int id, const char *val, char *why, size_t whylen)
{
    struct dht_ctx *c = ctx;
    uint64_t v;
    char host[256];
    uint16_t port;
    switch (id) {
    case OPT_PORT:
        if (cli_parse_uint(val, 0, 65535, &v) != 0) {
            snprintf(why, whylen, "expected a port number from 0 to 65535");
            return -1;
        }
        c->port = (int)v;
        c->port_set = 1;
        return 0;
    case OPT_BOOTSTRAP:
        if (shoal_parse_hostport(val, 0, host, sizeof(host), &port) != 0) {
            snprintf(why, whylen,
                     "expected HOST:PORT, e.g. 127.0.0.1:6881, [::1]:6881 or "
                     "router.bittorrent.com:6881");
            return -1;
        }
        if (c->nboot >= DHT_MAX_BOOT) {
            snprintf(why, whylen, "at most %d bootstrap nodes", DHT_MAX_BOOT);
            return -1;
        }
        c->boot[c->nboot++] = val;
        c->boot[c->nboot] = NULL;
        return 0;
    case OPT_TABLE:
        c->table = val[0] == '1';
        return 0;
    case OPT_STATE:
        c->state = val;
        return 0;
    case OPT_READ_ONLY:
        c->read_only = val[0] == '1';
        return 0;
    case OPT_LOCAL_ONLY:
        c->local_only = val[0] == '1';
        return 0;
    case OPT_ANNOUNCE:
        if (cli_parse_uint(val, 1, 65535, &v) != 0) {
            snprintf(why, whylen, "expected a port number from 1 to 65535");
            return -1;
        }
        c->announce = (int)v;
        return 0;
    case OPT_TIMEOUT:
        if (cli_parse_duration(val, &v) != 0 || v == 0 || v > 86400) {
            snprintf(why, whylen, "expected 1 to 86400 seconds (30s, 2m also work)");
            return -1;
        }
        c->timeout_s = v;
        return 0;
    case OPT_VERBOSE:
        c->verbose = val[0] == '1';
        return 0;
    default:
        snprintf(why, whylen, "not an option of dht");
        return -1;
    }
}

/* ------------------------------------------------------------------ signals */

/* The session signals stop: one per process. A second's timer (SIGALRM)
 * and SIGUSR1 also stop the loop, so that the program does its work (print
 * the table, check a deadline) between runs of the loop. */
static shoal_session *signal_target;
static volatile sig_atomic_t got_stop, got_usr1, got_alarm;

static void
on_signal(int sig)
{
    if (sig == SIGUSR1)
        got_usr1 = 1;
    else if (sig == SIGALRM)
        got_alarm = 1;
    else
        got_stop = sig;
    if (signal_target)
        shoal_session_stop(signal_target);
}

static void
catch_signals(shoal_session *ss)
{
    signal_target = ss;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct itimerval it = {{1, 0}, {1, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void
release_signals(void)
{
    struct itimerval it;
    memset(&it, 0, sizeof(it));
    setitimer(ITIMER_REAL, &it, NULL);
    signal_target = NULL;
}

/* ------------------------------------------------------------------ session */

static void
on_event(shoal_session *ss, const struct shoal_event *ev, void *user)
{
    (void)ss;
    const struct dht_ctx *c = user;
    if (ev->type == SHOAL_EV_WARNING || (c->verbose && ev->type == SHOAL_EV_LOG))
        fprintf(stderr, "shoal dht: %s\n", ev->message);
}

static int
local_only(const struct dht_ctx *c)
{
    const char *v = getenv("SHOAL_LOCAL_ONLY");
    return c->local_only || (v && v[0] && strcmp(v, "0") != 0);
}

/* Starts a session that runs nothing but the DHT node, on UDP port port
 * (its fallback when taken is any free port). */
static int
start(const char *cmd, struct dht_ctx *c, int port, const char *state, shoal_session **ss)
{
    struct shoal_settings set;
    shoal_settings_init(&set);
    set.listen = 0;
    set.local_only = c->local_only;
    set.dht = 1;
    set.dht_port = port;
    set.dht_bootstrap = c->nboot ? c->boot : NULL;
    set.dht_state_path = state;
    set.dht_read_only = c->read_only;
    set.pex = set.lsd = 0;
    int rc = shoal_session_new(&set, ss);
    if (rc) {
        cli_error(cmd, "cannot start the node: %s", shoal_strerror(rc));
        return EXIT_FAIL;
    }
    shoal_session_set_event_cb(*ss, on_event, c);
    return 0;
}

static void
print_table(shoal_session *ss)
{
    char *t = shoal_session_dht_table(ss);
    if (t) {
        fputs(t, stdout);
        fflush(stdout);
    }
    shoal_free(t);
}

static void
hex(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static int
run_node(struct dht_ctx *c)
{
    char path[STATE_PATH_MAX + 32];
    const char *state = c->state;
    if (!state && !local_only(c) && state_dir_path(NULL, path, STATE_PATH_MAX) == 0 &&
        state_dir_create(path) == 0) {
        size_t len = strlen(path);
        snprintf(path + len, sizeof(path) - len, "/dht-node.dat");
        state = path;
    }
    shoal_session *ss = NULL;
    int rc = start("dht", c, c->port, state, &ss);
    if (rc)
        return rc;
    struct shoal_dht_status st;
    shoal_session_dht_status(ss, &st);
    if (c->port && st.port != c->port)
        fprintf(stderr, "shoal dht: port %d is in use; listening on %d instead\n",
                c->port, st.port);
    char id[41];
    hex(st.id, 20, id);
    printf("dht node id %s\n", id);
    printf("listening on port %d\n", st.port);
    fflush(stdout);
    catch_signals(ss);
    unsigned seconds = 0, next_table = DHT_TABLE_FIRST_S;
    while (!got_stop) {
        if (shoal_session_run(ss, 0) != 0)
            break;
        if (got_alarm) {
            got_alarm = 0;
            seconds++;
            if (c->table && seconds >= next_table) {
                print_table(ss);
                next_table = seconds + DHT_TABLE_EVERY_S;
            }
        }
        if (got_usr1) {
            got_usr1 = 0;
            print_table(ss);
        }
    }
    release_signals();
    int sig = got_stop;
    shoal_session_free(ss);
    fprintf(stderr, "shoal dht: stopped\n");
    return sig ? 128 + sig : EXIT_OK;
}

/* ------------------------------------------------------------------ lookup */

struct lookup {
    char *seen[DHT_LOOKUP_MAX_PEERS];
    size_t nseen;
    int done; /* the lookup in flight ended */
    struct shoal_dht_lookup_stats st;
};

static void
on_peers(void *user, const char *const *peers, size_t n, int done,
         const struct shoal_dht_lookup_stats *st)
{
    struct lookup *lk = user;
    for (size_t i = 0; i < n; i++) {
        size_t k;
        for (k = 0; k < lk->nseen && strcmp(lk->seen[k], peers[i]); k++)
            ;
        if (k < lk->nseen || lk->nseen == DHT_LOOKUP_MAX_PEERS)
            continue;
        if (!(lk->seen[lk->nseen] = strdup(peers[i])))
            continue;
        lk->nseen++;
        printf("%s\n", peers[i]);
    }
    fflush(stdout);
    if (done) {
        lk->done = 1;
        lk->st = *st;
    }
}

/* Reads an infohash: 40 hex digits, or a magnet link's. */
static int
parse_infohash(const char *s, uint8_t ih[20])
{
    if (strlen(s) == 40) {
        for (int i = 0; i < 20; i++) {
            unsigned v;
            if (sscanf(s + 2 * i, "%2x", &v) != 1 ||
                !strchr("0123456789abcdefABCDEF", s[2 * i]) ||
                !strchr("0123456789abcdefABCDEF", s[2 * i + 1]))
                return -1;
            ih[i] = (uint8_t)v;
        }
        return 0;
    }
    shoal_magnet *mg = NULL;
    if (shoal_magnet_parse(s, &mg, NULL) != 0)
        return -1;
    memcpy(ih, shoal_magnet_infohash(mg), 20);
    shoal_magnet_free(mg);
    return 0;
}

static int
run_lookup(struct dht_ctx *c, const char *what)
{
    uint8_t ih[20];
    if (parse_infohash(what, ih) != 0) {
        cli_error("dht", "%s: expected an infohash (40 hex digits) or a magnet link",
                  what);
        return EXIT_USAGE;
    }
    shoal_session *ss = NULL;
    int rc = start("dht lookup", c, c->port_set ? c->port : 0, c->state, &ss);
    if (rc)
        return rc;
    struct lookup lk;
    memset(&lk, 0, sizeof(lk));
    catch_signals(ss);
    uint64_t seconds = 0, retry_at = 0;
    unsigned tries = 0;
    int running = 0;
    while (!got_stop && seconds < c->timeout_s) {
        if (!running && seconds >= retry_at) {
            lk.done = 0;
            rc = shoal_session_dht_lookup(ss, ih, c->announce, on_peers, &lk);
            if (rc && rc != -EAGAIN) {
                cli_error("dht lookup", "%s", shoal_strerror(rc));
                break;
            }
            running = rc == 0;
            tries++;
        }
        if (shoal_session_run(ss, 0) != 0)
            break;
        if (got_alarm) {
            got_alarm = 0;
            seconds++;
        }
        if (running && lk.done) {
            running = 0;
            fprintf(stderr,
                    "shoal dht lookup: %zu peers; %u queries, %u round trips, %u ms%s\n",
                    lk.nseen, lk.st.queries, lk.st.round_trips, (unsigned)lk.st.ms,
                    lk.st.announced ? ", announced" : "");
            /* Once announced, a second lookup would find our own port. */
            if (lk.nseen > 0 || lk.st.announced > 0)
                break;
            retry_at = seconds + DHT_LOOKUP_RETRY_S;
        }
    }
    release_signals();
    int sig = got_stop;
    shoal_session_free(ss);
    for (size_t i = 0; i < lk.nseen; i++)
        free(lk.seen[i]);
    if (sig)
        return 128 + sig;
    if (lk.nseen == 0)
        fprintf(stderr, "shoal dht lookup: no peers found in %llu s (%u lookups)\n",
                (unsigned long long)seconds, tries);
    return lk.nseen > 0 ? EXIT_OK : EXIT_FAIL;
}

static int
run_dht(void *ctx, int argc, char **argv)
{
    struct dht_ctx *c = ctx;
    if (argc == 0)
        return run_node(c);
    if (strcmp(argv[0], "lookup") != 0 || argc != 2) {
        cli_error("dht", "expected no argument, or: lookup INFOHASH");
        return EXIT_USAGE;
    }
    return run_lookup(c, argv[1]);
}

const struct cmd_entry cmd_dht = {
    .name = "dht",
    .args = "[lookup INFOHASH]",
    .summary = "run a standalone DHT node, or look a torrent's peers up in the DHT",
    .about = "Without arguments, runs a DHT node (BEP 5, 32, 42, 43, 51) until SIGINT or "
             "SIGTERM: it prints its id and port, answers other nodes, keeps the peers "
             "announced to it, and prints its routing table on SIGUSR1 (and with "
             "--table). A node for a private network, or a bootstrap node for tests. "
             "With lookup INFOHASH (or a magnet link), finds the torrent's peers, prints "
             "them one ip:port a line, and exits: 0 when it found some, 1 when none "
             "before --timeout, 2 on bad input.",
    .opts = dht_opts,
    .min_args = 0,
    .max_args = 2,
    .ctx_size = sizeof(struct dht_ctx),
    .init = init_dht,
    .set = set_dht,
    .run = run_dht,
};
