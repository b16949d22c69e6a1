/*
 * state.c — the state folder of the session commands and the lock on each
 * torrent's state. CLI layer.
 *
 * The state is keyed by the infohash and the resolved download folder, so
 * the same torrent in two folders never shares resume state, and a folder
 * reached through a symlink or "../" is still the same folder.
 */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Longest folder path made component by component. */
#define STATE_MKDIR_MAX 4096

static int
fits(int n, size_t len)
{
    return n >= 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

int
state_dir_path(const char *override, char *out, size_t len)
{
    if (override && override[0])
        return fits(snprintf(out, len, "%s", override), len);
    const char *xdg = getenv("XDG_STATE_HOME");
    if (xdg && xdg[0] == '/')
        return fits(snprintf(out, len, "%s/shoal", xdg), len);
    const char *home = getenv("HOME");
    if (home && home[0])
        return fits(snprintf(out, len, "%s/.local/state/shoal", home), len);
    return -ENOENT;
}

int
state_mkdirs(const char *path, unsigned mode)
{
    char p[STATE_MKDIR_MAX];
    if (fits(snprintf(p, sizeof(p), "%s", path), sizeof(p)))
        return -ENAMETOOLONG;
    /* Each missing parent in turn, then the folder itself. */
    for (char *s = p + 1;; s++) {
        int last = *s == '\0';
        if (*s != '/' && !last)
            continue;
        *s = '\0';
        if (mkdir(p, (mode_t)mode) != 0 && errno != EEXIST)
            return -errno;
        if (last)
            break;
        *s = '/';
    }
    struct stat st;
    if (stat(p, &st) != 0)
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int
state_dir_create(const char *path)
{
    return state_mkdirs(path, 0700);
}

uint64_t
state_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

int
state_stem(const char *sdir, const uint8_t *infohash, const char *real_dir, char *out,
           size_t len)
{
    char hex[SHOAL_INFOHASH_LEN * 2 + 1];
    shoal_hex(infohash, SHOAL_INFOHASH_LEN, hex);
    return fits(snprintf(out, len, "%s/%s-%016" PRIx64, sdir, hex, state_hash(real_dir)),
                len);
}

int
state_lock(const char *stem)
{
    char path[STATE_PATH_MAX];
    if (fits(snprintf(path, sizeof(path), "%s.lock", stem), sizeof(path)))
        return -ENAMETOOLONG;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno == EWOULDBLOCK ? EWOULDBLOCK : errno;
        close(fd);
        return -e;
    }
    return fd;
}

void
state_unlock(int fd)
{
    if (fd >= 0)
        close(fd);
}
