/*
 * strv.h — a growable list of owned C strings. Base layer.
 */
#ifndef SHOAL_STRV_H
#define SHOAL_STRV_H

#include <stddef.h>

struct strv {
    char **v;
    size_t n;
    size_t cap;
};

/* Appends s and takes ownership of it; on failure s is freed. Returns 0 or
 * SHOAL_ENOMEM (also when s is NULL, so strv_push(l, xstrdup(x)) is safe). */
int strv_push(struct strv *l, char *s);
/* Appends a copy of s unless an equal string is present. Returns 0,
 * SHOAL_ETOOBIG when the list already has `max` entries, or SHOAL_ENOMEM. */
int strv_add_unique(struct strv *l, const char *s, size_t max);
int strv_contains(const struct strv *l, const char *s);
/* Frees the strings and the list, leaving it empty. */
void strv_cleanup(struct strv *l);
/* Frees an array of n strings that was taken out of a strv. */
void strv_free_array(char **v, size_t n);

#endif
