/*
 * strv.c — a growable list of owned C strings. Base layer.
 */
#include "base/strv.h"

#include <string.h>

#include "base/alloc.h"
#include "shoal.h"

int
strv_push(struct strv *l, char *s)
{
    if (!s)
        return SHOAL_ENOMEM;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        char **v = xreallocarray(l->v, cap, sizeof(*v));
        if (!v) {
            xfree(s);
            return SHOAL_ENOMEM;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    return 0;
}

int
strv_contains(const struct strv *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0)
            return 1;
    return 0;
}

int
strv_add_unique(struct strv *l, const char *s, size_t max)
{
    if (strv_contains(l, s))
        return 0;
    if (l->n >= max)
        return SHOAL_ETOOBIG;
    return strv_push(l, xstrdup(s));
}

void
strv_free_array(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        xfree(v[i]);
    xfree(v);
}

void
strv_cleanup(struct strv *l)
{
    strv_free_array(l->v, l->n);
    memset(l, 0, sizeof(*l));
}
