/*
 * options.h — the declarative option tables of the subcommands, and
 * everything made from them: getopt_long's table and its error messages,
 * `shoal CMD --help`, the man page, and the keys of the config file. A
 * command lists its options once, in a table of struct opt_def; nothing
 * else spells an option's name. CLI layer; uses only shoal.h.
 */
#ifndef SHOAL_CLI_OPTIONS_H
#define SHOAL_CLI_OPTIONS_H

#include <stddef.h>
#include <stdio.h>

struct cmd_entry;

/* opt_def.flags */
#define OPT_REPEAT 0x1u /* may be given several times; each one adds */
#define OPT_CONFIG 0x2u /* may be set in the config file */
#define OPT_NEGATE 0x4u /* a flag that also has a --no-NAME form */

/* A value's form and its expected spelling, for messages (why buffers). */
#define OPT_WHY_MAX 160

struct opt_def {
    int id;            /* the command's number for it (passed to set); 0 ends a table */
    const char *name;  /* long name, also the config key */
    int letter;        /* short form, or 0 */
    const char *arg;   /* the argument's name in help ("DIR"); NULL for a flag */
    const char *def;   /* the default, as help shows it */
    const char *help;  /* what it does, one sentence or two */
    unsigned flags;    /* OPT_* */
    const char *alias; /* an older long name that still works, or NULL */
    int alias_letter;  /* an older short form that still works, or 0 */
};

/*
 * Applies one option to a command's context. val is the argument, or "1"
 * (given) / "0" (--no-NAME, or false in the config file) for a flag.
 * Returns 0, or -1 with why filled with what was expected ("expected
 * HOST:PORT ..."), which the caller prints with the option or the config
 * file's line.
 */
typedef int (*opt_set_fn)(void *ctx, int id, const char *val, char *why, size_t whylen);

/* Every option of cmd, its own and the ones every command has (--help,
 * --config, --no-config), in the order help shows them: fills out[] (at
 * most cap) and returns the count. */
size_t opt_list(const struct cmd_entry *cmd, const struct opt_def **out, size_t cap);

/* The option of cmd called `name` (its long name; an alias too when
 * aliases is 1), or NULL. */
const struct opt_def *opt_find(const struct cmd_entry *cmd, const char *name,
                               int aliases);

/* 1 when def is one of the options every command has (--help, --config...). */
int opt_is_common(const struct opt_def *def);

/* Ids of the options every command has. */
enum { OPT_ID_HELP = 9001, OPT_ID_CONFIG, OPT_ID_NO_CONFIG };

/* The result of parsing a command line. */
struct opt_args {
    int help;           /* --help was given */
    int no_config;      /* --no-config */
    const char *config; /* --config FILE, or NULL */
    int argc;           /* the positional arguments */
    char **argv;
};

/*
 * First pass over a command line: finds --help, --config and --no-config
 * (the config file is read before the other options are applied) and
 * reports nothing. argv may be reordered (options first), as getopt does.
 */
void opt_prescan(const struct cmd_entry *cmd, int argc, char **argv, struct opt_args *a);

/*
 * Second pass: applies every option through cmd->set(ctx, ...) and fills
 * a->argc/argv with the positional arguments. Returns 0, or EXIT_USAGE
 * after printing "shoal CMD: ..." (unknown option, a missing value, a bad
 * value with the form expected).
 */
int opt_parse(const struct cmd_entry *cmd, void *ctx, int argc, char **argv,
              struct opt_args *a);

/* `shoal CMD --help`: usage, what it does, and every option with its
 * argument, default and description. */
void opt_print_help(const struct cmd_entry *cmd, FILE *out);

/* The man page (roff) of the whole program, for `shoal help --man`. */
void opt_print_man(FILE *out);

/* "--name" or "-x": how an option was spelled on the command line, for
 * messages. */
const char *opt_spelling(const char *arg, char *buf, size_t len);

#endif
