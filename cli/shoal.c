/*
 * shoal.c — entry point of the shoal command-line tool: picks the
 * subcommand from the table, reads its config file and command line into
 * its context, and runs it; `shoal help` and `shoal -V`. CLI layer; uses
 * only shoal.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "shoal.h"

const struct cmd_entry *const cli_commands[] = {
    &cmd_create, &cmd_info,    &cmd_get, &cmd_seed,
    &cmd_share,  &cmd_tracker, &cmd_dht, &cmd_config,
};

const size_t cli_ncommands = sizeof(cli_commands) / sizeof(cli_commands[0]);

/* The config file the running command was given (shoal config shows it). */
static const struct config *running_config;

const struct config *
cli_config(void)
{
    return running_config;
}

const struct cmd_entry *
cli_command(const char *name)
{
    for (size_t i = 0; i < cli_ncommands; i++)
        if (!strcmp(name, cli_commands[i]->name))
            return cli_commands[i];
    return NULL;
}

void
cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "shoal %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int
cli_usage(const struct cmd_entry *cmd)
{
    fprintf(stderr, "usage: shoal %s [OPTIONS]%s%s (try: shoal %s --help)\n", cmd->name,
            cmd->args[0] ? " " : "", cmd->args, cmd->name);
    return EXIT_USAGE;
}

int
cli_is_tty(void)
{
    return isatty(STDERR_FILENO);
}

/* Reads the config file (unless --no-config) into ctx, then the command
 * line over it. Returns 0 or an exit code (the error was printed). */
static int
load_options(const struct cmd_entry *cmd, void *ctx, int argc, char **argv,
             struct opt_args *a, struct config **cfg)
{
    char path[4096];
    const char *file = a->config;
    if (a->config && a->no_config) {
        cli_error(cmd->name, "--config and --no-config exclude each other");
        return EXIT_USAGE;
    }
    if (!a->no_config && !file && config_default_path(path, sizeof(path)) == 0)
        file = path;
    if (file) {
        int rc = config_load(cmd->name, file, a->config != NULL, cfg);
        if (rc)
            return rc;
        rc = config_apply(*cfg, cmd, ctx, cmd->name);
        if (rc)
            return rc;
    }
    int rc = opt_parse(cmd, ctx, argc, argv, a);
    if (rc)
        return rc;
    if (cmd->max_args > 1 && a->argc > cmd->max_args) {
        cli_error(cmd->name, "at most %d arguments at once (got %d)", cmd->max_args,
                  a->argc);
        return EXIT_USAGE;
    }
    if (a->argc < cmd->min_args || (cmd->max_args >= 0 && a->argc > cmd->max_args))
        return cli_usage(cmd);
    return 0;
}

int
cli_run(const struct cmd_entry *cmd, int argc, char **argv)
{
    struct opt_args a;
    opt_prescan(cmd, argc, argv, &a);
    if (a.help) {
        opt_print_help(cmd, stdout);
        return EXIT_OK;
    }
    void *ctx = calloc(1, cmd->ctx_size ? cmd->ctx_size : 1);
    if (!ctx) {
        cli_error(cmd->name, "out of memory");
        return EXIT_FAIL;
    }
    if (cmd->init)
        cmd->init(ctx);
    struct config *cfg = NULL;
    int rc = load_options(cmd, ctx, argc, argv, &a, &cfg);
    if (!rc) {
        running_config = cfg;
        rc = cmd->run(ctx, a.argc, a.argv);
        running_config = NULL;
    }
    config_free(cfg);
    free(ctx);
    return rc;
}

static void
print_help(FILE *out)
{
    fprintf(out,
            "shoal %s — a BitTorrent node\n\nusage: shoal COMMAND [OPTIONS] [ARGS]\n\n"
            "commands:\n",
            shoal_version());
    for (size_t i = 0; i < cli_ncommands; i++)
        fprintf(out, "  %-8s %s\n", cli_commands[i]->name, cli_commands[i]->summary);
    fprintf(
        out,
        "\n`shoal help COMMAND` or `shoal COMMAND --help` shows a command's options;"
        "\n`man shoal` all of them. `shoal -V` prints the version.\n"
        "\nExit codes: 0 ok, 1 runtime failure, 2 bad usage or bad input,"
        "\nget, seed and share exit 130 when stopped by Ctrl-C (SIGINT), 143 by SIGTERM;"
        "\nthe tracker exits 0 when stopped.\n");
}

/* `shoal help [COMMAND | --man]`; `shoal help --help` is the same as
 * `shoal help`, as `CMD --help` is for every other command. */
static int
run_help(int argc, char **argv)
{
    if (argc < 3 ||
        (argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")))) {
        print_help(stdout);
        return EXIT_OK;
    }
    if (!strcmp(argv[2], "--man")) {
        opt_print_man(stdout);
        return EXIT_OK;
    }
    const struct cmd_entry *cmd = cli_command(argv[2]);
    if (!cmd || argc > 3) {
        fprintf(stderr, "shoal help: no command called '%s' (try: shoal help)\n",
                argv[2]);
        return EXIT_USAGE;
    }
    opt_print_help(cmd, stdout);
    return EXIT_OK;
}

/*
 * Lifts the soft limit on open files to the hard one. A node holds a
 * socket per peer and the tracker one per HTTP client, and the usual soft
 * default (1024) is far below what the hard limit allows. The program does
 * this, not the library: a process-wide limit is the program's to set, and
 * an application embedding libshoal may want its own. Failure is harmless:
 * the listeners pause rather than spin when descriptors run out.
 */
static void
raise_nofile_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
        return;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

int
main(int argc, char **argv)
{
    raise_nofile_limit();
    if (argc < 2) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "help") || !strcmp(name, "-h") || !strcmp(name, "--help"))
        return run_help(argc, argv);
    if (!strcmp(name, "version") || !strcmp(name, "--version") || !strcmp(name, "-V")) {
        printf("shoal %s\n", shoal_version());
        return EXIT_OK;
    }
    const struct cmd_entry *cmd = cli_command(name);
    if (cmd)
        return cli_run(cmd, argc - 1, argv + 1);
    fprintf(stderr, "shoal: unknown command '%s' (try: shoal help)\n", name);
    return EXIT_USAGE;
}
