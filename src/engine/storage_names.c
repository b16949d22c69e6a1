/*
 * storage_names.c — gives a finished file its final name: the rename from
 * "<name><ext>" on a disk worker, and what to do when a file of that name is
 * already there. Engine layer, part of the storage module (storage.c has
 * the rest).
 *
 * The rename and the flag that says which name a file carries change
 * together under the storage's mutex: an open that finds the old name gone
 * looks at the flag again and sees the new one. Descriptors open on the old
 * name stay valid, so reads in flight go on.
 */
#include "engine/storage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "codec/metainfo.h"
#include "engine/storage_internal.h"

/* 1 when the regular files a and b hold the same `size` bytes, 0 when not,
 * or -errno; buf holds 2 * half bytes. */
static int
same_bytes(int a, int b, uint64_t size, uint8_t *buf, size_t half)
{
    struct stat sa, sb;
    if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
        return -errno;
    if (!S_ISREG(sb.st_mode) || (uint64_t)sa.st_size != size ||
        (uint64_t)sb.st_size != size)
        return 0;
    for (uint64_t off = 0; off < size;) {
        size_t n = size - off < half ? (size_t)(size - off) : half;
        ssize_t x = pread(a, buf, n, (off_t)off);
        ssize_t y = pread(b, buf + half, n, (off_t)off);
        if (x < 0 || y < 0)
            return -errno;
        if ((size_t)x != n || (size_t)y != n)
            return 0;
        if (memcmp(buf, buf + half, n) != 0)
            return 0;
        off += n;
    }
    return 1;
}

/* Renames `from` to `to` in dfd unless `to` exists (then -EEXIST). */
static int
rename_noreplace(int dfd, const char *from, const char *to)
{
    if (renameat2(dfd, from, dfd, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -errno;
    /* A file system without RENAME_NOREPLACE: a hard link never replaces
     * either; a crash between the two steps leaves both names, and the next
     * start takes the final one. */
    if (linkat(dfd, from, dfd, to, 0) < 0)
        return -errno;
    return unlinkat(dfd, from, 0) < 0 ? -errno : 0;
}

/* The final name is taken: when it holds exactly the data of the
 * incomplete file, the incomplete file goes and the final one is used;
 * otherwise both stay, and -EEXIST says so. */
static int
adopt_final(struct storage *s, int dfd, const char *part, const char *leaf, uint64_t size)
{
    int a = openat(dfd, part, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    int b = openat(dfd, leaf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    int rc = a < 0 || b < 0 ? -errno : 0;
    if (!rc) {
        pthread_mutex_lock(&s->scratch_mu);
        rc = same_bytes(a, b, size, s->scratch, STORAGE_COMPARE_CHUNK / 2);
        pthread_mutex_unlock(&s->scratch_mu);
    }
    if (a >= 0)
        close(a);
    if (b >= 0)
        close(b);
    if (rc == 1)
        rc = unlinkat(dfd, part, 0) < 0 ? -errno : 0;
    else if (rc == 0 || rc == -ELOOP)
        rc = -EEXIST;
    return rc;
}

/* Drops file i's cached descriptor when no one uses it, so that the next
 * open finds it under its new name. */
static void
forget_fd(struct storage *s, size_t i)
{
    int fd = -1;
    pthread_mutex_lock(&s->mu);
    int sl = s->files[i].slot;
    if (sl >= 0 && s->slots[sl].refs == 0) {
        fd = s->slots[sl].fd;
        s->slots[sl].fd = -1;
        s->files[i].slot = -1;
    }
    pthread_mutex_unlock(&s->mu);
    if (fd >= 0)
        close(fd);
}

int
storage_finish_file(struct storage *s, size_t i)
{
    if (i >= s->m->file_count)
        return SHOAL_EINVAL;
    if (!storage_name_is_part(s, i))
        return 0;
    const struct shoal_file *f = &s->m->files[i];
    const char *leaf;
    char part[NAME_MAX + 1];
    int owned = 0, adopted = 0;
    int dfd = storage_open_parent(s, f->path, 0, &leaf, &owned);
    if (dfd < 0)
        return dfd;
    storage_disk_name(s, leaf, 1, part);
    struct stat st;
    int rc = fstatat(dfd, part, &st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
    if (!rc && !S_ISREG(st.st_mode))
        rc = -EINVAL; /* not the file this storage wrote */
    if (!rc) {
        /* The name and the flag change together: an open that finds the
         * old name gone looks at the flag again (open_file) and must see
         * the new one. A descriptor open on the old name reads the same
         * file, so reads in flight go on. */
        pthread_mutex_lock(&s->mu);
        rc = rename_noreplace(dfd, part, leaf);
        if (!rc)
            s->files[i].part = 0;
        pthread_mutex_unlock(&s->mu);
    }
    if (rc == -EEXIST) {
        rc = adopt_final(s, dfd, part, leaf, f->size);
        adopted = rc == 0;
        if (adopted) {
            pthread_mutex_lock(&s->mu);
            s->files[i].part = 0;
            pthread_mutex_unlock(&s->mu);
        }
    }
    if (owned)
        close(dfd);
    if (rc)
        return rc;
    if (adopted)
        forget_fd(s, i); /* it points at the file just removed */
    return 0;
}
