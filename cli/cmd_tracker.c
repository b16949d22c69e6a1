/*
 * cmd_tracker.c — `shoal tracker`: runs the tracker and index server until
 * SIGINT or SIGTERM. CLI layer; uses only shoal.h.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "shoal.h"

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

static int
number(const char *opt, const char *arg, uint64_t max, uint64_t *out)
{
    if (cli_parse_size(arg, out) != 0 || *out > max) {
        cli_error("tracker", "bad value '%s' for %s", arg, opt);
        return -1;
    }
    return 0;
}

static int
run_tracker(int argc, char **argv)
{
    static const struct option opts[] = {
        {"http", required_argument, NULL, OPT_HTTP},
        {"udp", required_argument, NULL, OPT_UDP},
        {"whitelist", required_argument, NULL, OPT_WHITELIST},
        {"interval", required_argument, NULL, OPT_INTERVAL},
        {"max-peers", required_argument, NULL, OPT_MAX_PEERS},
        {"max-swarms", required_argument, NULL, OPT_MAX_SWARMS},
        {"rate", required_argument, NULL, OPT_RATE},
        {"local-only", no_argument, NULL, OPT_LOCAL_ONLY},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct shoal_tracker_settings s;
    shoal_tracker_settings_init(&s);
    s.log = log_line;
    uint64_t v;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case OPT_HTTP:
            s.http_addr = optarg;
            break;
        case OPT_UDP:
            s.udp_addr = optarg;
            break;
        case OPT_WHITELIST:
            s.whitelist = optarg;
            break;
        case OPT_INTERVAL:
            if (number("--interval", optarg, 86400, &v) || v < 10)
                return cli_usage(&cmd_tracker);
            s.interval = (uint32_t)v;
            break;
        case OPT_MAX_PEERS:
            if (number("--max-peers", optarg, 1u << 30, &v))
                return EXIT_USAGE;
            s.max_peers = (size_t)v;
            break;
        case OPT_MAX_SWARMS:
            if (number("--max-swarms", optarg, 1u << 26, &v))
                return EXIT_USAGE;
            s.max_swarms = (size_t)v;
            break;
        case OPT_RATE:
            if (number("--rate", optarg, 1000000, &v))
                return EXIT_USAGE;
            s.rate_per_ip = (uint32_t)v;
            break;
        case OPT_LOCAL_ONLY:
            s.local_only = 1;
            break;
        case 'h':
            printf("usage: shoal tracker %s\n", cmd_tracker.usage);
            return EXIT_OK;
        default:
            return cli_usage(&cmd_tracker);
        }
    }
    if (optind != argc)
        return cli_usage(&cmd_tracker);
    if (!s.http_addr && !s.udp_addr)
        s.http_addr = s.udp_addr = "0.0.0.0:6969";
    shoal_tracker *tr = NULL;
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    int rc = shoal_tracker_new(&s, &tr, &err);
    if (rc) {
        cli_error("tracker", "%s", shoal_perr_text(&err));
        return rc == SHOAL_EINVAL || rc == SHOAL_EPARSE || rc == SHOAL_ELOCALONLY
                   ? EXIT_USAGE
                   : EXIT_FAIL;
    }
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
    .usage = "[--http ADDR:PORT] [--udp ADDR:PORT] [--whitelist FILE] [--interval S] "
             "[--max-peers N] [--max-swarms N] [--rate N] [--local-only]",
    .summary = "run a tracker (HTTP and UDP announce/scrape, /stats, a status page)",
    .run = run_tracker,
};
