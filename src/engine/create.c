/*
 * create.c — makes a v1 .torrent (BEP 3, 12, 19, 27) from a file or a folder.
 *
 * Three steps: scan the path into a sorted list of regular files, encode the
 * whole torrent with a zeroed `pieces` string, then hash the data straight
 * into that string. Encoding first means a torrent that would be too large is
 * refused before any data is read. The hashing goes through the same storage
 * and disk pool (storage.h, disk.h) that check a torrent's data in a session,
 * so one piece of code opens a torrent's files and hashes its pieces. Engine
 * layer: it reads the files it is given and writes nothing anywhere; the
 * caller stores the result. Inside a folder it leaves out what a download
 * program keeps there (unfinished ".part" files, ".parts" files, an old
 * ".shoal" state folder): a torrent made from a folder shoal downloads into
 * holds the data only. Progress callbacks run on the calling thread
 * only, never on a worker.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/sha.h"
#include "codec/bencode.h"
#include "engine/disk.h"
#include "engine/storage.h"
#include "shoal.h"

/* BEP 3 requests travel in 16 KiB blocks; a smaller piece is all overhead. */
#define CREATE_MIN_PIECE (16u * 1024)
/* The largest piece the automatic choice normally makes; every client copes. */
#define CREATE_MAX_AUTO_PIECE (16u * 1024 * 1024)
/* The largest piece anyone may ask for; beyond it some clients refuse. */
#define CREATE_MAX_PIECE (64u * 1024 * 1024)
/* The automatic choice aims at no more pieces than this (about 40 KB of hashes). */
#define CREATE_TARGET_PIECES 2000u
/* Hashes may take half of the largest .torrent shoal itself will load. */
#define CREATE_MAX_PIECES_IN_FILE (SHOAL_MAX_TORRENT_FILE / 2 / SHA1_LEN)
/* The smallest file entry ("d6:lengthi0e4:pathl1:xee") is 24 bytes long. */
#define CREATE_MAX_FILES (SHOAL_MAX_TORRENT_FILE / 24)
/* Bytes of pieces per job on the disk pool: few jobs to hand out and report
 * back (per 16 KiB piece that would cost as much as the hashing), while a
 * cancel still stops soon and the threads share the work evenly. */
#define CREATE_BATCH_BYTES (4u * 1024 * 1024)
/* Jobs queued per hashing thread: enough that a thread finds the next one
 * waiting while this thread refills the queue. */
#define CREATE_QUEUE_PER_THREAD 3u
/* How often the progress callback runs. */
#define CREATE_PROGRESS_NS (100 * 1000 * 1000L)
/* A path being scanned may not grow past this many bytes. */
#define CREATE_MAX_PATH (64u * 1024)
/* Names inside a folder that are a download program's, not data: skipped. */
#define CREATE_PART_SUFFIX   ".part"  /* an unfinished download */
#define CREATE_PARTS_SUFFIX  ".parts" /* bytes of files not selected */
#define CREATE_OLD_STATE_DIR ".shoal" /* resume state of older versions */

/* ------------------------------------------------------------------ scanning */

/* One file of the torrent. */
struct cfile {
    char *path;    /* openable path (heap) */
    size_t rel;    /* offset in path of the path relative to the root */
    uint64_t size; /* as seen by the scan */
};

struct dir_id {
    dev_t dev;
    ino_t ino;
};

struct scan {
    struct cfile *files;
    size_t nfiles;
    size_t cap;
    uint64_t total;
    int follow;
    size_t rel; /* where relative paths start in path */
    struct buf path;
    /* The folders on the way down, to notice a symlink that loops back. */
    struct dir_id stack[SHOAL_MAX_PATH_DEPTH + 1];
    int depth;
    const char *why;
};

/* One directory entry, read while the directory is open. */
struct dent {
    char *name;
    mode_t mode; /* after following a symlink when that is asked for */
    uint64_t size;
    struct dir_id id;
};

static void
files_free(struct cfile *files, size_t n)
{
    for (size_t i = 0; i < n; i++)
        xfree(files[i].path);
    xfree(files);
}

static int
fail(struct scan *s, int code, const char *why)
{
    if (!s->why)
        s->why = why;
    return code;
}

static int
add_file(struct scan *s, uint64_t size)
{
    if (s->nfiles == CREATE_MAX_FILES)
        return fail(s, SHOAL_ETOOBIG, "too many files for one torrent");
    if (size > UINT64_MAX / 2 - s->total)
        return fail(s, SHOAL_ETOOBIG, "the files are too large in total");
    if (s->nfiles == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct cfile *f = xreallocarray(s->files, cap, sizeof(*f));
        if (!f)
            return fail(s, SHOAL_ENOMEM, "out of memory listing files");
        s->files = f;
        s->cap = cap;
    }
    char *p = xstrndup((const char *)s->path.data, s->path.len);
    if (!p)
        return fail(s, SHOAL_ENOMEM, "out of memory listing files");
    struct cfile *f = &s->files[s->nfiles++];
    f->path = p;
    f->rel = s->rel;
    f->size = size;
    s->total += size;
    return 0;
}

/* Sets the scan path to its first `len` bytes plus "/" and name, NUL-ended. */
static int
path_push(struct scan *s, size_t len, const char *name)
{
    s->path.len = len;
    buf_append_byte(&s->path, '/');
    buf_append_str(&s->path, name);
    if (buf_append_byte(&s->path, '\0'))
        return fail(s, s->path.err, "a path is too long");
    s->path.len--;
    return 0;
}

static int
dent_cmp(const void *a, const void *b)
{
    /* strcmp orders bytes as unsigned char: the bytewise order we promise. */
    return strcmp(((const struct dent *)a)->name, ((const struct dent *)b)->name);
}

static void
dents_free(struct dent *d, size_t n)
{
    for (size_t i = 0; i < n; i++)
        xfree(d[i].name);
    xfree(d);
}

/* Reads the entries of the directory at s->path, with their types and sizes,
 * sorted by name. Entries that cannot be stat'ed (a dangling symlink) or that
 * are symlinks not to be followed come back with mode 0. */
static int
read_dir(struct scan *s, struct dent **out, size_t *count)
{
    struct dent *d = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    DIR *dir = opendir((const char *)s->path.data);
    if (!dir) {
        rc = fail(s, -errno, "cannot open a folder");
        goto out;
    }
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dir);
        if (!de) {
            if (errno)
                rc = fail(s, -errno, "cannot read a folder");
            break;
        }
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            struct dent *nd = xreallocarray(d, ncap, sizeof(*nd));
            if (!nd) {
                rc = fail(s, SHOAL_ENOMEM, "out of memory listing files");
                goto out;
            }
            d = nd;
            cap = ncap;
        }
        struct dent *e = &d[n];
        memset(e, 0, sizeof(*e));
        struct stat st;
        if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT)
                continue; /* removed since readdir saw it */
            rc = fail(s, -errno, "cannot inspect a file");
            goto out;
        }
        if (S_ISLNK(st.st_mode)) {
            if (!s->follow || fstatat(dirfd(dir), de->d_name, &st, 0) < 0)
                st.st_mode = 0;
        }
        e->name = xstrdup(de->d_name);
        if (!e->name) {
            rc = fail(s, SHOAL_ENOMEM, "out of memory listing files");
            goto out;
        }
        e->mode = st.st_mode;
        e->size = (uint64_t)st.st_size;
        e->id.dev = st.st_dev;
        e->id.ino = st.st_ino;
        n++;
    }
    if (!rc && n > 1)
        qsort(d, n, sizeof(*d), dent_cmp);
out:
    if (dir)
        closedir(dir);
    if (rc) {
        dents_free(d, n);
        d = NULL;
        n = 0;
    }
    *out = d;
    *count = n;
    return rc;
}

/* 1 for an entry of a folder that is not the user's data but a download
 * program's: a file still being downloaded ("<name>.part", the suffix
 * shoal and qBittorrent give unfinished files), a parts file, or the state
 * folder older shoal versions kept beside the data. */
static int
not_data(const char *name, mode_t mode)
{
    static const char *const suffixes[] = {CREATE_PART_SUFFIX, CREATE_PARTS_SUFFIX};
    if (S_ISDIR(mode))
        return strcmp(name, CREATE_OLD_STATE_DIR) == 0;
    size_t n = strlen(name);
    for (size_t k = 0; k < sizeof(suffixes) / sizeof(suffixes[0]); k++) {
        size_t m = strlen(suffixes[k]);
        if (n > m && strcmp(name + n - m, suffixes[k]) == 0)
            return 1;
    }
    return 0;
}

/* Adds the files under the folder at s->path (a folder `depth` levels below the
 * root) depth first, in sorted name order, which sorts the whole list by path
 * components. */
static int
walk(struct scan *s, int depth)
{
    struct dent *d = NULL;
    size_t n = 0;
    size_t len = s->path.len;
    int rc = read_dir(s, &d, &n);
    if (rc)
        goto out;
    for (size_t i = 0; i < n; i++) {
        /* BEP 3 v1 lists regular files only; other kinds have no data. */
        if (!S_ISREG(d[i].mode) && !S_ISDIR(d[i].mode))
            continue;
        if (not_data(d[i].name, d[i].mode))
            continue;
        if (depth + 1 > SHOAL_MAX_PATH_DEPTH) {
            rc = fail(s, SHOAL_ETOOBIG, "folders nest too deep");
            goto out;
        }
        rc = path_push(s, len, d[i].name);
        if (rc)
            goto out;
        if (S_ISREG(d[i].mode)) {
            rc = add_file(s, d[i].size);
            if (rc)
                goto out;
            continue;
        }
        int loop = 0;
        for (int k = 0; k < s->depth; k++)
            if (s->stack[k].dev == d[i].id.dev && s->stack[k].ino == d[i].id.ino)
                loop = 1;
        if (loop)
            continue; /* a symlink back to a folder above: its files are listed */
        s->stack[s->depth++] = d[i].id;
        rc = walk(s, depth + 1);
        s->depth--;
        if (rc)
            goto out;
    }
out:
    s->path.len = len;
    if (s->path.data)
        s->path.data[len] = '\0';
    dents_free(d, n);
    return rc;
}

/* Scans opts->path. Fills the file list and *multi (1 for a folder). */
static int
scan_path(struct scan *s, const char *path, int *multi)
{
    struct stat st;
    int rc;
    /* The named path itself is always followed: the user chose it. */
    if (stat(path, &st) < 0)
        return fail(s, -errno, "cannot find the file or folder to share");
    buf_append_str(&s->path, path);
    if (buf_append_byte(&s->path, '\0'))
        return fail(s, s->path.err, "the path is too long");
    s->path.len--;
    if (S_ISREG(st.st_mode)) {
        *multi = 0;
        s->rel = 0;
        rc = add_file(s, (uint64_t)st.st_size);
        if (rc)
            return rc;
        if (s->total == 0)
            return fail(s, SHOAL_ENODATA, "nothing to share: the file has no data");
        return 0;
    }
    if (!S_ISDIR(st.st_mode))
        return fail(s, SHOAL_EINVAL, "the path is neither a regular file nor a folder");
    *multi = 1;
    s->rel = s->path.len + 1;
    s->stack[0].dev = st.st_dev;
    s->stack[0].ino = st.st_ino;
    s->depth = 1;
    rc = walk(s, 0);
    if (rc)
        return rc;
    if (s->total == 0)
        return fail(s, SHOAL_ENODATA, "nothing to share: the folder has no data");
    return 0;
}

/* The name: the last component of the path, or of its real path when the
 * path ends in "." or ".." (shoal.h). */
int
shoal_create_name(const char *path, char *out, size_t size)
{
    char real[PATH_MAX];
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && path[start - 1] != '/')
        start--;
    const char *name = path + start;
    size_t nlen = len - start;
    if (nlen == 0 || (nlen == 1 && name[0] == '.') ||
        (nlen == 2 && name[0] == '.' && name[1] == '.')) {
        if (!realpath(path, real))
            return -errno;
        name = strrchr(real, '/');
        name = name ? name + 1 : real;
        nlen = strlen(name);
    }
    if (nlen == 0 || nlen >= size)
        return SHOAL_EINVAL;
    memcpy(out, name, nlen);
    out[nlen] = '\0';
    return 0;
}

/* ------------------------------------------------------------------ piece size */

static int
is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static uint64_t
piece_count(uint64_t total, uint32_t plen)
{
    return total / plen + (total % plen != 0);
}

uint32_t
shoal_create_auto_piece_length(uint64_t total_size)
{
    uint32_t plen = CREATE_MIN_PIECE;
    while (plen < CREATE_MAX_AUTO_PIECE &&
           piece_count(total_size, plen) > CREATE_TARGET_PIECES)
        plen *= 2;
    /* Past 32 GB the pieces grow beyond the usual cap rather than have the
     * hashes overflow the torrent file. */
    while (plen < CREATE_MAX_PIECE &&
           piece_count(total_size, plen) > CREATE_MAX_PIECES_IN_FILE)
        plen *= 2;
    return plen;
}

/* ------------------------------------------------------------------ hashing */

/* The pieces being hashed on a disk pool, driven from the calling thread:
 * the pool's callbacks run here too, from disk_drain(). */
struct hashing {
    uint32_t npieces;
    uint32_t batch;    /* pieces per job */
    uint32_t next;     /* the first piece of the next job */
    uint64_t finished; /* jobs whose callback has run */
    size_t inflight;   /* jobs submitted whose callback has not run */
    int err;           /* the first job that failed, its code */
};

static void
run_done(void *user, int rc)
{
    struct hashing *h = user;
    h->inflight--;
    h->finished++;
    if (rc < 0 && !h->err)
        h->err = rc;
}

static unsigned
thread_count(unsigned want, uint32_t njobs)
{
    if (want == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        want = n > 0 ? (unsigned)n : 1;
    }
    /* A thread with no job to run would only be started and stopped. */
    if (want > njobs)
        want = njobs;
    return want ? want : 1;
}

/* Says which file a hash failed on and why, when the storage knows. */
static int
hash_error(struct storage *st, const struct cfile *files, int rc, const char **why,
           char *msg, size_t msgsize)
{
    size_t i = 0;
    int ferr = storage_first_error(st, &i);
    if (ferr == STORAGE_ECHANGED) {
        *why = "a file changed size while the torrent was being made";
        snprintf(msg, msgsize, "%s changed size while the torrent was being made",
                 files[i].path);
        return ferr; /* -EAGAIN: not the caller's mistake, a retry may succeed */
    }
    if (ferr) {
        *why = "cannot read a file while hashing";
        snprintf(msg, msgsize, "cannot read %s while hashing", files[i].path);
        return ferr;
    }
    *why =
        rc == SHOAL_ENOMEM ? "the SHA-1 implementation failed" : "cannot hash the files";
    return rc;
}

/*
 * Hashes every piece into `hashes` through the storage and the disk pool the
 * session checks torrents with: a read-only storage over the scanned files,
 * and a pool of hashing threads fed a few runs of pieces per thread at a
 * time, so that a cancel or an error stops it soon. The progress callback
 * runs here, between drains, never on a worker.
 */
static int
hash_all(const struct shoal_create_opts *o, const struct scan *s, uint32_t plen,
         uint8_t *hashes, const char **why, char *msg, size_t msgsize)
{
    struct hashing h;
    struct shoal_file *list = NULL;
    struct storage *st = NULL;
    struct disk *d = NULL;
    int rc = 0, serr = 0, canceled = 0;

    memset(&h, 0, sizeof(h));
    h.npieces = (uint32_t)piece_count(s->total, plen);
    h.batch = plen >= CREATE_BATCH_BYTES ? 1 : CREATE_BATCH_BYTES / plen;
    list = xcalloc(s->nfiles, sizeof(*list));
    if (!list) {
        *why = "out of memory starting to hash";
        rc = SHOAL_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < s->nfiles; i++) {
        list[i].path = s->files[i].path;
        list[i].size = s->files[i].size;
    }
    rc = storage_open_files(&st, list, s->nfiles, plen, NULL);
    if (rc) {
        *why = "cannot open the files for hashing";
        goto out;
    }
    d = disk_new(thread_count(o->threads, (h.npieces + h.batch - 1) / h.batch));
    if (!d) {
        *why = "cannot start the hashing threads";
        rc = SHOAL_ENOMEM;
        goto out;
    }
    size_t window = (size_t)disk_thread_count(d) * CREATE_QUEUE_PER_THREAD;
    uint64_t last = clock_now_ns();
    for (;;) {
        while (h.next < h.npieces && h.inflight < window) {
            uint32_t n = h.npieces - h.next < h.batch ? h.npieces - h.next : h.batch;
            serr = disk_submit_digest(d, st, h.next, n,
                                      hashes + (size_t)h.next * SHA1_LEN, run_done, &h);
            if (serr)
                break;
            h.next += n;
            h.inflight++;
        }
        /* On an error or a cancel, disk_free() below drops the jobs still
         * queued and waits for the running ones. */
        if (h.inflight == 0 || h.err || serr || canceled)
            break;
        disk_wait(d);
        disk_drain(d);
        uint64_t now = clock_now_ns();
        if (!o->progress || h.err || now - last < CREATE_PROGRESS_NS)
            continue;
        last = now;
        /* Jobs finish out of order: count each as a full batch. */
        uint64_t done = h.finished * h.batch * plen;
        if (o->progress(done < s->total ? done : s->total, s->total, o->user))
            canceled = 1;
    }
    if (serr) {
        rc = serr;
        *why = "out of memory hashing";
    } else if (h.err) {
        rc = hash_error(st, s->files, h.err, why, msg, msgsize);
    } else if (canceled || (o->progress && o->progress(s->total, s->total, o->user))) {
        rc = SHOAL_ECANCELED;
        *why = "canceled by the caller";
    }
out:
    disk_free(d);
    storage_close(st);
    xfree(list);
    return rc;
}

/* ------------------------------------------------------------------ encoding */

#define TOO_LARGE                                                                        \
    "the torrent would be larger than shoal accepts (10 MiB): too many files, or "       \
    "pieces too small"

/* A URL needs a scheme ("udp://", "https://") and no spaces or controls. */
static int
url_ok(const char *u, size_t n)
{
    size_t i = 0;
    while (i < n && ((u[i] >= 'a' && u[i] <= 'z') || (u[i] >= 'A' && u[i] <= 'Z') ||
                     (i > 0 && ((u[i] >= '0' && u[i] <= '9') || u[i] == '+' ||
                                u[i] == '-' || u[i] == '.'))))
        i++;
    if (i == 0 || n - i < 4 || memcmp(u + i, "://", 3) != 0)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)u[i] <= ' ' || u[i] == 0x7f)
            return 0;
    return 1;
}

/* Walks the non-empty, comma-separated URLs of every tracker entry. */
struct tracker_iter {
    const char *const *t;
    size_t entry;
    const char *p; /* position in the current entry */
};

static void
tracker_iter_init(struct tracker_iter *it, const char *const *t)
{
    it->t = t;
    it->entry = 0;
    it->p = t && t[0] ? t[0] : NULL;
}

/* Next URL; *tier receives its tier (entry) number. Returns 0 at the end. */
static int
tracker_next(struct tracker_iter *it, const char **url, size_t *len, size_t *tier)
{
    while (it->p) {
        const char *comma = strchr(it->p, ',');
        size_t n = comma ? (size_t)(comma - it->p) : strlen(it->p);
        const char *u = it->p;
        size_t entry = it->entry;
        if (comma) {
            it->p = comma + 1;
        } else {
            it->entry++;
            it->p = it->t[it->entry];
        }
        while (n > 0 && u[0] == ' ') {
            u++;
            n--;
        }
        while (n > 0 && u[n - 1] == ' ')
            n--;
        if (n == 0)
            continue;
        *url = u;
        *len = n;
        *tier = entry;
        return 1;
    }
    return 0;
}

static int
check_urls(const struct shoal_create_opts *o, size_t *ntrackers, size_t *nwebseeds,
           const char **why)
{
    struct tracker_iter it;
    const char *u;
    size_t n, tier;
    *ntrackers = 0;
    *nwebseeds = 0;
    tracker_iter_init(&it, o->trackers);
    while (tracker_next(&it, &u, &n, &tier)) {
        if (!url_ok(u, n)) {
            *why = "a tracker URL needs a scheme (udp://, http://, https://) and no "
                   "spaces";
            return SHOAL_EINVAL;
        }
        (*ntrackers)++;
    }
    for (size_t i = 0; o->webseeds && o->webseeds[i]; i++) {
        if (!url_ok(o->webseeds[i], strlen(o->webseeds[i]))) {
            *why = "a web seed URL needs a scheme (http://, https://) and no spaces";
            return SHOAL_EINVAL;
        }
        (*nwebseeds)++;
    }
    return 0;
}

static void
put_trackers(struct benc_enc *e, const struct shoal_create_opts *o, size_t ntrackers)
{
    struct tracker_iter it;
    const char *u;
    size_t n, tier, cur = (size_t)-1;
    if (ntrackers == 0)
        return;
    tracker_iter_init(&it, o->trackers);
    tracker_next(&it, &u, &n, &tier);
    benc_key(e, "announce");
    benc_put_str(e, u, n);
    if (ntrackers == 1)
        return;
    /* BEP 12: a list of tiers, each a list of URLs tried in order. */
    benc_key(e, "announce-list");
    benc_list_begin(e);
    tracker_iter_init(&it, o->trackers);
    while (tracker_next(&it, &u, &n, &tier)) {
        if (tier != cur) {
            if (cur != (size_t)-1)
                benc_end(e);
            benc_list_begin(e);
            cur = tier;
        }
        benc_put_str(e, u, n);
    }
    benc_end(e);
    benc_end(e);
}

static void
put_files(struct benc_enc *e, const struct cfile *files, size_t nfiles)
{
    benc_key(e, "files");
    benc_list_begin(e);
    for (size_t i = 0; i < nfiles; i++) {
        benc_dict_begin(e);
        benc_key(e, "length");
        benc_put_int(e, (int64_t)files[i].size);
        benc_key(e, "path");
        benc_list_begin(e);
        const char *p = files[i].path + files[i].rel;
        for (;;) {
            const char *slash = strchr(p, '/');
            size_t n = slash ? (size_t)(slash - p) : strlen(p);
            benc_put_str(e, p, n);
            if (!slash)
                break;
            p = slash + 1;
        }
        benc_end(e);
        benc_end(e);
    }
    benc_end(e);
}

static int
nonempty(const char *s)
{
    return s && s[0];
}

/* Encodes the torrent with zeroed piece hashes; *pieces_off receives where
 * the hashes start in *out. */
static int
encode(const struct shoal_create_opts *o, const char *name, int multi,
       const struct scan *s, uint32_t plen, uint64_t npieces, size_t ntrackers,
       size_t nwebseeds, uint8_t **out, size_t *outlen, size_t *pieces_off,
       const char **why)
{
    struct benc_enc e;
    size_t hlen = (size_t)npieces * SHA1_LEN;
    int rc;
    uint8_t *zeros = xcalloc(hlen, 1);
    if (!zeros) {
        *why = "out of memory encoding the torrent";
        return SHOAL_ENOMEM;
    }
    benc_enc_init(&e, SHOAL_MAX_TORRENT_FILE);
    benc_dict_begin(&e);
    put_trackers(&e, o, ntrackers);
    if (nonempty(o->comment)) {
        benc_key(&e, "comment");
        benc_put_cstr(&e, o->comment);
    }
    if (nonempty(o->creator)) {
        benc_key(&e, "created by");
        benc_put_cstr(&e, o->creator);
    }
    if (o->creation_date >= 0) {
        benc_key(&e, "creation date");
        benc_put_int(&e, o->creation_date);
    }
    benc_key(&e, "info");
    benc_dict_begin(&e);
    if (multi) {
        put_files(&e, s->files, s->nfiles);
    } else {
        benc_key(&e, "length");
        benc_put_int(&e, (int64_t)s->total);
    }
    benc_key(&e, "name");
    benc_put_cstr(&e, name);
    benc_key(&e, "piece length");
    benc_put_int(&e, plen);
    benc_key(&e, "pieces");
    benc_put_str(&e, zeros, hlen);
    *pieces_off = e.buf.len - hlen;
    if (o->private_flag) {
        /* BEP 27: peers only from the torrent's trackers. */
        benc_key(&e, "private");
        benc_put_int(&e, 1);
    }
    if (nonempty(o->source)) {
        benc_key(&e, "source");
        benc_put_cstr(&e, o->source);
    }
    benc_end(&e);
    if (nwebseeds > 0) {
        /* BEP 19: one URL as a string, several as a list. */
        benc_key(&e, "url-list");
        if (nwebseeds == 1) {
            benc_put_cstr(&e, o->webseeds[0]);
        } else {
            benc_list_begin(&e);
            for (size_t i = 0; i < nwebseeds; i++)
                benc_put_cstr(&e, o->webseeds[i]);
            benc_end(&e);
        }
    }
    benc_end(&e);
    rc = benc_enc_finish(&e, out, outlen);
    if (rc == SHOAL_ETOOBIG)
        *why = TOO_LARGE;
    else if (rc)
        *why = "cannot encode the torrent";
    benc_enc_cleanup(&e);
    xfree(zeros);
    return rc;
}

/* ------------------------------------------------------------------ entry */

int
shoal_create_torrent(const struct shoal_create_opts *opts, uint8_t **out, size_t *outlen,
                     struct shoal_perr *err)
{
    struct scan s;
    struct shoal_perr e;
    const char *why = NULL;
    char name[NAME_MAX + 1];
    uint8_t *res = NULL;
    size_t reslen = 0, pieces_off = 0, ntrackers = 0, nwebseeds = 0;
    uint32_t plen;
    uint64_t npieces;
    int multi = 0;
    int rc;

    memset(&s, 0, sizeof(s));
    memset(&e, 0, sizeof(e));
    buf_init(&s.path, CREATE_MAX_PATH);
    if (out)
        *out = NULL;
    if (outlen)
        *outlen = 0;
    if (!opts || !opts->path || !opts->path[0] || !out || !outlen) {
        why = "no path to share";
        rc = SHOAL_EINVAL;
        goto out;
    }
    plen = opts->piece_length;
    if (plen && (!is_pow2(plen) || plen < CREATE_MIN_PIECE || plen > CREATE_MAX_PIECE)) {
        why = "the piece length must be a power of two from 16 KiB to 64 MiB";
        rc = SHOAL_EINVAL;
        goto out;
    }
    rc = check_urls(opts, &ntrackers, &nwebseeds, &why);
    if (rc)
        goto out;
    rc = shoal_create_name(opts->path, name, sizeof(name));
    if (rc) {
        why = "cannot name the torrent after the path";
        goto out;
    }

    s.follow = opts->follow_symlinks;
    rc = scan_path(&s, opts->path, &multi);
    if (rc) {
        why = s.why;
        goto out;
    }
    if (!plen)
        plen = shoal_create_auto_piece_length(s.total);
    npieces = piece_count(s.total, plen);
    if (npieces > SHOAL_MAX_PIECES) {
        why = "too many pieces: choose a larger piece length";
        rc = SHOAL_ETOOBIG;
        goto out;
    }
    if (npieces * SHA1_LEN > SHOAL_MAX_TORRENT_FILE) {
        why = TOO_LARGE;
        rc = SHOAL_ETOOBIG;
        goto out;
    }

    rc = encode(opts, name, multi, &s, plen, npieces, ntrackers, nwebseeds, &res, &reslen,
                &pieces_off, &why);
    if (rc)
        goto out;
    rc = hash_all(opts, &s, plen, res + pieces_off, &why, e.msg, sizeof(e.msg));
    if (rc)
        goto out;
    *out = res;
    *outlen = reslen;
    res = NULL;
out:
    if (rc && err) {
        err->off = 0;
        err->why = why ? why : shoal_strerror(rc);
        memcpy(err->msg, e.msg, sizeof(err->msg));
    }
    xfree(res);
    files_free(s.files, s.nfiles);
    buf_cleanup(&s.path);
    return rc;
}
