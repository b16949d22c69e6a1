/*
 * error.c — names and messages for error codes, generated from the one
 * SHOAL_ERRNO_MAP list in shoal.h. Base layer.
 */
#include <errno.h>
#include <string.h>

#include "base/alloc.h"
#include "shoal.h"

const char *
shoal_strerror(int err)
{
    switch (err) {
#define SHOAL_XX(name, msg)                                                              \
    case SHOAL_E##name:                                                                  \
        return msg;
        SHOAL_ERRNO_MAP(SHOAL_XX)
#undef SHOAL_XX
    case 0:
        return "success";
    default:
        break;
    }
    if (err < 0 && err > SHOAL_EBASE)
        return strerror(-err);
    return "unknown error";
}

const char *
shoal_err_name(int err)
{
    switch (err) {
#define SHOAL_XX(name, msg)                                                              \
    case SHOAL_E##name:                                                                  \
        return "SHOAL_E" #name;
        SHOAL_ERRNO_MAP(SHOAL_XX)
#undef SHOAL_XX
    case 0:
        return "OK";
    case -ENOENT:
        return "ENOENT";
    case -EACCES:
        return "EACCES";
    case -EEXIST:
        return "EEXIST";
    case -EIO:
        return "EIO";
    case -ENOSPC:
        return "ENOSPC";
    case -EROFS:
        return "EROFS";
    case -EISDIR:
        return "EISDIR";
    case -ENOTDIR:
        return "ENOTDIR";
    case -EINVAL:
        return "EINVAL";
    default:
        return "UNKNOWN";
    }
}

void
shoal_free(void *p)
{
    xfree(p);
}

const char *
shoal_version(void)
{
    return SHOAL_VERSION;
}

const char *
shoal_perr_text(const struct shoal_perr *e)
{
    if (e->msg[0])
        return e->msg;
    return e->why ? e->why : "unknown error";
}
