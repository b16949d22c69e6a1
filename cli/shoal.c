/*
 * shoal.c — entry point of the shoal command-line tool: picks the
 * subcommand from the table and runs it. CLI layer; uses only shoal.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cmd.h"
#include "shoal.h"

static const struct cmd_entry *const commands[] = {
    &cmd_create, &cmd_info, &cmd_get, &cmd_seed, &cmd_share, &cmd_tracker,
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

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
    fprintf(stderr, "usage: shoal %s %s\n", cmd->name, cmd->usage);
    return EXIT_USAGE;
}

int
cli_is_tty(void)
{
    return isatty(STDERR_FILENO);
}

static void
print_help(FILE *out)
{
    fprintf(out, "shoal %s — a BitTorrent node\n\nusage: shoal COMMAND [ARGS]\n\n",
            shoal_version());
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-8s %s\n           %s %s\n", commands[i]->name,
                commands[i]->summary, commands[i]->name, commands[i]->usage);
    fprintf(out, "\nExit codes: 0 ok, 1 runtime failure, 2 bad usage or bad input.\n");
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
    if (!strcmp(name, "help") || !strcmp(name, "-h") || !strcmp(name, "--help")) {
        print_help(stdout);
        return EXIT_OK;
    }
    if (!strcmp(name, "version") || !strcmp(name, "--version")) {
        printf("shoal %s\n", shoal_version());
        return EXIT_OK;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(name, commands[i]->name))
            return commands[i]->run(argc - 1, argv + 1);
    fprintf(stderr, "shoal: unknown command '%s' (try: shoal help)\n", name);
    return EXIT_USAGE;
}
