/*
 * config.h — the config file: `key = value` lines named like the long
 * options, optionally under a [COMMAND] section that limits them to one
 * command. It supplies defaults; the command line overrides them. CLI
 * layer; uses only shoal.h.
 */
#ifndef SHOAL_CLI_CONFIG_H
#define SHOAL_CLI_CONFIG_H

#include <stddef.h>

#include "cmd.h"

/* Biggest config file read: it holds a few dozen short lines. */
#define CONFIG_MAX_BYTES (1024 * 1024)

struct config_entry {
    const char *section; /* a command's name, or NULL: every command with the key */
    const char *key;
    const char *val; /* as written, "~/" expanded; a flag's is "1" or "0" */
    int line;
};

struct config {
    char *path;
    char *text; /* the file, cut into the strings above; NULL: not found */
    struct config_entry *entries;
    size_t n;
    char **expanded; /* values with "~/" replaced, owned */
    size_t nexpanded;
};

/* The usual path ($XDG_CONFIG_HOME/shoal/config, or ~/.config/shoal/config)
 * into buf; -1 when neither variable gives one. */
int config_default_path(char *buf, size_t len);

/*
 * Reads the config file at path, checking every line: its syntax, that each
 * section names a command and each key an option that the config file may
 * set (for some command, or for the section's command), and that a flag's
 * value is true or false. A missing file is an empty config unless
 * must_exist. Returns 0 with *out (free with config_free), or EXIT_USAGE /
 * EXIT_FAIL after printing "shoal CMD: FILE:LINE: ..." for command cmd.
 */
int config_load(const char *cmd, const char *path, int must_exist, struct config **out);
void config_free(struct config *c);

/* The option of cmd that entry i sets, or NULL when it is for another
 * command. */
const struct opt_def *config_applies(const struct config *c, size_t i,
                                     const struct cmd_entry *cmd);

/* Applies every entry meant for cmd through cmd->set. Returns 0, or
 * EXIT_USAGE after printing "shoal WHO: FILE:LINE: bad KEY 'VAL': ..."
 * (who: the command running). */
int config_apply(const struct config *c, const struct cmd_entry *cmd, void *ctx,
                 const char *who);

/* The config file the running command read (NULL: none), for `shoal
 * config`; set by cli_run in shoal.c while the command runs. */
const struct config *cli_config(void);

#endif
