/*
 * display.h — what the session commands show while they run: the live
 * progress line on a terminal (a plain line now and then otherwise), the
 * events worth a line, and the closing lines (the `totals:` line last).
 * CLI layer; uses only shoal.h.
 */
#ifndef SHOAL_CLI_DISPLAY_H
#define SHOAL_CLI_DISPLAY_H

#include "shoal.h"

struct display;

/* A display for command `cmd` (for the "shoal CMD:" prefix). */
struct display *display_new(const char *cmd, int verbose);
void display_free(struct display *d);

/* Shows torrent t (called `name`) from now on: says it is being checked,
 * or what the data on disk already holds. */
void display_add(struct display *d, shoal_session *ss, shoal_torrent *t,
                 const char *name);

/* The session's event callback (user = the display). */
void display_on_event(shoal_session *ss, const struct shoal_event *ev, void *user);

/* Writes every event, timestamped, to the file at path too (--log FILE;
 * appended to). Returns 0 or -errno. */
int display_log_open(struct display *d, const char *path);

/* Says that the run was stopped by a signal and how to go on. */
void display_interrupted(struct display *d);

/* 1 when the check of some torrent's existing data could not read it (the
 * session was stopped then; why was shown). */
int display_check_failed(const struct display *d);

/* Ends the live line and prints, with -v, each tracker's last word. Call
 * before the session is freed. */
void display_end(struct display *d);

/* Prints the `totals:` line of each torrent, as display_end saw them. */
void display_totals(struct display *d);

#endif
