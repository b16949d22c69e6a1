/*
 * file.c — capped whole-file reads and atomic whole-file writes (file.h).
 * Base layer: POSIX file calls only. Nothing here follows a symlink it did
 * not ask for, truncates a file it did not create, or reads past a cap.
 * shoal_write_file() is the public face of the atomic write.
 */
#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "shoal.h"

/* Bytes asked of read() at a time: small enough that a pipe does not make
 * us allocate the whole cap up front. */
#define FILE_READ_CHUNK (256u * 1024)
/* Suffix of the temporary file an atomic write goes through. */
#define FILE_TMP_SUFFIX ".tmp"
/* Longest path an atomic write takes (PATH_MAX): its names live on the
 * stack, so the write allocates nothing and may run on a disk worker. */
#define FILE_MAX_PATH 4096

/* ------------------------------------------------------------------ write */

static int
write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes the folder holding `path` into dir (FILE_MAX_PATH bytes). */
static void
parent_of(const char *path, char *dir)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, FILE_MAX_PATH, ".");
    else if (slash == path)
        snprintf(dir, FILE_MAX_PATH, "/");
    else
        snprintf(dir, FILE_MAX_PATH, "%.*s", (int)(slash - path), path);
}

/* fsyncs a folder, so that a new name in it is durable. */
static int
sync_dir(const char *dir)
{
    int rc = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fsync(fd) < 0 && errno != EINVAL)
        rc = -errno; /* EINVAL: the file system cannot sync folders */
    close(fd);
    return rc;
}

/* Gives tmp the name path without replacing a file already there. */
static int
link_no_replace(const char *tmp, const char *path)
{
    if (link(tmp, path) == 0)
        return unlink(tmp) < 0 ? -errno : 0;
    if (errno == EEXIST)
        return -EEXIST;
    /* A file system without hard links: check, then rename. Another writer
     * could slip in between, which is the best such a system allows. */
    struct stat st;
    if (lstat(path, &st) == 0)
        return -EEXIST;
    return rename(tmp, path) < 0 ? -errno : 0;
}

int
file_write_atomic(const char *path, const void *data, size_t len, unsigned flags)
{
    char tmp[FILE_MAX_PATH + sizeof(FILE_TMP_SUFFIX)], dir[FILE_MAX_PATH];
    int fd = -1, made_tmp = 0, rc;

    if (!path || !path[0])
        return SHOAL_EINVAL;
    size_t plen = strlen(path);
    if (plen >= FILE_MAX_PATH)
        return -ENAMETOOLONG;
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, FILE_TMP_SUFFIX, sizeof(FILE_TMP_SUFFIX));
    parent_of(path, dir);
    /* A ".tmp" left by a crash (or planted as a symlink) is removed and the
     * new one created afresh, so no write goes through an old name. A
     * folder of that name stays, and the open below fails on it. */
    if (unlink(tmp) < 0 && errno != ENOENT && errno != EISDIR) {
        rc = -errno;
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    made_tmp = 1;
    rc = write_all(fd, data, len);
    if (!rc && fsync(fd) < 0)
        rc = -errno;
    if (close(fd) < 0 && !rc)
        rc = -errno;
    fd = -1;
    if (rc)
        goto out;
    if (flags & FILE_NO_REPLACE) {
        rc = link_no_replace(tmp, path);
    } else {
        /* rename replaces path in one step: readers see the old or the new. */
        rc = rename(tmp, path) < 0 ? -errno : 0;
    }
    if (rc)
        goto out;
    made_tmp = 0;
    rc = sync_dir(dir);
out:
    if (fd >= 0)
        close(fd);
    if (made_tmp)
        unlink(tmp);
    return rc;
}

int
shoal_write_file(const char *path, const void *data, size_t len, unsigned flags)
{
    return file_write_atomic(path, data, len,
                             (flags & SHOAL_WRITE_NO_REPLACE) ? FILE_NO_REPLACE : 0);
}

/* ------------------------------------------------------------------ read */

static int
fail(enum file_step *step, enum file_step at, int rc)
{
    if (step)
        *step = at;
    return rc;
}

int
file_read_capped(const char *path, size_t cap, unsigned flags, uint8_t **out, size_t *len,
                 enum file_step *step)
{
    struct stat st;
    struct buf b;
    int rc = 0;

    *out = NULL;
    *len = 0;
    if (step)
        *step = FILE_STEP_NONE;
    /* One byte past the cap tells a stream that is too long. */
    buf_init(&b, cap < SIZE_MAX ? cap + 1 : cap);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(step, FILE_STEP_OPEN, -errno);
    if (fstat(fd, &st) < 0) {
        rc = fail(step, FILE_STEP_STAT, -errno);
        goto out;
    }
    if (S_ISDIR(st.st_mode) && !(flags & FILE_READ_REGULAR)) {
        rc = fail(step, FILE_STEP_TYPE, -EISDIR);
        goto out;
    }
    if (!S_ISREG(st.st_mode) && (flags & FILE_READ_REGULAR)) {
        rc = fail(step, FILE_STEP_TYPE, SHOAL_EINVAL);
        goto out;
    }
    if (S_ISREG(st.st_mode)) {
        if ((uint64_t)st.st_size > cap) {
            *len = (size_t)st.st_size;
            rc = fail(step, FILE_STEP_SIZE, SHOAL_ETOOBIG);
            goto out;
        }
        /* The whole file in one allocation, plus a byte for the read that
         * finds the end. */
        if (buf_reserve(&b, (size_t)st.st_size + 1) != 0) {
            rc = fail(step, FILE_STEP_MEMORY, SHOAL_ENOMEM);
            goto out;
        }
    }
    for (;;) {
        size_t room = b.max - b.len;
        if (room == 0) {
            rc = fail(step, FILE_STEP_SIZE, SHOAL_ETOOBIG);
            goto out;
        }
        /* Fill what is allocated before growing the buffer. */
        size_t spare = b.cap > b.len + 1 ? b.cap - b.len - 1 : 0;
        size_t want = spare ? spare : FILE_READ_CHUNK;
        if (want > room)
            want = room;
        if (buf_reserve(&b, want) != 0) {
            rc = fail(step, FILE_STEP_MEMORY, SHOAL_ENOMEM);
            goto out;
        }
        ssize_t r = read(fd, b.data + b.len, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = fail(step, FILE_STEP_READ, -errno);
            goto out;
        }
        if (r == 0)
            break;
        b.len += (size_t)r;
    }
    if (b.len > cap) {
        rc = fail(step, FILE_STEP_SIZE, SHOAL_ETOOBIG);
        goto out;
    }
    *out = buf_steal(&b, len);
    if (!*out)
        rc = fail(step, FILE_STEP_MEMORY, SHOAL_ENOMEM);
out:
    close(fd);
    buf_cleanup(&b);
    return rc;
}
