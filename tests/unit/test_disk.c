/*
 * test_disk.c — the disk worker pool: many writes and hashes submitted at
 * once with callbacks only from disk_drain on this thread, writes seen by the
 * hash submitted after them, overlapping writes and reads in order, joined
 * contiguous writes, fsync and close jobs, counters for back-pressure, the
 * check of all pieces at background priority (behind other jobs, yet never
 * starved), runs of piece hashes handed over rather than compared (each
 * after the writes submitted before it), waiting for the pool, and freeing a
 * pool with jobs still pending (every callback exactly once, writes still on
 * disk). Meant to run under
 * ThreadSanitizer and AddressSanitizer as well.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "base/sha.h"
#include "codec/bencode.h"
#include "codec/metainfo.h"
#include "engine/disk.h"
#include "engine/storage.h"
#include "shoal.h"

/* ------------------------------------------------------------------ fixture */

struct fixture {
    char dir[64];
    shoal_metainfo *m;
    uint8_t *data;
    size_t total;
    struct storage *st;
};

static void
fill(uint8_t *p, size_t n, unsigned seed)
{
    uint32_t x = 2463534242u ^ seed * 2654435761u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}

/* A torrent "t" of nfiles files of the given sizes ("f0", "f1", ...) with
 * piece length plen, its data, and a writable storage in a temp folder. */
static struct fixture *
make_fixture(const size_t *sizes, size_t nfiles, uint32_t plen)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    for (size_t i = 0; i < nfiles; i++)
        fx->total += sizes[i];
    fx->data = malloc(fx->total);
    assert_non_null(fx->data);
    fill(fx->data, fx->total, 7);
    size_t npieces = (fx->total + plen - 1) / plen;
    uint8_t *hashes = malloc(npieces * SHA1_LEN);
    assert_non_null(hashes);
    for (size_t p = 0; p < npieces; p++) {
        size_t start = p * plen;
        size_t len = fx->total - start < plen ? fx->total - start : plen;
        assert_int_equal(sha1(fx->data + start, len, hashes + p * SHA1_LEN), 0);
    }
    struct benc_enc e;
    benc_enc_init(&e, 1 << 22);
    benc_dict_begin(&e);
    benc_key(&e, "info");
    benc_dict_begin(&e);
    benc_key(&e, "files");
    benc_list_begin(&e);
    for (size_t i = 0; i < nfiles; i++) {
        char name[1 + 20 + 1]; /* "f", any size_t (20 digits at most), NUL */
        snprintf(name, sizeof(name), "f%zu", i);
        benc_dict_begin(&e);
        benc_key(&e, "length");
        benc_put_int(&e, (int64_t)sizes[i]);
        benc_key(&e, "path");
        benc_list_begin(&e);
        benc_put_cstr(&e, name);
        benc_end(&e);
        benc_end(&e);
    }
    benc_end(&e);
    benc_key(&e, "name");
    benc_put_cstr(&e, "t");
    benc_key(&e, "piece length");
    benc_put_int(&e, plen);
    benc_key(&e, "pieces");
    benc_put_str(&e, hashes, npieces * SHA1_LEN);
    benc_end(&e);
    benc_end(&e);
    uint8_t *tor;
    size_t torlen;
    assert_int_equal(benc_enc_finish(&e, &tor, &torlen), 0);
    benc_enc_cleanup(&e);
    assert_int_equal(shoal_metainfo_parse(tor, torlen, &fx->m, NULL), 0);
    shoal_free(tor);
    free(hashes);
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/shoal-disk-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    assert_int_equal(storage_open(&fx->st, fx->m, fx->dir, 0, NULL), 0);
    return fx;
}

static void
free_fixture(struct fixture *fx)
{
    char cmd[128];
    storage_close(fx->st);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
    assert_int_equal(system(cmd), 0);
    shoal_metainfo_free(fx->m);
    free(fx->data);
    free(fx);
}

/* A heap copy of torrent bytes, as the session would hand to the pool. */
static uint8_t *
copy_of(const struct fixture *fx, size_t off, size_t len)
{
    uint8_t *p = xmalloc(len);
    assert_non_null(p);
    memcpy(p, fx->data + off, len);
    return p;
}

/* ------------------------------------------------------------------ callbacks */

static pthread_t loop_thread;
static int in_drain;

/* One record per submitted job. */
struct rec {
    int calls;
    int rc;
    int order;       /* position among delivered callbacks */
    uint8_t *expect; /* read: bytes the read must return */
    size_t len;
};

static int delivered;

static void
check_context(void)
{
    assert_true(pthread_equal(pthread_self(), loop_thread));
}

/* Callbacks come from disk_drain, or from disk_free as cancelations. */
static void
check_delivery(int rc)
{
    check_context();
    assert_true(in_drain || rc == DISK_ECANCELED);
}

static void
on_done(void *user, int rc)
{
    struct rec *r = user;
    check_delivery(rc);
    r->calls++;
    r->rc = rc;
    r->order = delivered++;
}

static void
on_read(void *user, int rc, const uint8_t *data, size_t len)
{
    struct rec *r = user;
    check_delivery(rc);
    r->calls++;
    r->rc = rc;
    r->order = delivered++;
    if (rc == 0) {
        assert_non_null(data);
        assert_int_equal(len, r->len);
        if (r->expect)
            assert_memory_equal(data, r->expect, len);
    } else {
        assert_null(data);
        assert_int_equal(len, 0);
    }
}

/* Drains until `want` callbacks in total have been delivered. */
static void
pump(struct disk *d, int want)
{
    while (delivered < want) {
        struct pollfd p = {disk_notify_fd(d), POLLIN, 0};
        int r = poll(&p, 1, 10000);
        assert_true(r > 0);
        in_drain = 1;
        disk_drain(d);
        in_drain = 0;
    }
}

static int
setup(void **state)
{
    (void)state;
    loop_thread = pthread_self();
    delivered = 0;
    return 0;
}

/* A fixed permutation of 0..n-1. */
static void
shuffle(unsigned *v, unsigned n, unsigned seed)
{
    for (unsigned i = 0; i < n; i++)
        v[i] = i;
    uint32_t x = seed * 2654435761u + 1;
    for (unsigned i = n; i > 1; i--) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        unsigned j = x % i;
        unsigned t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

/* ------------------------------------------------------------------ tests */

#define PLEN  (16u * 1024)
#define BLOCK 4096u

static const size_t sizes4[] = {100000, 1, 300000, 400003};

static void
test_writes_then_hashes(void **state)
{
    (void)state;
    struct fixture *fx = make_fixture(sizes4, 4, PLEN);
    uint32_t np = fx->m->piece_count;
    struct disk *d = disk_new(4);
    assert_non_null(d);
    size_t nblocks = (fx->total + BLOCK - 1) / BLOCK;
    struct rec *w = calloc(nblocks, sizeof(*w));
    struct rec *h = calloc(np, sizeof(*h));
    assert_non_null(w);
    assert_non_null(h);
    unsigned per = PLEN / BLOCK, order[PLEN / BLOCK];
    int jobs = 0;

    /* Per piece: its blocks in a shuffled order, then its hash at once. */
    for (uint32_t p = 0; p < np; p++) {
        shuffle(order, per, p);
        for (unsigned k = 0; k < per; k++) {
            size_t b = (size_t)p * per + order[k];
            if (b >= nblocks)
                continue;
            size_t off = b * BLOCK;
            size_t len = fx->total - off < BLOCK ? fx->total - off : BLOCK;
            assert_int_equal(disk_submit_write(d, fx->st, off, copy_of(fx, off, len), len,
                                               on_done, &w[b]),
                             0);
            jobs++;
        }
        assert_int_equal(
            disk_submit_hash(d, fx->st, p, fx->m->pieces + p * SHA1_LEN, on_done, &h[p]),
            0);
        jobs++;
    }
    /* Nothing is delivered outside disk_drain. */
    assert_int_equal(delivered, 0);
    assert_int_equal(disk_pending_jobs(d), (size_t)jobs);
    assert_true(disk_pending_bytes(d) <= fx->total);
    pump(d, jobs);
    for (size_t b = 0; b < nblocks; b++) {
        assert_int_equal(w[b].calls, 1);
        assert_int_equal(w[b].rc, 0);
    }
    for (uint32_t p = 0; p < np; p++) {
        assert_int_equal(h[p].calls, 1);
        assert_int_equal(h[p].rc, 1);
    }
    assert_int_equal(disk_pending_jobs(d), 0);
    assert_int_equal(disk_pending_bytes(d), 0);
    /* A drain with nothing finished runs nothing. */
    assert_int_equal(disk_drain(d), 0);
    disk_free(d);
    free(w);
    free(h);
    free_fixture(fx);
}

static void
test_overlap_order(void **state)
{
    (void)state;
    static const size_t one[] = {64 * 1024};
    struct fixture *fx = make_fixture(one, 1, PLEN);
    struct disk *d = disk_new(8);
    assert_non_null(d);
    enum { ROUNDS = 64 };
    struct rec wa[ROUNDS], wb[ROUNDS], rd[ROUNDS];
    uint8_t junk[ROUNDS][512];
    memset(wa, 0, sizeof(wa));
    memset(wb, 0, sizeof(wb));
    memset(rd, 0, sizeof(rd));
    for (int i = 0; i < ROUNDS; i++) {
        /* Junk, then the right bytes over it, then a read and a hash: the
         * read and the hash must see the second write. */
        size_t off = (size_t)(i * 997) % (fx->total - 512);
        fill(junk[i], 512, (unsigned)i + 100);
        uint8_t *j = xmalloc(512);
        assert_non_null(j);
        memcpy(j, junk[i], 512);
        assert_int_equal(disk_submit_write(d, fx->st, off, j, 512, on_done, &wa[i]), 0);
        assert_int_equal(disk_submit_write(d, fx->st, off, copy_of(fx, off, 512), 512,
                                           on_done, &wb[i]),
                         0);
        rd[i].expect = fx->data + off;
        rd[i].len = 512;
        assert_int_equal(disk_submit_read(d, fx->st, off, 512, on_read, &rd[i]), 0);
    }
    pump(d, 3 * ROUNDS);
    for (int i = 0; i < ROUNDS; i++) {
        assert_int_equal(wa[i].rc, 0);
        assert_int_equal(wb[i].rc, 0);
        assert_int_equal(rd[i].rc, 0);
        assert_int_equal(rd[i].calls, 1);
    }
    /* Fill in the rest, then, again and again: junk over piece 0, a hash
     * (must fail), the right bytes, a hash (must pass). */
    struct rec full = {0}, w1[ROUNDS], h1[ROUNDS], w2[ROUNDS], h2[ROUNDS];
    memset(w1, 0, sizeof(w1));
    memset(h1, 0, sizeof(h1));
    memset(w2, 0, sizeof(w2));
    memset(h2, 0, sizeof(h2));
    int base = delivered;
    assert_int_equal(disk_submit_write(d, fx->st, 0, copy_of(fx, 0, fx->total), fx->total,
                                       on_done, &full),
                     0);
    for (int i = 0; i < ROUNDS; i++) {
        uint8_t *j = xmalloc(PLEN);
        assert_non_null(j);
        memset(j, i + 1, PLEN);
        assert_int_equal(disk_submit_write(d, fx->st, 0, j, PLEN, on_done, &w1[i]), 0);
        assert_int_equal(disk_submit_hash(d, fx->st, 0, fx->m->pieces, on_done, &h1[i]),
                         0);
        assert_int_equal(
            disk_submit_write(d, fx->st, 0, copy_of(fx, 0, PLEN), PLEN, on_done, &w2[i]),
            0);
        assert_int_equal(disk_submit_hash(d, fx->st, 0, fx->m->pieces, on_done, &h2[i]),
                         0);
    }
    pump(d, base + 1 + 4 * ROUNDS);
    assert_int_equal(full.rc, 0);
    for (int i = 0; i < ROUNDS; i++) {
        assert_int_equal(h1[i].calls, 1);
        assert_int_equal(h1[i].rc, 0);
        assert_int_equal(h2[i].calls, 1);
        assert_int_equal(h2[i].rc, 1);
        assert_true(w1[i].order < h1[i].order);
        assert_true(h1[i].order < w2[i].order);
        assert_true(w2[i].order < h2[i].order);
    }
    disk_free(d);
    free_fixture(fx);
}

static void
test_contiguous(void **state)
{
    (void)state;
    /* One worker, many small adjacent writes: they are joined, and the data
     * must come out right whatever the grouping. */
    static const size_t two[] = {150000, 150000};
    struct fixture *fx = make_fixture(two, 2, PLEN);
    struct disk *d = disk_new(1);
    assert_non_null(d);
    size_t n = (fx->total + 999) / 1000;
    struct rec *w = calloc(n, sizeof(*w));
    assert_non_null(w);
    for (size_t i = 0; i < n; i++) {
        size_t off = i * 1000;
        size_t len = fx->total - off < 1000 ? fx->total - off : 1000;
        assert_int_equal(
            disk_submit_write(d, fx->st, off, copy_of(fx, off, len), len, on_done, &w[i]),
            0);
    }
    struct rec fs = {0};
    assert_int_equal(disk_submit_fsync(d, fx->st, on_done, &fs), 0);
    pump(d, (int)n + 1);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(w[i].rc, 0);
    assert_int_equal(fs.rc, 0);
    /* The fsync waited for every write before it. */
    for (size_t i = 0; i < n; i++)
        assert_true(w[i].order < fs.order);
    for (uint32_t p = 0; p < fx->m->piece_count; p++)
        assert_int_equal(storage_verify_piece(fx->st, p), 1);
    disk_free(d);
    free(w);
    free_fixture(fx);
}

static void
test_read_errors(void **state)
{
    (void)state;
    struct fixture *fx = make_fixture(sizes4, 4, PLEN);
    struct disk *d = disk_new(2);
    assert_non_null(d);
    struct rec r[3];
    memset(r, 0, sizeof(r));
    r[0].len = 100;
    r[1].len = 100;
    assert_int_equal(disk_submit_read(d, fx->st, 0, 100, on_read, &r[0]), 0);
    assert_int_equal(disk_submit_read(d, fx->st, fx->total - 50, 100, on_read, &r[1]), 0);
    assert_int_equal(
        disk_submit_hash(d, fx->st, 3, fx->m->pieces + 3 * SHA1_LEN, on_done, &r[2]), 0);
    pump(d, 3);
    assert_int_equal(r[0].rc, STORAGE_EMISSING);
    assert_int_equal(r[1].rc, SHOAL_EINVAL);
    assert_int_equal(r[2].rc, STORAGE_EMISSING);
    disk_free(d);
    free_fixture(fx);
}

static void
test_submit_errors(void **state)
{
    (void)state;
    struct fixture *fx = make_fixture(sizes4, 4, PLEN);
    struct disk *d = disk_new(1);
    assert_non_null(d);
    struct rec r = {0};
    uint8_t h[SHA1_LEN] = {0};
    /* The data is freed even on failure (ASan finds a leak otherwise). */
    assert_int_equal(disk_submit_write(d, fx->st, 0, xmalloc(10), 10, NULL, &r),
                     SHOAL_EINVAL);
    assert_int_equal(disk_submit_write(d, fx->st, 0, xmalloc(10), 0, on_done, &r),
                     SHOAL_EINVAL);
    assert_int_equal(disk_submit_write(d, NULL, 0, xmalloc(10), 10, on_done, &r),
                     SHOAL_EINVAL);
    assert_int_equal(
        disk_submit_write(d, fx->st, UINT64_MAX - 5, xmalloc(10), 10, on_done, &r),
        SHOAL_EINVAL);
    assert_int_equal(disk_submit_read(d, fx->st, 0, 0, on_read, &r), SHOAL_EINVAL);
    assert_int_equal(disk_submit_read(d, fx->st, 0, 10, NULL, &r), SHOAL_EINVAL);
    assert_int_equal(disk_submit_hash(d, fx->st, 0, h, NULL, &r), SHOAL_EINVAL);
    assert_int_equal(disk_submit_fsync(d, NULL, on_done, &r), SHOAL_EINVAL);
    assert_int_equal(disk_submit_close(d, fx->st, NULL, &r), SHOAL_EINVAL);
    /* Out of memory: the callback never runs, the data is not leaked. */
    alloc_fail_after(0);
    int rc = disk_submit_write(d, fx->st, 0, malloc(10), 10, on_done, &r);
    int rc2 = disk_submit_read(d, fx->st, 0, 10, on_read, &r);
    alloc_fail_after(-1);
    assert_int_equal(rc, SHOAL_ENOMEM);
    assert_int_equal(rc2, SHOAL_ENOMEM);
    assert_int_equal(disk_pending_jobs(d), 0);
    disk_free(d);
    assert_int_equal(r.calls, 0);
    disk_free(NULL);
    free_fixture(fx);
}

static void
test_free_pending(void **state)
{
    (void)state;
    struct fixture *fx = make_fixture(sizes4, 4, PLEN);
    uint32_t np = fx->m->piece_count;
    struct disk *d = disk_new(3);
    assert_non_null(d);
    size_t nblocks = (fx->total + BLOCK - 1) / BLOCK;
    struct rec *w = calloc(nblocks, sizeof(*w));
    struct rec *h = calloc(np, sizeof(*h));
    struct rec *r = calloc(np, sizeof(*r));
    struct rec fs = {0};
    assert_non_null(w);
    assert_non_null(h);
    assert_non_null(r);
    for (size_t b = 0; b < nblocks; b++) {
        size_t off = b * BLOCK;
        size_t len = fx->total - off < BLOCK ? fx->total - off : BLOCK;
        assert_int_equal(
            disk_submit_write(d, fx->st, off, copy_of(fx, off, len), len, on_done, &w[b]),
            0);
        if (b % 4 == 3) {
            uint32_t p = (uint32_t)(b / 4);
            assert_int_equal(disk_submit_hash(d, fx->st, p, fx->m->pieces + p * SHA1_LEN,
                                              on_done, &h[p]),
                             0);
            r[p].len = 1000;
            assert_int_equal(
                disk_submit_read(d, fx->st, (uint64_t)p * PLEN, 1000, on_read, &r[p]), 0);
        }
    }
    assert_int_equal(disk_submit_fsync(d, fx->st, on_done, &fs), 0);
    /* Free at once, with most jobs queued or finished but not delivered. */
    disk_free(d);
    for (size_t b = 0; b < nblocks; b++) {
        assert_int_equal(w[b].calls, 1);
        assert_int_equal(w[b].rc, DISK_ECANCELED);
    }
    for (uint32_t p = 0; p < np; p++) {
        if (h[p].calls == 0 && r[p].calls == 0)
            continue; /* the last piece got no hash: it has fewer blocks */
        assert_int_equal(h[p].calls, 1);
        assert_int_equal(h[p].rc, DISK_ECANCELED);
        assert_int_equal(r[p].calls, 1);
        assert_int_equal(r[p].rc, DISK_ECANCELED);
    }
    assert_int_equal(fs.calls, 1);
    /* Every accepted write reached the files anyway. */
    for (uint32_t p = 0; p < np; p++)
        assert_int_equal(storage_verify_piece(fx->st, p), 1);
    free(w);
    free(h);
    free(r);
    free_fixture(fx);
}

static void
test_close_job(void **state)
{
    (void)state;
    struct fixture *fx = make_fixture(sizes4, 4, PLEN);
    struct disk *d = disk_new(4);
    assert_non_null(d);
    struct rec w[8], c = {0};
    memset(w, 0, sizeof(w));
    for (int i = 0; i < 8; i++) {
        size_t off = (size_t)i * 50000;
        assert_int_equal(disk_submit_write(d, fx->st, off, copy_of(fx, off, 50000), 50000,
                                           on_done, &w[i]),
                         0);
    }
    assert_int_equal(disk_submit_close(d, fx->st, on_done, &c), 0);
    fx->st = NULL; /* the pool closes it */
    pump(d, 9);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.rc, 0);
    assert_int_equal(c.order, 8); /* after every earlier job on it */
    disk_free(d);
    free_fixture(fx);
}

static void
test_many_files(void **state)
{
    (void)state;
    /* More files than the storage keeps open, written by 8 workers at once
     * in a shuffled order: descriptors are evicted while others use theirs. */
    enum { NF = 150, BLK = 700 };
    static size_t sizes[NF];
    for (int i = 0; i < NF; i++)
        sizes[i] = 2000 + (size_t)(i % 9) * 111;
    struct fixture *fx = make_fixture(sizes, NF, 4096);
    uint32_t np = fx->m->piece_count;
    struct disk *d = disk_new(8);
    assert_non_null(d);
    unsigned nb = (unsigned)((fx->total + BLK - 1) / BLK);
    unsigned *order = malloc(nb * sizeof(*order));
    struct rec *w = calloc(nb, sizeof(*w));
    struct rec *h = calloc(np, sizeof(*h));
    assert_non_null(order);
    assert_non_null(w);
    assert_non_null(h);
    shuffle(order, nb, 99);
    for (unsigned k = 0; k < nb; k++) {
        size_t off = (size_t)order[k] * BLK;
        size_t len = fx->total - off < BLK ? fx->total - off : BLK;
        assert_int_equal(disk_submit_write(d, fx->st, off, copy_of(fx, off, len), len,
                                           on_done, &w[order[k]]),
                         0);
    }
    for (uint32_t p = 0; p < np; p++)
        assert_int_equal(
            disk_submit_hash(d, fx->st, p, fx->m->pieces + p * SHA1_LEN, on_done, &h[p]),
            0);
    pump(d, (int)(nb + np));
    for (unsigned k = 0; k < nb; k++)
        assert_int_equal(w[k].rc, 0);
    for (uint32_t p = 0; p < np; p++)
        assert_int_equal(h[p].rc, 1);
    /* The same pieces again, as a check would hash them. */
    memset(h, 0, np * sizeof(*h));
    for (uint32_t p = 0; p < np; p++)
        assert_int_equal(
            disk_submit_check(d, fx->st, p, fx->m->pieces + p * SHA1_LEN, on_done, &h[p]),
            0);
    pump(d, (int)(nb + 2 * np));
    for (uint32_t p = 0; p < np; p++)
        assert_int_equal(h[p].rc, 1);
    disk_free(d);
    free(order);
    free(w);
    free(h);
    free_fixture(fx);
}

/* Hashes every piece as a check does; returns how many matched, with the
 * result of each in h[]. */
static uint32_t
check_all(struct disk *d, struct fixture *fx, struct rec *h)
{
    uint32_t np = fx->m->piece_count, matched = 0;
    memset(h, 0, np * sizeof(*h));
    int before = delivered;
    for (uint32_t p = 0; p < np; p++)
        assert_int_equal(
            disk_submit_check(d, fx->st, p, fx->m->pieces + p * SHA1_LEN, on_done, &h[p]),
            0);
    pump(d, before + (int)np);
    for (uint32_t p = 0; p < np; p++) {
        assert_int_equal(h[p].calls, 1);
        matched += h[p].rc == 1;
    }
    return matched;
}

static void
test_check(void **state)
{
    (void)state;
    struct fixture *fx = make_fixture(sizes4, 4, PLEN);
    uint32_t np = fx->m->piece_count;
    struct disk *d = disk_new(0);
    assert_non_null(d);
    assert_true(disk_thread_count(d) >= 1);
    struct rec *h = calloc(np, sizeof(*h));
    assert_non_null(h);
    /* Nothing on disk yet: no piece, and the error says why. */
    assert_int_equal(check_all(d, fx, h), 0);
    for (uint32_t p = 0; p < np; p++)
        assert_int_equal(h[p].rc, STORAGE_EMISSING);

    /* Every piece but one, which has a byte flipped. */
    assert_int_equal(storage_write(fx->st, 0, fx->data, fx->total), 0);
    uint8_t x = (uint8_t)~fx->data[3 * PLEN + 5];
    assert_int_equal(storage_write(fx->st, 3 * PLEN + 5, &x, 1), 0);
    assert_int_equal(check_all(d, fx, h), np - 1);
    assert_int_equal(h[3].rc, 0);
    assert_int_equal(disk_pending_jobs(d), 0);
    disk_free(d);
    free(h);
    free_fixture(fx);
}

static void
test_digest(void **state)
{
    (void)state;
    enum { RUN = 5 };
    struct fixture *fx = make_fixture(sizes4, 4, PLEN);
    uint32_t np = fx->m->piece_count;
    uint32_t nruns = (np + RUN - 1) / RUN;
    struct disk *d = disk_new(3);
    assert_non_null(d);
    uint8_t *got = malloc((size_t)np * SHA1_LEN);
    struct rec *r = calloc(nruns, sizeof(*r));
    struct rec w = {0}, bad = {0};
    assert_non_null(got);
    assert_non_null(r);

    /* Nothing on disk yet: the error of the first missing piece. */
    assert_int_equal(disk_submit_digest(d, fx->st, 0, RUN, got, on_done, &bad), 0);
    pump(d, 1);
    assert_int_equal(bad.rc, STORAGE_EMISSING);

    /* The data, then runs of RUN pieces (the last one shorter): each run
     * waits for the write under it and hands over its hashes. */
    assert_int_equal(disk_submit_write(d, fx->st, 0, copy_of(fx, 0, fx->total), fx->total,
                                       on_done, &w),
                     0);
    for (uint32_t k = 0; k < nruns; k++) {
        uint32_t first = k * RUN, n = np - first < RUN ? np - first : RUN;
        assert_int_equal(disk_submit_digest(d, fx->st, first, n,
                                            got + (size_t)first * SHA1_LEN, on_done,
                                            &r[k]),
                         0);
    }
    pump(d, 2 + (int)nruns);
    assert_int_equal(w.rc, 0);
    for (uint32_t k = 0; k < nruns; k++) {
        assert_int_equal(r[k].calls, 1);
        assert_int_equal(r[k].rc, 0);
    }
    assert_memory_equal(got, fx->m->pieces, (size_t)np * SHA1_LEN);

    /* No pieces, pieces past the end, nowhere to put the hashes. */
    assert_int_equal(disk_submit_digest(d, fx->st, 0, 0, got, on_done, &bad),
                     SHOAL_EINVAL);
    assert_int_equal(disk_submit_digest(d, fx->st, np - 1, 2, got, on_done, &bad),
                     SHOAL_EINVAL);
    assert_int_equal(disk_submit_digest(d, fx->st, UINT32_MAX, 2, got, on_done, &bad),
                     SHOAL_EINVAL);
    assert_int_equal(disk_submit_digest(d, fx->st, 0, 1, NULL, on_done, &bad),
                     SHOAL_EINVAL);
    assert_int_equal(disk_submit_digest(d, NULL, 0, 1, got, on_done, &bad), SHOAL_EINVAL);
    assert_int_equal(bad.calls, 1);
    disk_free(d);
    free(got);
    free(r);
    free_fixture(fx);
}

/*
 * Priority tests need the only worker busy while jobs queue up behind it: a
 * long write goes first, then the jobs. When nothing has finished once they
 * are all queued (the notify fd is not readable), the worker was still on
 * the write, so it saw every job queued before it chose the next: the order
 * of the callbacks is then exactly the order the pool chose. When the write
 * was done too soon (a loaded machine), the round proves nothing and runs
 * again.
 */
#define BUSY_LEN    (8u * 1024 * 1024)
#define BUSY_ROUNDS 50

static int
nothing_finished(struct disk *d)
{
    struct pollfd p = {disk_notify_fd(d), POLLIN, 0};
    return poll(&p, 1, 0) == 0;
}

static void
submit_busy(struct disk *d, struct fixture *fx, uint64_t off, struct rec *busy)
{
    assert_int_equal(disk_submit_write(d, fx->st, off, copy_of(fx, off, BUSY_LEN),
                                       BUSY_LEN, on_done, busy),
                     0);
}

static void
test_background_waits(void **state)
{
    (void)state;
    enum { NCHECK = 24, NREAD = 4 };
    size_t sizes[] = {NCHECK * PLEN, BUSY_LEN};
    struct fixture *fx = make_fixture(sizes, 2, PLEN);
    assert_int_equal(storage_write(fx->st, 0, fx->data, NCHECK * PLEN), 0);
    /* One worker: the order of the callbacks is the order the jobs ran. */
    struct disk *d = disk_new(1);
    assert_non_null(d);
    int conclusive = 0;
    for (int round = 0; round < BUSY_ROUNDS && !conclusive; round++) {
        struct rec busy = {0}, h[NCHECK], r[NREAD];
        memset(h, 0, sizeof(h));
        memset(r, 0, sizeof(r));
        delivered = 0;
        submit_busy(d, fx, NCHECK * PLEN, &busy);
        for (uint32_t p = 0; p < NCHECK; p++)
            assert_int_equal(disk_submit_check(d, fx->st, p, fx->m->pieces + p * SHA1_LEN,
                                               on_done, &h[p]),
                             0);
        /* Reads queued behind a whole check run before it. */
        for (int i = 0; i < NREAD; i++) {
            r[i].len = 100;
            r[i].expect = fx->data + (size_t)i * 1000;
            assert_int_equal(
                disk_submit_read(d, fx->st, (uint64_t)i * 1000, 100, on_read, &r[i]), 0);
        }
        conclusive = nothing_finished(d);
        pump(d, 1 + NCHECK + NREAD);
        assert_int_equal(busy.rc, 0);
        for (uint32_t p = 0; p < NCHECK; p++)
            assert_int_equal(h[p].rc, 1);
        for (int i = 0; i < NREAD; i++) {
            assert_int_equal(r[i].rc, 0);
            if (conclusive)
                assert_int_equal(r[i].order, 1 + i);
        }
    }
    if (!conclusive)
        fprintf(stderr,
                "background_waits: the machine is too busy to tell; not checked\n");
    disk_free(d);
    free_fixture(fx);
}

/* Under a steady stream of foreground jobs a check still moves on: a
 * background job runs after at most DISK_BACKGROUND_EVERY (16) of them. */
static void
test_background_progresses(void **state)
{
    (void)state;
    enum { NREAD = 200 };
    size_t sizes[] = {4 * PLEN, BUSY_LEN};
    struct fixture *fx = make_fixture(sizes, 2, PLEN);
    assert_int_equal(storage_write(fx->st, 0, fx->data, 4 * PLEN), 0);
    struct disk *d = disk_new(1);
    assert_non_null(d);
    int conclusive = 0;
    for (int round = 0; round < BUSY_ROUNDS && !conclusive; round++) {
        struct rec busy = {0}, h = {0}, r[NREAD];
        memset(r, 0, sizeof(r));
        delivered = 0;
        submit_busy(d, fx, 4 * PLEN, &busy);
        assert_int_equal(disk_submit_check(d, fx->st, 0, fx->m->pieces, on_done, &h), 0);
        for (int i = 0; i < NREAD; i++) {
            r[i].len = 10;
            r[i].expect = fx->data + PLEN + i;
            assert_int_equal(
                disk_submit_read(d, fx->st, (uint64_t)PLEN + i, 10, on_read, &r[i]), 0);
        }
        conclusive = nothing_finished(d);
        pump(d, 2 + NREAD);
        assert_int_equal(h.rc, 1);
        /* At most 16 foreground jobs (the write, if the piece was queued
         * when the worker took it, and the first reads) go before the
         * piece; the other reads wait for it. */
        if (conclusive)
            assert_true(h.order >= 15 && h.order <= 17);
    }
    if (!conclusive)
        fprintf(stderr,
                "background_progresses: the machine is too busy to tell; not checked\n");
    disk_free(d);
    free_fixture(fx);
}

/* Work for test_work: notes the thread it ran on. */
struct work_arg {
    pthread_t ran_on;
    int value;
};

static int
note_thread(void *arg)
{
    struct work_arg *w = arg;
    w->ran_on = pthread_self();
    return w->value;
}

/* disk_submit_work(): runs on a worker, reports through a drain, and still
 * runs when the pool is freed with it queued. */
static void
test_work(void **state)
{
    (void)state;
    struct disk *d = disk_new(2);
    assert_non_null(d);
    struct work_arg w[3] = {{.value = 0}, {.value = -5}, {.value = 7}};
    struct rec r[3];
    memset(r, 0, sizeof(r));
    assert_int_equal(disk_submit_work(d, NULL, &w[0], on_done, &r[0]), SHOAL_EINVAL);
    for (int i = 0; i < 2; i++)
        assert_int_equal(disk_submit_work(d, note_thread, &w[i], on_done, &r[i]), 0);
    pump(d, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(r[i].calls, 1);
        assert_int_equal(r[i].rc, w[i].value);
        assert_false(pthread_equal(w[i].ran_on, loop_thread));
    }
    w[2].ran_on = loop_thread;
    assert_int_equal(disk_submit_work(d, note_thread, &w[2], on_done, &r[2]), 0);
    disk_free(d); /* the callback comes from here, canceled, but the work ran */
    assert_int_equal(r[2].calls, 1);
    assert_false(pthread_equal(w[2].ran_on, loop_thread));
}

/* disk_wait() sleeps until a callback is ready, then returns. */
static void
test_wait(void **state)
{
    (void)state;
    struct fixture *fx = make_fixture(sizes4, 4, PLEN);
    struct disk *d = disk_new(2);
    assert_non_null(d);
    disk_wait(d); /* nothing pending: returns at once */
    struct rec w[16];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < 16; i++) {
        size_t off = (size_t)i * 40000;
        assert_int_equal(disk_submit_write(d, fx->st, off, copy_of(fx, off, 40000), 40000,
                                           on_done, &w[i]),
                         0);
    }
    in_drain = 1;
    while (disk_pending_jobs(d) > 0) {
        disk_wait(d);
        assert_true(disk_drain(d) > 0);
    }
    in_drain = 0;
    for (int i = 0; i < 16; i++)
        assert_int_equal(w[i].calls, 1);
    disk_free(d);
    free_fixture(fx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_writes_then_hashes, setup),
        cmocka_unit_test_setup(test_overlap_order, setup),
        cmocka_unit_test_setup(test_contiguous, setup),
        cmocka_unit_test_setup(test_read_errors, setup),
        cmocka_unit_test_setup(test_submit_errors, setup),
        cmocka_unit_test_setup(test_free_pending, setup),
        cmocka_unit_test_setup(test_close_job, setup),
        cmocka_unit_test_setup(test_many_files, setup),
        cmocka_unit_test_setup(test_check, setup),
        cmocka_unit_test_setup(test_digest, setup),
        cmocka_unit_test_setup(test_background_waits, setup),
        cmocka_unit_test_setup(test_background_progresses, setup),
        cmocka_unit_test_setup(test_wait, setup),
        cmocka_unit_test_setup(test_work, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
