/*
 * ondone.h — the --on-done command: a program started, never through a
 * shell, when a torrent completes, with the torrent's name, folder and
 * infohash in its environment; reaped without blocking the session. CLI
 * layer.
 */
#ifndef SHOAL_CLI_ONDONE_H
#define SHOAL_CLI_ONDONE_H

#include <stddef.h>
#include <sys/types.h>

/* Commands running at once; a completion past this is reported, not run. */
#define ONDONE_MAX_RUNNING 16

/* Says one thing about a command (that it started, how it ended). */
typedef void (*ondone_note_fn)(void *user, const char *line);

struct ondone {
    const char *prog; /* the program's path, as given */
    ondone_note_fn note;
    void *user;
    pid_t pids[ONDONE_MAX_RUNNING];
    char names[ONDONE_MAX_RUNNING][128]; /* the torrent each one is for */
    int running;
};

/* Readies od for program prog (kept, not copied); note gets each line. */
void ondone_init(struct ondone *od, const char *prog, ondone_note_fn note, void *user);

/*
 * Starts the program for a completed torrent: argv is the program's path
 * alone, and the environment is this process's plus SHOAL_TORRENT_NAME,
 * SHOAL_TORRENT_DIR, SHOAL_TORRENT_HASH and Transmission's TR_TORRENT_NAME,
 * TR_TORRENT_DIR, TR_TORRENT_HASH. Returns 0, or -errno when it could not
 * start (which was noted).
 */
int ondone_run(struct ondone *od, const char *name, const char *dir, const char *hash);

/* Notes how each finished command ended, without waiting for the others. */
void ondone_reap(struct ondone *od);

/* Waits for the commands still running (a signal ends the wait early). */
void ondone_wait(struct ondone *od);

/* The environment ondone_run() gives the program: base with any earlier
 * SHOAL_TORRENT_* and TR_TORRENT_* entries left out, then the six
 * variables. Returns a NULL-terminated array whose entries and strings
 * live in one block (free it with free()), or NULL when out of memory. */
char **ondone_env(char *const *base, const char *name, const char *dir, const char *hash);

#endif
