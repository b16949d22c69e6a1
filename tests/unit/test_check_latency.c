/*
 * test_check_latency.c — a full check of 2 GiB does not stall the loop. One
 * session holds a 2 GiB torrent, added with recheck, and at the same time
 * downloads a small torrent from a second session on another thread; a
 * timer on the first session's loop asks to wake every 5 ms and records how
 * late each wake-up comes. shoal_session_add must return at once, the p99
 * lateness must stay under 50 ms, and the small download must go on while
 * the check runs.
 *
 * The 2 GiB file is sparse (all zeros, hashed with the library's own create
 * API), so it takes almost no disk, though reading it costs the same hashing
 * as real data. When /tmp cannot hold 2 GiB anyway the test is skipped.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "session/session.h"
#include "shoal.h"

#define BIG_SIZE   ((uint64_t)2 * 1024 * 1024 * 1024)
#define SMALL_SIZE (4u * 1024 * 1024)
/* The timer's period and the bounds the test asserts. */
#define TICK_MS         5
#define MAX_P99_MS      50.0
#define MAX_ADD_MS      250.0
#define MAX_SAMPLES     100000
#define GIVE_UP_AFTER_S 50

static char workdir[256];

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static shoal_metainfo *
make_torrent(const char *path)
{
    struct shoal_create_opts o = {.path = path, .creation_date = -1};
    uint8_t *data;
    size_t len;
    struct shoal_perr err = {0};
    assert_int_equal(shoal_create_torrent(&o, &data, &len, &err), 0);
    shoal_metainfo *m;
    assert_int_equal(shoal_metainfo_parse(data, len, &m, &err), 0);
    shoal_free(data);
    return m;
}

static void
write_random(const char *path, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        fputc((int)(x & 0xff), f);
    }
    assert_int_equal(fclose(f), 0);
}

static void
make_sparse(const char *path, uint64_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    assert_int_equal(close(fd), 0);
}

/* What the timer sees, all on the loop thread. */
struct probe {
    shoal_session *ss;
    shoal_torrent *big, *small;
    struct event *ev;
    double due;   /* when the timer asked to wake */
    double *late; /* how late each wake-up came, ms */
    size_t n;
    double started;  /* the loop's start */
    double check_ms; /* when the check ended, from the start; < 0 until then */
    double small_ms; /* when the small download ended; < 0 until then */
    double last_progress;
    int bad_status;
};

static void
arm(struct probe *p)
{
    struct timeval tv = {0, TICK_MS * 1000};
    p->due = now_ms() + TICK_MS;
    assert_int_equal(event_add(p->ev, &tv), 0);
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct probe *p = arg;
    double t = now_ms();
    if (p->n < MAX_SAMPLES)
        p->late[p->n++] = t - p->due > 0 ? t - p->due : 0;

    struct shoal_torrent_status st;
    shoal_torrent_status(p->big, &st);
    if (st.state == SHOAL_TS_CHECKING) {
        /* A checking torrent's status is sane: progress grows within 0..1
         * and only verified pieces count. */
        if (st.check_progress < p->last_progress || st.check_progress > 1.0 ||
            st.pieces_have > st.piece_count || st.peers != 0)
            p->bad_status = 1;
        p->last_progress = st.check_progress;
    } else if (p->check_ms < 0) {
        p->check_ms = t - p->started;
        if (st.state != SHOAL_TS_SEEDING || st.pieces_have != st.piece_count ||
            st.check_progress != 1.0)
            p->bad_status = 1;
    }
    shoal_torrent_status(p->small, &st);
    if (p->small_ms < 0 && st.state == SHOAL_TS_SEEDING)
        p->small_ms = t - p->started;

    if ((p->check_ms >= 0 && p->small_ms >= 0) ||
        t - p->started > GIVE_UP_AFTER_S * 1e3) {
        shoal_session_stop(p->ss);
        return;
    }
    arm(p);
}

static void *
run_seeder(void *arg)
{
    shoal_session_run(arg, 0);
    return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void
test_loop_latency_during_check(void **state)
{
    (void)state;
    struct statvfs vfs;
    assert_int_equal(statvfs("/tmp", &vfs), 0);
    uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    if (avail < BIG_SIZE + BIG_SIZE / 8) {
        /* The file is sparse, but a file system without holes would fill. */
        printf("SKIP: /tmp has %" PRIu64 " MiB free; the 2 GiB test file needs %" PRIu64
               " MiB\n",
               avail >> 20, (BIG_SIZE + BIG_SIZE / 8) >> 20);
        skip();
    }
    char big_dir[300], big[320], seed_dir[300], small[320], leech_dir[300];
    snprintf(big_dir, sizeof(big_dir), "%s/big", workdir);
    snprintf(big, sizeof(big), "%s/big.bin", big_dir);
    snprintf(seed_dir, sizeof(seed_dir), "%s/seed", workdir);
    snprintf(small, sizeof(small), "%s/small.bin", seed_dir);
    snprintf(leech_dir, sizeof(leech_dir), "%s/leech", workdir);
    assert_int_equal(mkdir(big_dir, 0755), 0);
    assert_int_equal(mkdir(seed_dir, 0755), 0);
    make_sparse(big, BIG_SIZE);
    write_random(small, SMALL_SIZE);
    shoal_metainfo *big_m = make_torrent(big);
    uint32_t big_pieces = shoal_metainfo_piece_count(big_m);

    struct shoal_settings set;
    shoal_settings_init(&set);
    set.local_only = 1;
    shoal_session *seeder, *ss;
    assert_int_equal(shoal_session_new(&set, &seeder), 0);
    assert_int_equal(shoal_session_new(&set, &ss), 0);
    struct shoal_perr err = {0};
    struct shoal_torrent_opts seed_opts = {.save_dir = seed_dir, .seed_only = 1};
    assert_int_equal(
        shoal_session_add(seeder, make_torrent(small), &seed_opts, NULL, &err), 0);
    struct probe p = {.ss = ss, .check_ms = -1, .small_ms = -1};
    struct shoal_torrent_opts leech_opts = {.save_dir = leech_dir};
    assert_int_equal(
        shoal_session_add(ss, make_torrent(small), &leech_opts, &p.small, &err), 0);
    char peer[64];
    snprintf(peer, sizeof(peer), "127.0.0.1:%d", shoal_session_port(seeder));
    assert_int_equal(shoal_torrent_add_peer(p.small, peer), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_seeder, seeder), 0);

    /* The 2 GiB check: adding it returns at once, in the checking state. */
    struct shoal_torrent_opts big_opts = {.save_dir = big_dir, .recheck = 1};
    double t0 = now_ms();
    assert_int_equal(shoal_session_add(ss, big_m, &big_opts, &p.big, &err), 0);
    double add_ms = now_ms() - t0;
    struct shoal_torrent_status st;
    shoal_torrent_status(p.big, &st);
    assert_int_equal(st.state, SHOAL_TS_CHECKING);
    assert_true(st.check_progress >= 0.0 && st.check_progress < 1.0);
    assert_int_equal(st.piece_count, big_pieces);

    p.late = calloc(MAX_SAMPLES, sizeof(*p.late));
    assert_non_null(p.late);
    p.ev = event_new(ss->base, -1, 0, on_timer, &p);
    assert_non_null(p.ev);
    p.started = now_ms();
    arm(&p);
    assert_int_equal(shoal_session_run(ss, 0), 0);
    event_free(p.ev);
    shoal_session_stop(seeder);
    pthread_join(th, NULL);

    qsort(p.late, p.n, sizeof(*p.late), cmp_double);
    double p50 = p.n ? p.late[p.n / 2] : 0, p99 = p.n ? p.late[p.n * 99 / 100] : 0;
    double worst = p.n ? p.late[p.n - 1] : 0;
    printf("add %.2f ms; check of %u pieces (2 GiB) %.0f ms; small download done at "
           "%.0f ms; %zu wake-ups every %d ms: late by p50 %.2f, p99 %.2f, max %.2f ms\n",
           add_ms, big_pieces, p.check_ms, p.small_ms, p.n, TICK_MS, p50, p99, worst);
    assert_true(add_ms < MAX_ADD_MS);
    assert_true(p.check_ms >= 0);
    assert_true(p.small_ms >= 0);
    /* The download's writes and hashes went ahead of the check's pieces. */
    assert_true(p.small_ms < p.check_ms);
    assert_false(p.bad_status);
    assert_true(p.n >= 20);
    assert_true(p99 < MAX_P99_MS);
    free(p.late);
    shoal_session_free(ss);
    shoal_session_free(seeder);
}

int
main(void)
{
    snprintf(workdir, sizeof(workdir), "/tmp/shoal-test-latency-XXXXXX");
    if (!mkdtemp(workdir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loop_latency_during_check),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
