/*
 * config.c — reads the config file and applies it to a command before its
 * command line is parsed. Every line is checked when the file is read, so
 * a typo in a key is an error for every command, not only for the one it
 * was meant for. CLI layer; uses only shoal.h.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
config_default_path(char *buf, size_t len)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    int n;
    /* XDG: a relative XDG_CONFIG_HOME is to be ignored. */
    if (xdg && xdg[0] == '/')
        n = snprintf(buf, len, "%s/shoal/config", xdg);
    else if (home && home[0])
        n = snprintf(buf, len, "%s/.config/shoal/config", home);
    else
        return -1;
    return n > 0 && (size_t)n < len ? 0 : -1;
}

void
config_free(struct config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nexpanded; i++)
        free(c->expanded[i]);
    free(c->expanded);
    free(c->entries);
    free(c->text);
    free(c->path);
    free(c);
}

static char *
trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* The option called key that the config file may set: of cmd when cmd is
 * given, else of the first command that has it. *exists says whether some
 * option of that name exists at all. */
static const struct opt_def *
settable(const char *key, const struct cmd_entry *cmd, int *exists)
{
    *exists = 0;
    for (size_t i = 0; i < cli_ncommands; i++) {
        if (cmd && cli_commands[i] != cmd)
            continue;
        const struct opt_def *d = opt_find(cli_commands[i], key, 0);
        if (!d)
            continue;
        *exists = 1;
        if (d->flags & OPT_CONFIG)
            return d;
    }
    return NULL;
}

static int
read_file(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    char *buf = malloc(CONFIG_MAX_BYTES + 1);
    if (!buf) {
        fclose(f);
        return -ENOMEM;
    }
    errno = 0;
    size_t n = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
    int rc = ferror(f) ? (errno ? -errno : -EIO) : n > CONFIG_MAX_BYTES ? -EFBIG : 0;
    fclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* The value with a leading "~/" made the home folder, as a shell would. */
static const char *
expand(struct config *c, const char *val)
{
    const char *home = getenv("HOME");
    if (strncmp(val, "~/", 2) || !home || !home[0])
        return val;
    size_t len = strlen(home) + strlen(val);
    char *s = malloc(len);
    char **grown = realloc(c->expanded, (c->nexpanded + 1) * sizeof(*grown));
    if (!s || !grown) {
        free(s);
        if (grown)
            c->expanded = grown;
        return NULL;
    }
    snprintf(s, len, "%s%s", home, val + 1);
    c->expanded = grown;
    c->expanded[c->nexpanded++] = s;
    return s;
}

/* Checks and records one line; prints why and returns EXIT_USAGE when it is
 * wrong. */
static int
parse_line(struct config *c, const char *cmd, char *line, int lineno,
           const struct cmd_entry **section)
{
    char *s = trim(line);
    if (!*s || *s == '#')
        return 0;
    if (*s == '[') {
        char *end = strchr(s, ']');
        if (!end || *trim(end + 1)) {
            cli_error(cmd, "%s:%d: a section is written [COMMAND]", c->path, lineno);
            return EXIT_USAGE;
        }
        *end = '\0';
        *section = cli_command(trim(s + 1));
        if (!*section) {
            cli_error(cmd, "%s:%d: no command called '%s' (sections name a command)",
                      c->path, lineno, trim(s + 1));
            return EXIT_USAGE;
        }
        return 0;
    }
    char *eq = strchr(s, '=');
    if (!eq) {
        cli_error(cmd, "%s:%d: expected KEY = VALUE", c->path, lineno);
        return EXIT_USAGE;
    }
    *eq = '\0';
    const char *key = trim(s), *val = trim(eq + 1);
    int exists;
    const struct opt_def *d = settable(key, *section, &exists);
    if (!d) {
        if (exists)
            cli_error(cmd, "%s:%d: '%s' cannot be set in the config file", c->path,
                      lineno, key);
        else if (*section)
            cli_error(cmd, "%s:%d: unknown key '%s' (shoal %s has no option --%s)",
                      c->path, lineno, key, (*section)->name, key);
        else
            cli_error(cmd, "%s:%d: unknown key '%s' (no command has an option --%s)",
                      c->path, lineno, key, key);
        return EXIT_USAGE;
    }
    if (!*val) {
        cli_error(cmd, "%s:%d: no value for '%s'", c->path, lineno, key);
        return EXIT_USAGE;
    }
    if (!d->arg) {
        int b = cli_parse_bool(val);
        if (b < 0) {
            cli_error(cmd, "%s:%d: bad %s '%s': expected true or false (yes/no, 1/0)",
                      c->path, lineno, key, val);
            return EXIT_USAGE;
        }
        val = b ? "1" : "0";
    } else if (!(val = expand(c, val))) {
        cli_error(cmd, "out of memory");
        return EXIT_FAIL;
    }
    c->entries[c->n++] = (struct config_entry){
        .section = *section ? (*section)->name : NULL,
        .key = key,
        .val = val,
        .line = lineno,
    };
    return 0;
}

int
config_load(const char *cmd, const char *path, int must_exist, struct config **out)
{
    *out = NULL;
    struct config *c = calloc(1, sizeof(*c));
    size_t len = 0;
    if (!c || !(c->path = strdup(path))) {
        free(c);
        cli_error(cmd, "out of memory");
        return EXIT_FAIL;
    }
    int rc = read_file(path, &c->text, &len);
    if (rc == -ENOENT && !must_exist) {
        /* text stays NULL: shoal config says the file was not found. */
        *out = c;
        return 0;
    }
    if (rc) {
        cli_error(cmd, "cannot read the config file %s: %s", path,
                  rc == -EFBIG ? "bigger than 1 MiB" : strerror(-rc));
        config_free(c);
        return rc == -ENOENT || rc == -EFBIG || rc == -EISDIR ? EXIT_USAGE : EXIT_FAIL;
    }
    /* A NUL would end the line-by-line parse early, leaving the rest of the
     * file unread and unchecked. */
    if (memchr(c->text, '\0', len)) {
        cli_error(cmd, "%s: not a text file (it holds a NUL byte)", path);
        config_free(c);
        return EXIT_USAGE;
    }
    size_t lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += c->text[i] == '\n';
    c->entries = calloc(lines, sizeof(*c->entries));
    if (!c->entries) {
        config_free(c);
        cli_error(cmd, "out of memory");
        return EXIT_FAIL;
    }
    const struct cmd_entry *section = NULL;
    char *line = c->text;
    for (int lineno = 1; line; lineno++) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        rc = parse_line(c, cmd, line, lineno, &section);
        if (rc) {
            config_free(c);
            return rc;
        }
        line = nl ? nl + 1 : NULL;
    }
    *out = c;
    return 0;
}

const struct opt_def *
config_applies(const struct config *c, size_t i, const struct cmd_entry *cmd)
{
    const struct config_entry *e = &c->entries[i];
    if (e->section && strcmp(e->section, cmd->name))
        return NULL;
    const struct opt_def *d = opt_find(cmd, e->key, 0);
    return d && d->flags & OPT_CONFIG ? d : NULL;
}

int
config_apply(const struct config *c, const struct cmd_entry *cmd, void *ctx,
             const char *who)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct opt_def *d = config_applies(c, i, cmd);
        if (!d)
            continue;
        const struct config_entry *e = &c->entries[i];
        char why[OPT_WHY_MAX] = "";
        if (cmd->set(ctx, d->id, e->val, why, sizeof(why)) != 0) {
            cli_error(who, "%s:%d: bad %s '%s': %s", c->path, e->line, e->key, e->val,
                      why);
            return EXIT_USAGE;
        }
    }
    return 0;
}
