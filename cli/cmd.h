/*
 * cmd.h — the subcommand table of the shoal command-line tool.
 *
 * Each subcommand lives in cli/cmd_<verb>.c and exports one struct cmd_entry;
 * cli/shoal.c gathers them in a table. The CLI uses only include/shoal.h.
 *
 * Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad input.
 */
#ifndef SHOAL_CLI_CMD_H
#define SHOAL_CLI_CMD_H

#include <stddef.h>
#include <stdint.h>

#define EXIT_OK    0
#define EXIT_FAIL  1
#define EXIT_USAGE 2

struct cmd_entry {
    const char *name;
    const char *usage;                 /* one line of arguments, after "shoal NAME " */
    const char *summary;               /* what it does, for `shoal help` */
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
};

extern const struct cmd_entry cmd_create;
extern const struct cmd_entry cmd_info;
extern const struct cmd_entry cmd_get;
extern const struct cmd_entry cmd_seed;
extern const struct cmd_entry cmd_share;
extern const struct cmd_entry cmd_tracker;

/* Prints "shoal NAME: " + message to stderr. */
void cli_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints the usage line of a command to stderr and returns EXIT_USAGE. */
int cli_usage(const struct cmd_entry *cmd);
/* 1 when stderr is a terminal (live progress lines), else 0. */
int cli_is_tty(void);

/* "1.50 MiB", "512 B". */
void cli_human_size(uint64_t n, char *out, size_t len);
/* Reads "1048576", "512K", "4M", "1GiB", "10M/s"; 0 or -1 on bad input. */
int cli_parse_size(const char *s, uint64_t *out);

#endif
