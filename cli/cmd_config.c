/*
 * cmd_config.c — `shoal config`: prints the settings every command starts
 * from, each with where it came from (a built-in default, or FILE:LINE of
 * the config file), after checking every value of the file against the
 * options it sets. CLI layer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "config.h"

/* Column where the origin comment starts. */
#define ORIGIN_COL 40

/* Applies the config to a scratch context of cmd, which checks its values
 * the way a run of cmd would. Returns 0 or an exit code. */
static int
check_values(const struct config *c, const struct cmd_entry *cmd)
{
    void *ctx = calloc(1, cmd->ctx_size ? cmd->ctx_size : 1);
    if (!ctx) {
        cli_error("config", "out of memory");
        return EXIT_FAIL;
    }
    if (cmd->init)
        cmd->init(ctx);
    int rc = cmd->set ? config_apply(c, cmd, ctx, "config") : 0;
    free(ctx);
    return rc;
}

static void
setting(const char *key, const char *val, const char *origin, int line)
{
    int col = printf("%s = %s", key, val);
    printf("%*s# ", col < ORIGIN_COL ? ORIGIN_COL - col : 1, "");
    if (line)
        printf("%s:%d\n", origin, line);
    else
        printf("%s\n", origin);
}

static void
print_command(const struct config *c, const struct cmd_entry *cmd)
{
    printf("\n[%s]\n", cmd->name);
    for (const struct opt_def *d = cmd->opts; d && d->id; d++) {
        if (!(d->flags & OPT_CONFIG))
            continue;
        size_t last = 0, count = 0;
        for (size_t i = 0; c && i < c->n; i++) {
            if (config_applies(c, i, cmd) != d)
                continue;
            count++;
            last = i;
            /* Each value of a repeatable option counts. */
            if (d->flags & OPT_REPEAT)
                setting(d->name,
                        d->arg                        ? c->entries[i].val
                        : c->entries[i].val[0] == '1' ? "on"
                                                      : "off",
                        c->path, c->entries[i].line);
        }
        if (count && !(d->flags & OPT_REPEAT)) {
            const struct config_entry *e = &c->entries[last];
            setting(d->name,
                    d->arg             ? e->val
                    : e->val[0] == '1' ? "on"
                                       : "off",
                    c->path, e->line);
        } else if (!count) {
            setting(d->name, d->def, "default", 0);
        }
    }
}

static int
run_config(void *ctx, int argc, char **argv)
{
    const struct config *c = cli_config();
    (void)ctx;
    (void)argc;
    (void)argv;
    for (size_t i = 0; c && i < cli_ncommands; i++) {
        int rc = check_values(c, cli_commands[i]);
        if (rc)
            return rc;
    }
    if (!c)
        printf("# config file: none (--no-config, or neither XDG_CONFIG_HOME nor HOME "
               "is set)\n");
    else if (!c->text)
        printf("# config file: %s (not found: every setting is a default)\n", c->path);
    else
        printf("# config file: %s\n", c->path);
    for (size_t i = 0; i < cli_ncommands; i++)
        if (cli_commands[i] != &cmd_config)
            print_command(c, cli_commands[i]);
    return EXIT_OK;
}

const struct cmd_entry cmd_config = {
    .name = "config",
    .args = "",
    .summary = "show the settings each command starts from, and where each came from",
    .about =
        "Prints, for every command, the value of each option the config file may set, "
        "and where it came from: the built-in default or FILE:LINE. The config file "
        "is checked on the way; a bad line is an error (exit 2) naming FILE:LINE.\n"
        "The config file is $XDG_CONFIG_HOME/shoal/config, or ~/.config/shoal/config "
        "when XDG_CONFIG_HOME is not set; --config FILE reads another, --no-config "
        "none. It holds KEY = VALUE lines, where KEY is the long name of an option "
        "(port, max-down, dir...) and VALUE what the option takes; a flag takes true "
        "or false (yes/no, on/off, 1/0); a VALUE starting with ~/ is under the home "
        "folder. Lines starting with # and blank lines are ignored. A key applies to "
        "every command that has that option; after a [COMMAND] line (such as [get] or "
        "[seed]) keys apply to that command only. Options on the command line override "
        "the file; repeatable ones (--peer, --tracker, --webseed) add to its values. "
        "An unknown key, or a bad value, is an error naming FILE:LINE.",
    .min_args = 0,
    .max_args = 0,
    .run = run_config,
};
