/*
 * test_sessions.c — several sessions in one process through the public API:
 * a seeding session on one thread and a downloading session with two
 * torrents on another, on loopback. Proves there is no shared global state
 * and that a session can carry more than one torrent. Also: checks of
 * existing data run one torrent at a time, and freeing a session in the
 * middle of them stops them cleanly.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "shoal.h"

static char workdir[256];

static void
write_random(const char *path, size_t n, unsigned seed)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    srand(seed);
    for (size_t i = 0; i < n; i++)
        fputc(rand() & 0xff, f);
    fclose(f);
}

static shoal_metainfo *
make_torrent(const char *path)
{
    struct shoal_create_opts o = {
        .path = path, .creation_date = -1, .piece_length = 65536};
    uint8_t *data;
    size_t len;
    struct shoal_perr err = {0};
    assert_int_equal(shoal_create_torrent(&o, &data, &len, &err), 0);
    shoal_metainfo *m;
    assert_int_equal(shoal_metainfo_parse(data, len, &m, &err), 0);
    shoal_free(data);
    return m;
}

static int
same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb)
            same = 0;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

static void *
run_seeder(void *arg)
{
    shoal_session_run(arg, 0);
    return NULL;
}

static void
test_two_sessions_two_torrents(void **state)
{
    (void)state;
    char seed_dir[300], a[320], b[320], leech_dir[300];
    snprintf(seed_dir, sizeof(seed_dir), "%s/seed", workdir);
    snprintf(leech_dir, sizeof(leech_dir), "%s/leech", workdir);
    snprintf(a, sizeof(a), "%s/a.bin", seed_dir);
    snprintf(b, sizeof(b), "%s/b.bin", seed_dir);
    assert_int_equal(mkdir(seed_dir, 0755), 0);
    write_random(a, 3 * 1024 * 1024 + 17, 1);
    write_random(b, 1024 * 1024 - 5, 2);

    struct shoal_settings set;
    shoal_settings_init(&set);
    set.local_only = 1;
    shoal_session *seeder, *leecher;
    assert_int_equal(shoal_session_new(&set, &seeder), 0);
    assert_int_equal(shoal_session_new(&set, &leecher), 0);
    assert_int_not_equal(shoal_session_port(seeder), shoal_session_port(leecher));

    struct shoal_torrent_opts seed_opts = {.save_dir = seed_dir, .seed_only = 1};
    struct shoal_torrent_opts leech_opts = {.save_dir = leech_dir};
    struct shoal_perr err = {0};
    const char *paths[2] = {a, b};
    shoal_torrent *lt[2];
    char peer[64];
    snprintf(peer, sizeof(peer), "127.0.0.1:%d", shoal_session_port(seeder));
    for (int i = 0; i < 2; i++) {
        shoal_torrent *st;
        assert_int_equal(
            shoal_session_add(seeder, make_torrent(paths[i]), &seed_opts, &st, &err), 0);
        assert_int_equal(
            shoal_session_add(leecher, make_torrent(paths[i]), &leech_opts, &lt[i], &err),
            0);
        assert_int_equal(shoal_torrent_add_peer(lt[i], peer), 0);
    }
    /* The same torrent twice in one session is refused. */
    shoal_metainfo *dup = make_torrent(a);
    shoal_torrent *t;
    assert_int_equal(shoal_session_add(leecher, dup, &leech_opts, &t, &err),
                     SHOAL_EINVAL);
    shoal_metainfo_free(dup);

    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_seeder, seeder), 0);
    assert_int_equal(shoal_session_run(leecher, 1), 0);
    shoal_session_stop(seeder);
    pthread_join(th, NULL);

    for (int i = 0; i < 2; i++) {
        struct shoal_torrent_status st;
        shoal_torrent_status(lt[i], &st);
        assert_int_equal(st.state, SHOAL_TS_SEEDING);
        assert_true(st.have_wanted == st.total_wanted);
    }
    char got[320];
    snprintf(got, sizeof(got), "%s/a.bin", leech_dir);
    assert_true(same_file(a, got));
    snprintf(got, sizeof(got), "%s/b.bin", leech_dir);
    assert_true(same_file(b, got));
    shoal_session_free(leecher);
    shoal_session_free(seeder);
}

static void
test_local_only_refuses(void **state)
{
    (void)state;
    char dir[300], path[320];
    snprintf(dir, sizeof(dir), "%s/lo", workdir);
    snprintf(path, sizeof(path), "%s/x.bin", dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    write_random(path, 100000, 3);
    struct shoal_settings set;
    shoal_settings_init(&set);
    set.local_only = 1;
    shoal_session *ss;
    assert_int_equal(shoal_session_new(&set, &ss), 0);
    struct shoal_torrent_opts opts = {.save_dir = dir};
    struct shoal_perr err = {0};
    shoal_torrent *t;
    assert_int_equal(shoal_session_add(ss, make_torrent(path), &opts, &t, &err), 0);
    assert_int_equal(shoal_torrent_add_peer(t, "10.0.0.1:6881"), SHOAL_ELOCALONLY);
    assert_int_equal(shoal_torrent_add_peer(t, "example.com:6881"), SHOAL_ELOCALONLY);
    assert_int_equal(shoal_torrent_add_peer(t, "127.0.0.1:6881"), 0);
    assert_int_equal(shoal_torrent_add_peer(t, "not-an-address"), SHOAL_EINVAL);
    shoal_session_free(ss);
}

struct midcheck {
    shoal_torrent *first, *second;
    int polls;
};

/* Polls from the loop (each call posts the next) until the first check is
 * well under way, then stops the loop. */
static void
poll_check(shoal_session *ss, void *arg)
{
    struct midcheck *mc = arg;
    struct shoal_torrent_status a, b;
    shoal_torrent_status(mc->first, &a);
    shoal_torrent_status(mc->second, &b);
    mc->polls++;
    if (a.state != SHOAL_TS_CHECKING || a.check_progress >= 0.2) {
        shoal_session_stop(ss);
        return;
    }
    assert_int_equal(shoal_session_post(ss, poll_check, mc), 0);
}

static void
test_free_mid_check(void **state)
{
    (void)state;
    char dir[300], a[320], b[320], resume[400];
    snprintf(dir, sizeof(dir), "%s/check", workdir);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(a, sizeof(a), "%s/a.bin", dir);
    snprintf(b, sizeof(b), "%s/b.bin", dir);
    /* Sparse files of zeros: no disk used, as much hashing as real data. */
    const char *paths[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        int fd = open(paths[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 256 << 20), 0);
        close(fd);
    }
    struct shoal_settings set;
    shoal_settings_init(&set);
    set.local_only = 1;
    set.listen = 0;
    shoal_session *ss;
    assert_int_equal(shoal_session_new(&set, &ss), 0);
    struct shoal_torrent_opts opts = {.save_dir = dir, .recheck = 1};
    struct shoal_perr err = {0};
    struct midcheck mc = {0};
    shoal_metainfo *ma = make_torrent(a);
    char hex[41];
    shoal_hex(shoal_metainfo_infohash(ma), 20, hex);
    snprintf(resume, sizeof(resume), "%s/check-%s.resume", workdir, hex);
    struct shoal_torrent_opts first_opts = opts;
    first_opts.resume_path = resume;
    assert_int_equal(shoal_session_add(ss, ma, &first_opts, &mc.first, &err), 0);
    assert_int_equal(shoal_session_add(ss, make_torrent(b), &opts, &mc.second, &err), 0);
    assert_int_equal(shoal_session_post(ss, poll_check, &mc), 0);
    assert_int_equal(shoal_session_run(ss, 0), 0);

    struct shoal_torrent_status st;
    shoal_torrent_status(mc.first, &st);
    assert_int_equal(st.state, SHOAL_TS_CHECKING);
    assert_true(st.check_progress >= 0.2 && st.check_progress < 1.0);
    assert_true(st.pieces_have > 0 && st.pieces_have < st.piece_count);
    /* One check at a time: the second waits its turn. */
    shoal_torrent_status(mc.second, &st);
    assert_int_equal(st.state, SHOAL_TS_CHECKING);
    assert_true(st.check_progress == 0.0);
    assert_int_equal(st.pieces_have, 0);
    assert_true(mc.polls > 1);
    /* Freed mid-check: the pieces in flight finish unseen, and no resume
     * state is written from a check that did not end. */
    shoal_session_free(ss);
    assert_int_not_equal(access(resume, F_OK), 0);
    /* Nothing of the program's own went into the data folder. */
    char old[340];
    snprintf(old, sizeof(old), "%s/.shoal", dir);
    assert_int_not_equal(access(old, F_OK), 0);
}

int
main(void)
{
    snprintf(workdir, sizeof(workdir), "/tmp/shoal-test-sessions-XXXXXX");
    if (!mkdtemp(workdir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_sessions_two_torrents),
        cmocka_unit_test(test_local_only_refuses),
        cmocka_unit_test(test_free_mid_check),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
