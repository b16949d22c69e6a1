/*
 * cmd.h — the subcommand table of the shoal command-line tool.
 *
 * Each subcommand lives in cli/cmd_<verb>.c and exports one struct cmd_entry;
 * cli/shoal.c gathers them in a table. A command declares its options in a
 * table (options.h) and a context they fill; cli_run reads the config file
 * and the command line into that context, then calls run with what is left
 * (the positional arguments). The CLI uses only include/shoal.h.
 *
 * Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad input,
 * 128 + the signal when stopped by one (130 after Ctrl-C, 143 after SIGTERM).
 */
#ifndef SHOAL_CLI_CMD_H
#define SHOAL_CLI_CMD_H

#include <stddef.h>
#include <stdint.h>

#include "options.h"

#define EXIT_OK    0
#define EXIT_FAIL  1
#define EXIT_USAGE 2

struct cmd_entry {
    const char *name;
    const char *args;    /* the positional arguments, for usage lines ("TORRENT") */
    const char *summary; /* what it does, one line, for `shoal help` */
    const char *about;   /* a paragraph for `CMD --help` and the man page */
    const struct opt_def *opts; /* ends with an entry whose id is 0 */
    int min_args, max_args;     /* positional arguments; max -1 = no limit */
    size_t ctx_size;            /* what init, set and run share */
    void (*init)(void *ctx);    /* the defaults; may be NULL */
    opt_set_fn set;             /* may be NULL when opts is empty */
    int (*run)(void *ctx, int argc, char **argv); /* the positional arguments */
};

extern const struct cmd_entry cmd_create;
extern const struct cmd_entry cmd_info;
extern const struct cmd_entry cmd_get;
extern const struct cmd_entry cmd_seed;
extern const struct cmd_entry cmd_share;
extern const struct cmd_entry cmd_tracker;
extern const struct cmd_entry cmd_dht;
extern const struct cmd_entry cmd_config;

/* Every command, in the order `shoal help` lists them. */
extern const struct cmd_entry *const cli_commands[];
extern const size_t cli_ncommands;

/* The command called name, or NULL. */
const struct cmd_entry *cli_command(const char *name);

/* Reads the config file and argv into a fresh context of cmd and runs it
 * (argv[0] is the command's name). Returns an exit code. */
int cli_run(const struct cmd_entry *cmd, int argc, char **argv);

/* Prints "shoal NAME: " + message to stderr. */
void cli_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints the usage line of a command to stderr and returns EXIT_USAGE. */
int cli_usage(const struct cmd_entry *cmd);
/* 1 when stderr is a terminal (live progress lines), else 0. */
int cli_is_tty(void);

/* "1.50 MiB", "512 B". */
void cli_human_size(uint64_t n, char *out, size_t len);
/* Reads "1048576", "512K", "1.5M", "4MiB", "10M/s": binary units (K = KiB).
 * 0, or -1 on bad input. */
int cli_parse_size(const char *s, uint64_t *out);
/* Reads a plain decimal integer in [min, max]. 0 or -1. */
int cli_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Reads a duration: "90" or "90s", "30m", "2h", "1d", or several of them
 * ("1h30m"), into seconds. 0 or -1. */
int cli_parse_duration(const char *s, uint64_t *out);
/* Reads a flag's value: "1"/"true"/"yes"/"on" -> 1, "0"/"false"/"no"/"off"
 * -> 0, anything else -1. */
int cli_parse_bool(const char *s);

/* The default name of the torrent of path: its last component (of its real
 * path for "." or "..") plus ".torrent", in the current folder. 0 or -1. */
int cli_torrent_name(const char *path, char *out, size_t size);

#endif
