/*
 * ondone.c — runs the --on-done program when a torrent completes. CLI
 * layer.
 *
 * The program is started with posix_spawn(): no shell ever reads the
 * torrent's name, which comes from the torrent file and may hold quotes,
 * "$(...)" or newlines; it reaches the program only as the value of an
 * environment variable. Finished programs are reaped with WNOHANG from the
 * session's once-a-second tick, so a slow one never holds the loop up.
 */
#include "ondone.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

/* Variables a program run by an earlier client may have left in ours. */
static const char *const own_prefixes[] = {"SHOAL_TORRENT_", "TR_TORRENT_"};

static int
is_own(const char *entry)
{
    for (size_t i = 0; i < sizeof(own_prefixes) / sizeof(own_prefixes[0]); i++)
        if (!strncmp(entry, own_prefixes[i], strlen(own_prefixes[i])))
            return 1;
    return 0;
}

char **
ondone_env(char *const *base, const char *name, const char *dir, const char *hash)
{
    const char *keys[] = {"SHOAL_TORRENT_NAME", "SHOAL_TORRENT_DIR", "SHOAL_TORRENT_HASH",
                          "TR_TORRENT_NAME",    "TR_TORRENT_DIR",    "TR_TORRENT_HASH"};
    const char *vals[] = {name, dir, hash, name, dir, hash};
    enum { NVARS = 6 };
    size_t n = 0, bytes = 0;
    for (size_t i = 0; base && base[i]; i++) {
        if (is_own(base[i]))
            continue;
        n++;
        bytes += strlen(base[i]) + 1;
    }
    for (int i = 0; i < NVARS; i++)
        bytes += strlen(keys[i]) + 1 + strlen(vals[i]) + 1;
    size_t slots = n + NVARS + 1;
    char **env = malloc(slots * sizeof(char *) + bytes);
    if (!env)
        return NULL;
    char *p = (char *)(env + slots);
    size_t k = 0;
    for (size_t i = 0; base && base[i]; i++) {
        if (is_own(base[i]))
            continue;
        size_t len = strlen(base[i]) + 1;
        memcpy(p, base[i], len);
        env[k++] = p;
        p += len;
    }
    for (int i = 0; i < NVARS; i++) {
        size_t kl = strlen(keys[i]), vl = strlen(vals[i]);
        memcpy(p, keys[i], kl);
        p[kl] = '=';
        memcpy(p + kl + 1, vals[i], vl + 1);
        env[k++] = p;
        p += kl + 1 + vl + 1;
    }
    env[k] = NULL;
    return env;
}

void
ondone_init(struct ondone *od, const char *prog, ondone_note_fn note, void *user)
{
    memset(od, 0, sizeof(*od));
    od->prog = prog;
    od->note = note;
    od->user = user;
}

static void notef(struct ondone *od, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
notef(struct ondone *od, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (od->note)
        od->note(od->user, line);
}

int
ondone_run(struct ondone *od, const char *name, const char *dir, const char *hash)
{
    if (od->running == ONDONE_MAX_RUNNING) {
        notef(od, "%s: --on-done not run: %d commands are still running", name,
              ONDONE_MAX_RUNNING);
        return -EAGAIN;
    }
    char **env = ondone_env(environ, name, dir, hash);
    if (!env) {
        notef(od, "%s: --on-done not run: out of memory", name);
        return -ENOMEM;
    }
    char *argv[] = {(char *)od->prog, NULL};
    /* shoal ignores SIGPIPE, and an ignored signal stays ignored across
     * exec: the program gets the default back, as from a shell. */
    posix_spawnattr_t attr;
    sigset_t dflt;
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGPIPE);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawn(&pid, od->prog, NULL, &attr, argv, env);
    posix_spawnattr_destroy(&attr);
    free(env);
    if (rc != 0) {
        notef(od, "%s: cannot run --on-done %s: %s", name, od->prog, strerror(rc));
        return -rc;
    }
    int i = od->running++;
    od->pids[i] = pid;
    snprintf(od->names[i], sizeof(od->names[i]), "%s", name);
    notef(od, "%s: --on-done %s started (pid %d)", name, od->prog, (int)pid);
    return 0;
}

/* Says how pid i ended (status < 0: nobody knows) and forgets it. */
static void
ended(struct ondone *od, int i, int status)
{
    if (status < 0)
        ;
    else if (WIFEXITED(status))
        notef(od, "%s: --on-done %s exited with status %d", od->names[i], od->prog,
              WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        notef(od, "%s: --on-done %s was killed by signal %d", od->names[i], od->prog,
              WTERMSIG(status));
    od->running--;
    od->pids[i] = od->pids[od->running];
    memcpy(od->names[i], od->names[od->running], sizeof(od->names[i]));
}

void
ondone_reap(struct ondone *od)
{
    for (int i = 0; i < od->running;) {
        int status;
        pid_t r = waitpid(od->pids[i], &status, WNOHANG);
        if (r == od->pids[i] || (r < 0 && errno == ECHILD)) {
            ended(od, i, r < 0 ? -1 : status);
            continue;
        }
        i++;
    }
}

void
ondone_wait(struct ondone *od)
{
    while (od->running > 0) {
        int status;
        pid_t r = waitpid(od->pids[0], &status, 0);
        if (r < 0 && errno == EINTR)
            return;
        ended(od, 0, r < 0 ? -1 : status);
    }
}
