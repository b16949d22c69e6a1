/*
 * swarm.c — runs a session for the get, seed and share commands: loads
 * the sources, checks the options against them, runs the session, and
 * stops it cleanly on a signal. CLI layer.
 */
#include "swarm.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cmd.h"
#include "display.h"

/* The session a signal should stop: one per process, set by swarm_run. */
static shoal_session *signal_target;

static void
on_signal(int sig)
{
    (void)sig;
    if (signal_target)
        shoal_session_stop(signal_target);
}

int
swarm_load(const char *cmd, const char *path, shoal_metainfo **out)
{
    struct shoal_perr err;
    memset(&err, 0, sizeof(err));
    if (!strncasecmp(path, "magnet:", 7)) {
        cli_error(cmd, "magnet links need the metadata exchange, which this build does "
                       "not have yet; use a .torrent file");
        return EXIT_USAGE;
    }
    int rc = shoal_metainfo_load(path, out, &err);
    if (rc == SHOAL_EPARSE || rc == SHOAL_ETOOBIG) {
        cli_error(cmd, "bad torrent: %s (at byte %zu)", shoal_perr_text(&err), err.off);
        return EXIT_USAGE;
    }
    if (rc) {
        cli_error(cmd, "%s: %s: %s", path, shoal_perr_text(&err), shoal_strerror(rc));
        return rc == -ENOENT || rc == -EISDIR ? EXIT_USAGE : EXIT_FAIL;
    }
    return 0;
}

int
swarm_run(const char *cmd, const struct swarm_opts *o, shoal_metainfo *m)
{
    struct shoal_settings set;
    shoal_settings_init(&set);
    set.port = o->port;
    set.local_only = o->local_only;
    set.max_up = o->max_up;
    set.max_down = o->max_down;
    set.verbose = o->verbose;
    shoal_session *ss = NULL;
    int rc = shoal_session_new(&set, &ss);
    if (rc) {
        cli_error(cmd, "cannot start the session: %s", shoal_strerror(rc));
        shoal_metainfo_free(m);
        return EXIT_FAIL;
    }
    struct display *d = display_new(cmd, o->verbose);
    if (!d) {
        cli_error(cmd, "out of memory");
        shoal_metainfo_free(m);
        shoal_session_free(ss);
        return EXIT_FAIL;
    }
    shoal_session_set_event_cb(ss, display_on_event, d);
    printf("listening on port %d\n", shoal_session_port(ss));
    fflush(stdout);

    struct shoal_torrent_opts topts = {
        .save_dir = o->dir,
        .incomplete_ext = o->incomplete_ext ? ".part" : NULL,
        .recheck = o->recheck,
        .sequential = o->sequential,
        .seed_only = o->seed_only,
        .only = o->only,
        .trackers = o->trackers,
    };
    struct shoal_perr err;
    shoal_torrent *t = NULL;
    char name[256];
    snprintf(name, sizeof(name), "%s", shoal_metainfo_name(m));
    rc = shoal_session_add(ss, m, &topts, &t, &err);
    if (rc) {
        cli_error(cmd, "%s: %s", name, shoal_perr_text(&err));
        shoal_metainfo_free(m);
        shoal_session_free(ss);
        display_free(d);
        return rc == SHOAL_EINVAL ? EXIT_USAGE : EXIT_FAIL;
    }
    for (int i = 0; i < o->npeers; i++) {
        rc = shoal_torrent_add_peer(t, o->peers[i]);
        if (rc) {
            cli_error(cmd, "--peer %s: %s", o->peers[i], shoal_strerror(rc));
            shoal_session_free(ss);
            display_free(d);
            return EXIT_USAGE;
        }
    }
    display_add(d, ss, t, name);

    signal_target = ss;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = shoal_session_run(ss, o->exit_when_done);
    display_end(d);
    struct shoal_torrent_status st;
    shoal_torrent_status(t, &st);
    int done = st.have_wanted == st.total_wanted;
    signal_target = NULL;
    shoal_session_set_event_cb(ss, NULL, NULL);
    shoal_session_free(ss);
    int code = EXIT_OK;
    if (rc) {
        cli_error(cmd, "session failed: %s", shoal_strerror(rc));
        code = EXIT_FAIL;
    } else if (display_check_failed(d)) {
        /* Why was said when the state changed. */
        cli_error(cmd, "%s: cannot check the existing data", name);
        code = EXIT_FAIL;
    } else if (o->exit_when_done && !done) {
        code = EXIT_FAIL;
    }
    display_totals(d);
    display_free(d);
    return code;
}

int
swarm_main(const char *cmd, const struct swarm_opts *o)
{
    if (o->nsources != 1) {
        cli_error(cmd, "one torrent at a time in this build");
        return EXIT_USAGE;
    }
    shoal_metainfo *m = NULL;
    int rc = swarm_load(cmd, o->sources[0], &m);
    if (rc)
        return rc;
    return swarm_run(cmd, o, m);
}
