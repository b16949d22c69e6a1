/*
 * options.c — turns the option tables of the subcommands into getopt_long's
 * table, parses the command line with messages of our own (each prefixed
 * "shoal CMD:"), and prints `CMD --help` and the man page from the same
 * tables, so that the three cannot tell different stories. CLI layer.
 */
#include "options.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "shoal.h"

/* Options one command may have, its own and the common ones. */
#define OPT_MAX 64
/* getopt_long's values: a long option returns OPTV_BASE + its index, its
 * --no- form OPTV_NEG + the index (short letters return themselves). */
#define OPTV_BASE 0x1000
#define OPTV_NEG  0x2000
/* Help: where descriptions start, and the width they wrap at. */
#define HELP_DESC_COL 28
#define HELP_WIDTH    79

static const struct opt_def common_opts[] = {
    {OPT_ID_HELP, "help", 'h', NULL, "off", "print this help and exit", 0},
    {OPT_ID_CONFIG, "config", 0, "FILE", "$XDG_CONFIG_HOME/shoal/config",
     "read settings from FILE instead of the usual config file (which is "
     "~/.config/shoal/config when XDG_CONFIG_HOME is not set); see shoal config --help",
     0},
    {OPT_ID_NO_CONFIG, "no-config", 0, NULL, "off", "read no config file", 0},
    {0},
};

size_t
opt_list(const struct cmd_entry *cmd, const struct opt_def **out, size_t cap)
{
    size_t n = 0;
    for (const struct opt_def *d = cmd->opts; d && d->id && n < cap; d++)
        out[n++] = d;
    for (const struct opt_def *d = common_opts; d->id && n < cap; d++)
        out[n++] = d;
    return n;
}

int
opt_is_common(const struct opt_def *def)
{
    return def >= common_opts && def < common_opts + sizeof(common_opts) / sizeof(*def);
}

const struct opt_def *
opt_find(const struct cmd_entry *cmd, const char *name, int aliases)
{
    const struct opt_def *defs[OPT_MAX];
    size_t n = opt_list(cmd, defs, OPT_MAX);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(defs[i]->name, name) ||
            (aliases && defs[i]->alias && !strcmp(defs[i]->alias, name)))
            return defs[i];
    return NULL;
}

const char *
opt_spelling(const char *arg, char *buf, size_t len)
{
    size_t n = strcspn(arg, "=");
    snprintf(buf, len, "%.*s", (int)n, arg);
    return buf;
}

/* ------------------------------------------------------------------ getopt */

struct table {
    const struct opt_def *defs[OPT_MAX];
    size_t ndefs;
    struct option longopts[3 * OPT_MAX + 1];
    char negnames[OPT_MAX][64];
    char shortopts[3 * OPT_MAX + 2];
};

static void
add_short(struct table *t, size_t *ns, int letter, int takes_arg)
{
    if (!letter || *ns + 3 >= sizeof(t->shortopts))
        return;
    t->shortopts[(*ns)++] = (char)letter;
    if (takes_arg)
        t->shortopts[(*ns)++] = ':';
    t->shortopts[*ns] = '\0';
}

static void
table_build(struct table *t, const struct cmd_entry *cmd)
{
    memset(t, 0, sizeof(*t));
    t->ndefs = opt_list(cmd, t->defs, OPT_MAX);
    size_t nl = 0, ns = 0;
    /* A leading ':' makes getopt report a missing value as ':'. */
    t->shortopts[ns++] = ':';
    for (size_t i = 0; i < t->ndefs; i++) {
        const struct opt_def *d = t->defs[i];
        int has = d->arg ? required_argument : no_argument;
        t->longopts[nl++] = (struct option){d->name, has, NULL, OPTV_BASE + (int)i};
        if (d->alias)
            t->longopts[nl++] = (struct option){d->alias, has, NULL, OPTV_BASE + (int)i};
        if (d->flags & OPT_NEGATE) {
            snprintf(t->negnames[i], sizeof(t->negnames[i]), "no-%s", d->name);
            t->longopts[nl++] =
                (struct option){t->negnames[i], no_argument, NULL, OPTV_NEG + (int)i};
        }
        add_short(t, &ns, d->letter, d->arg != NULL);
        add_short(t, &ns, d->alias_letter, d->arg != NULL);
    }
}

/* The index of the option a getopt value stands for, or -1. */
static int
table_index(const struct table *t, int c, int *negated)
{
    *negated = 0;
    if (c >= OPTV_NEG && c < OPTV_NEG + (int)t->ndefs) {
        *negated = 1;
        return c - OPTV_NEG;
    }
    if (c >= OPTV_BASE && c < OPTV_BASE + (int)t->ndefs)
        return c - OPTV_BASE;
    for (size_t i = 0; i < t->ndefs; i++)
        if (c > 0 && (t->defs[i]->letter == c || t->defs[i]->alias_letter == c))
            return (int)i;
    return -1;
}

static int
next_opt(struct table *t, int argc, char **argv)
{
    return getopt_long(argc, argv, t->shortopts, t->longopts, NULL);
}

void
opt_prescan(const struct cmd_entry *cmd, int argc, char **argv, struct opt_args *a)
{
    static struct table t;
    memset(a, 0, sizeof(*a));
    table_build(&t, cmd);
    /* getopt reorders what it scans, and after an error in a different
     * order than a clean pass would: the second pass must see argv as the
     * user wrote it, so this one scans a copy. */
    char **copy = calloc((size_t)argc + 1, sizeof(*copy));
    if (!copy)
        return; /* the second pass still parses everything but the config */
    memcpy(copy, argv, (size_t)argc * sizeof(*copy));
    opterr = 0;
    optind = 0; /* glibc: start afresh, whatever argv the last scan saw */
    int c, neg;
    while ((c = next_opt(&t, argc, copy)) != -1) {
        int i = table_index(&t, c, &neg);
        if (i < 0)
            continue;
        switch (t.defs[i]->id) {
        case OPT_ID_HELP:
            a->help = 1;
            break;
        case OPT_ID_CONFIG:
            a->config = optarg;
            break;
        case OPT_ID_NO_CONFIG:
            a->no_config = 1;
            break;
        default:
            break;
        }
    }
    free(copy);
}

/* Says what is wrong with an option getopt did not accept. */
static void
report_bad_option(const struct cmd_entry *cmd, const struct table *t, int c, char **argv)
{
    char name[128];
    const char *arg = argv[optind - 1];
    int neg;
    if (c == ':') {
        if (optopt > 0 && optopt < 256)
            cli_error(cmd->name, "option '-%c' needs a value (try: shoal %s --help)",
                      optopt, cmd->name);
        else
            cli_error(cmd->name, "option '%s' needs a value (try: shoal %s --help)",
                      opt_spelling(arg, name, sizeof(name)), cmd->name);
        return;
    }
    if (optopt > 0 && optopt < 256) {
        cli_error(cmd->name, "unknown option '-%c' (try: shoal %s --help)", optopt,
                  cmd->name);
        return;
    }
    opt_spelling(arg, name, sizeof(name));
    if (optopt && table_index(t, optopt, &neg) >= 0) {
        cli_error(cmd->name, "option '%s' takes no value (try: shoal %s --help)", name,
                  cmd->name);
        return;
    }
    /* getopt_long takes any unambiguous prefix: say which ones were meant. */
    const char *stem = name[0] == '-' && name[1] == '-' ? name + 2 : name;
    size_t len = strlen(stem), matches = 0;
    char list[256] = "";
    for (size_t i = 0; len && t->longopts[i].name; i++) {
        if (strncmp(t->longopts[i].name, stem, len))
            continue;
        size_t used = strlen(list);
        snprintf(list + used, sizeof(list) - used, "%s--%s", matches ? ", " : "",
                 t->longopts[i].name);
        matches++;
    }
    if (matches > 1)
        cli_error(cmd->name, "ambiguous option '%s' (could be %s)", name, list);
    else
        cli_error(cmd->name, "unknown option '%s' (try: shoal %s --help)", name,
                  cmd->name);
}

int
opt_parse(const struct cmd_entry *cmd, void *ctx, int argc, char **argv,
          struct opt_args *a)
{
    static struct table t;
    table_build(&t, cmd);
    opterr = 0;
    optind = 0;
    int c, neg;
    while ((c = next_opt(&t, argc, argv)) != -1) {
        int i = c == '?' || c == ':' ? -1 : table_index(&t, c, &neg);
        if (i < 0) {
            report_bad_option(cmd, &t, c, argv);
            return EXIT_USAGE;
        }
        const struct opt_def *d = t.defs[i];
        if (opt_is_common(d))
            continue; /* seen by opt_prescan */
        const char *val = d->arg ? optarg : neg ? "0" : "1";
        char why[OPT_WHY_MAX] = "";
        if (!cmd->set || cmd->set(ctx, d->id, val, why, sizeof(why)) != 0) {
            if (d->arg)
                cli_error(cmd->name, "bad --%s '%s': %s", d->name, val, why);
            else
                cli_error(cmd->name, "--%s: %s", d->name, why);
            return EXIT_USAGE;
        }
    }
    a->argc = argc - optind;
    a->argv = argv + optind;
    return 0;
}

/* ------------------------------------------------------------------ help */

/* Prints text from column col, wrapped at HELP_WIDTH, continuation lines
 * indented to indent; ends the line. */
static void
wrap(FILE *out, const char *text, int col, int indent)
{
    const char *p = text;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t w = strcspn(p, " \n");
        if (col > indent && col + 1 + (int)w > HELP_WIDTH) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, w, out);
        col += (int)w;
        p += w;
        if (*p == '\n') {
            /* A blank line between paragraphs. */
            while (*p == '\n')
                p++;
            fprintf(out, "\n\n%*s", indent, "");
            col = indent;
        }
    }
    fputc('\n', out);
}

static void
help_line(FILE *out, const char *head, const char *desc)
{
    int col = fprintf(out, "  %s", head);
    if (col >= HELP_DESC_COL - 1) {
        fputc('\n', out);
        col = 0;
    }
    fprintf(out, "%*s", HELP_DESC_COL - col, "");
    wrap(out, desc, HELP_DESC_COL, HELP_DESC_COL);
}

void
opt_print_help(const struct cmd_entry *cmd, FILE *out)
{
    const struct opt_def *defs[OPT_MAX];
    size_t n = opt_list(cmd, defs, OPT_MAX);
    char head[128], desc[1024];

    fprintf(out, "usage: shoal %s [OPTIONS]%s%s\n\n", cmd->name, cmd->args[0] ? " " : "",
            cmd->args);
    wrap(out, cmd->about ? cmd->about : cmd->summary, 0, 0);
    fprintf(out, "\noptions:\n");
    for (size_t i = 0; i < n; i++) {
        const struct opt_def *d = defs[i];
        if (d->letter)
            snprintf(head, sizeof(head), "-%c, --%s%s%s", d->letter, d->name,
                     d->arg ? " " : "", d->arg ? d->arg : "");
        else
            snprintf(head, sizeof(head), "    --%s%s%s", d->name, d->arg ? " " : "",
                     d->arg ? d->arg : "");
        snprintf(desc, sizeof(desc), "%s (default: %s%s)", d->help, d->def,
                 d->flags & OPT_REPEAT ? "; repeatable" : "");
        help_line(out, head, desc);
        if (d->flags & OPT_NEGATE) {
            snprintf(head, sizeof(head), "    --no-%s", d->name);
            snprintf(desc, sizeof(desc), "turn --%s off", d->name);
            help_line(out, head, desc);
        }
        if (d->alias) {
            snprintf(head, sizeof(head), "    --%s%s%s", d->alias, d->arg ? " " : "",
                     d->arg ? d->arg : "");
            snprintf(desc, sizeof(desc), "the same as --%s", d->name);
            help_line(out, head, desc);
        }
        if (d->alias_letter) {
            snprintf(head, sizeof(head), "-%c%s%s", d->alias_letter, d->arg ? " " : "",
                     d->arg ? d->arg : "");
            snprintf(desc, sizeof(desc), "the same as --%s", d->name);
            help_line(out, head, desc);
        }
    }
    /* The keys the config file may set for this command. */
    size_t used = 0;
    desc[0] = '\0';
    for (size_t i = 0; i < n; i++)
        if (defs[i]->flags & OPT_CONFIG && used < sizeof(desc))
            used += (size_t)snprintf(desc + used, sizeof(desc) - used, "%s%s",
                                     used ? ", " : "", defs[i]->name);
    if (used) {
        fputc('\n', out);
        char text[1400];
        snprintf(text, sizeof(text),
                 "The config file (shoal config --help) may set: %s. "
                 "Options given here override it; repeatable ones add to it.",
                 desc);
        wrap(out, text, 0, 0);
    }
}

/* ------------------------------------------------------------------ man page */

/* Writes s as roff text: backslashes and hyphens escaped, and a control
 * character at the start of a line defused. */
static void
roff(FILE *out, const char *s)
{
    int bol = 1;
    for (; *s; s++) {
        if (bol && (*s == '.' || *s == '\''))
            fputs("\\&", out);
        bol = 0;
        if (*s == '\\')
            fputs("\\e", out);
        else if (*s == '-')
            fputs("\\-", out);
        else if (*s == '\n') {
            fputs("\n.PP\n", out);
            while (s[1] == '\n')
                s++;
            bol = 1;
        } else
            fputc(*s, out);
    }
}

static void
man_option(FILE *out, const struct opt_def *d, const char *name, int letter,
           const char *help, const char *def)
{
    fputs(".TP\n", out);
    if (letter)
        fprintf(out, "\\fB\\-%c\\fR%s", letter, name ? ", " : "");
    if (name) {
        fputs("\\fB\\-\\-", out);
        roff(out, name);
        fputs("\\fR", out);
    }
    if (d->arg) {
        fputs(" \\fI", out);
        roff(out, d->arg);
        fputs("\\fR", out);
    }
    fputc('\n', out);
    roff(out, help);
    if (def) {
        fputs(" (default: ", out);
        roff(out, def);
        fputs(d->flags & OPT_REPEAT ? "; repeatable)" : ")", out);
    }
    fputc('\n', out);
}

static void
man_command(FILE *out, const struct cmd_entry *cmd)
{
    const struct opt_def *defs[OPT_MAX];
    size_t n = opt_list(cmd, defs, OPT_MAX);
    char alias_help[128];
    fprintf(out, ".SS \"shoal %s [OPTIONS]%s", cmd->name, cmd->args[0] ? " " : "");
    roff(out, cmd->args);
    fputs("\"\n", out);
    roff(out, cmd->about ? cmd->about : cmd->summary);
    fputc('\n', out);
    for (size_t i = 0; i < n; i++) {
        const struct opt_def *d = defs[i];
        if (opt_is_common(d))
            continue; /* described once, under OPTIONS OF EVERY COMMAND */
        man_option(out, d, d->name, d->letter, d->help, d->def);
        snprintf(alias_help, sizeof(alias_help), "the same as --%s", d->name);
        if (d->flags & OPT_NEGATE) {
            char neg[80], text[96];
            snprintf(neg, sizeof(neg), "no-%s", d->name);
            snprintf(text, sizeof(text), "turn --%s off", d->name);
            struct opt_def flag = {.arg = NULL};
            man_option(out, &flag, neg, 0, text, NULL);
        }
        if (d->alias)
            man_option(out, d, d->alias, 0, alias_help, NULL);
        if (d->alias_letter)
            man_option(out, d, NULL, d->alias_letter, alias_help, NULL);
    }
}

void
opt_print_man(FILE *out)
{
    fprintf(out, ".\\\" The shoal man page, made by `shoal help --man` from the option\n"
                 ".\\\" tables in cli/: edit those, not this.\n");
    fprintf(out, ".TH SHOAL 1 \"\" \"shoal %s\" \"User Commands\"\n", shoal_version());
    fputs(".nh\n.ad l\n.SH NAME\nshoal \\- a BitTorrent node\n.SH SYNOPSIS\n", out);
    fputs(".B shoal\n\\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGUMENTS\\fR]\n.br\n"
          ".B shoal help\n[\\fICOMMAND\\fR]\n.br\n.B shoal \\-V\n.SH DESCRIPTION\n",
          out);
    roff(out, "shoal makes, reads, downloads, seeds and tracks BitTorrent torrents. "
              "It works with other BitTorrent clients and trackers as an equal. "
              "Sizes and rates are in binary units: K, M, G and T stand for KiB, "
              "MiB, GiB and TiB, and 1.5M is 1.5 MiB.");
    fputs("\n.SH COMMANDS\n", out);
    for (size_t i = 0; i < cli_ncommands; i++)
        man_command(out, cli_commands[i]);
    fputs(".SH OPTIONS OF EVERY COMMAND\n", out);
    for (const struct opt_def *d = common_opts; d->id; d++)
        man_option(out, d, d->name, d->letter, d->help, d->def);
    fputs(".SH CONFIGURATION FILE\n", out);
    roff(out, cmd_config.about);
    fputs("\n.SH EXIT STATUS\n", out);
    roff(out, "0 on success; 1 on a failure at run time (I/O, the network); 2 on bad "
              "usage or bad input (an unknown option, a bad value, a malformed torrent, "
              "a path that does not exist). get, seed and share exit 130 when stopped by "
              "Ctrl-C (SIGINT) and 143 by SIGTERM (128 + the signal, as shells report "
              "it); the tracker exits 0 when stopped.");
    fputs("\n.SH ENVIRONMENT\n.TP\n.B XDG_CONFIG_HOME\n", out);
    roff(out, "where the config file is looked for (shoal/config); "
              "~/.config when unset.");
    fputs("\n.TP\n.B XDG_STATE_HOME\n", out);
    roff(out, "where resume state is kept (shoal/); ~/.local/state when unset.");
    fputs("\n.TP\n.B SHOAL_LOCAL_ONLY\n", out);
    roff(out, "when 1, talk to loopback addresses only (the same as --local-only).");
    fputs("\n.SH FILES\n.TP\n.I ~/.config/shoal/config\n", out);
    roff(out, "the config file.");
    fputs("\n.TP\n.I ~/.local/state/shoal/\n", out);
    roff(out, "resume state of downloads and seeds.");
    fputs("\n.SH SEE ALSO\n", out);
    roff(out, "shoal help COMMAND, or shoal COMMAND --help, prints the same "
              "options as this page.");
    fputc('\n', out);
}
