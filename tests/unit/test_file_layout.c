/*
 * test_file_layout.c — what a download leaves in its folder, through the
 * public API with sessions on loopback: files carry a ".part" suffix until
 * every piece over them is verified and then take their names; with a file
 * selection and a parts file, unselected files are never created, and the
 * pieces they share with the selected file are kept, verified and served
 * from the parts file; the resume state stays true across the renames and
 * lives where the caller says, never in the data folder.
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "shoal.h"

static char workdir[256];

/* Sizes chosen so that pieces of 64 KiB span both boundaries: file 0 ends
 * inside piece 1, file 1 inside piece 3. */
static const size_t sizes[3] = {100007, 150001, 90003};
#define PIECE 65536

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

static int
exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static long long
size_of(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* The entries of a folder, sorted, joined by spaces. */
static void
list_dir(const char *dir, char *out, size_t cap)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
            size_t len = strlen(out);
            snprintf(out + len, cap - len, "%s%s", len ? " " : "", names[i]->d_name);
        }
        free(names[i]);
    }
    if (n >= 0)
        free(names);
}

/* The torrent of the album made last, as bencoded bytes. */
static uint8_t *torrent;
static size_t torrent_len;

/* The folder "album" of three files under workdir/name, and its torrent. */
static void
make_album(const char *name, char *data_dir, size_t cap)
{
    char path[400];
    snprintf(data_dir, cap, "%s/%s", workdir, name);
    assert_int_equal(mkdir(data_dir, 0755), 0);
    snprintf(path, sizeof(path), "%s/album", data_dir);
    assert_int_equal(mkdir(path, 0755), 0);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/album/%d.bin", data_dir, i);
        write_random(path, sizes[i], 10u + (unsigned)i);
    }
    snprintf(path, sizeof(path), "%s/album", data_dir);
    struct shoal_create_opts o = {
        .path = path, .creation_date = -1, .piece_length = PIECE};
    struct shoal_perr err = {0};
    shoal_free(torrent);
    assert_int_equal(shoal_create_torrent(&o, &torrent, &torrent_len, &err), 0);
}

/* A new metainfo of the album (the session takes each one it is given). */
static shoal_metainfo *
album(void)
{
    shoal_metainfo *m;
    struct shoal_perr err = {0};
    assert_int_equal(shoal_metainfo_parse(torrent, torrent_len, &m, &err), 0);
    return m;
}

static shoal_session *
new_session(void)
{
    struct shoal_settings set;
    shoal_settings_init(&set);
    set.local_only = 1;
    shoal_session *ss;
    assert_int_equal(shoal_session_new(&set, &ss), 0);
    return ss;
}

static void *
run_source(void *arg)
{
    shoal_session_run(arg, 0);
    return NULL;
}

/* Downloads the album into opts->save_dir from a session seeding src_opts, and
 * returns the finished status. */
static void
download(const struct shoal_torrent_opts *src_opts, const struct shoal_torrent_opts *opts,
         struct shoal_torrent_status *out)
{
    shoal_session *src = new_session(), *dst = new_session();
    shoal_torrent *st, *dt;
    struct shoal_perr err = {0};
    assert_int_equal(shoal_session_add(src, album(), src_opts, &st, &err), 0);
    assert_int_equal(shoal_session_add(dst, album(), opts, &dt, &err), 0);
    char peer[64];
    snprintf(peer, sizeof(peer), "127.0.0.1:%d", shoal_session_port(src));
    assert_int_equal(shoal_torrent_add_peer(dt, peer), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_source, src), 0);
    assert_int_equal(shoal_session_run(dst, 1), 0);
    shoal_session_stop(src);
    pthread_join(th, NULL);
    shoal_torrent_status(dt, out);
    /* Freeing runs the renames and the last resume save to their end. */
    shoal_session_free(dst);
    shoal_session_free(src);
}

/* The state a torrent starts in when added with opts (nothing run). */
static enum shoal_torrent_state
start_state(const struct shoal_torrent_opts *opts)
{
    shoal_session *ss = new_session();
    shoal_torrent *t;
    struct shoal_perr err = {0};
    assert_int_equal(shoal_session_add(ss, album(), opts, &t, &err), 0);
    struct shoal_torrent_status st;
    shoal_torrent_status(t, &st);
    shoal_session_free(ss);
    return st.state;
}

static void
test_part_names_and_resume(void **state)
{
    (void)state;
    char seed[300], dl[300], resume[300], path[400], want[400], names[512];
    make_album("seed1", seed, sizeof(seed));
    snprintf(dl, sizeof(dl), "%s/dl1", workdir);
    snprintf(resume, sizeof(resume), "%s/state1.resume", workdir);
    struct shoal_torrent_opts so = {
        .save_dir = seed, .seed_only = 1, .incomplete_ext = ".part"};
    struct shoal_torrent_opts o = {
        .save_dir = dl, .resume_path = resume, .incomplete_ext = ".part"};
    struct shoal_torrent_status st;
    download(&so, &o, &st);
    assert_int_equal(st.state, SHOAL_TS_SEEDING);

    /* Complete: every file has its name and its bytes; nothing else is in
     * the folder (no suffix left, no state of the program's own). */
    list_dir(dl, names, sizeof(names));
    assert_string_equal(names, "album");
    snprintf(path, sizeof(path), "%s/album", dl);
    list_dir(path, names, sizeof(names));
    assert_string_equal(names, "0.bin 1.bin 2.bin");
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/album/%d.bin", dl, i);
        snprintf(want, sizeof(want), "%s/album/%d.bin", seed, i);
        assert_true(same_file(path, want));
    }
    assert_true(exists(resume));

    /* A restart trusts the state saved around the renames: no check. */
    assert_int_equal(start_state(&o), SHOAL_TS_SEEDING);

    /* Stopped after the state was saved but before a rename: the file is
     * found under its incomplete name, trusted, and renamed at start. */
    snprintf(path, sizeof(path), "%s/album/1.bin", dl);
    snprintf(want, sizeof(want), "%s/album/1.bin.part", dl);
    assert_int_equal(rename(path, want), 0);
    assert_int_equal(start_state(&o), SHOAL_TS_SEEDING);
    assert_true(exists(path));
    assert_false(exists(want));

    /* A file changed since the save is checked again, not trusted. */
    write_random(path, sizes[1], 99);
    assert_int_equal(start_state(&o), SHOAL_TS_CHECKING);
}

static void
test_only_with_parts_file(void **state)
{
    (void)state;
    char seed[300], dl[300], dl2[300], sdir[300], resume[340], parts[340];
    char path[400], want[400], names[512];
    make_album("seed2", seed, sizeof(seed));
    snprintf(dl, sizeof(dl), "%s/dl2", workdir);
    snprintf(sdir, sizeof(sdir), "%s/state2", workdir);
    snprintf(resume, sizeof(resume), "%s/album.resume", sdir);
    snprintf(parts, sizeof(parts), "%s/album.parts", sdir);
    struct shoal_torrent_opts so = {.save_dir = seed, .seed_only = 1};
    struct shoal_torrent_opts o = {.save_dir = dl,
                                   .resume_path = resume,
                                   .parts_path = parts,
                                   .incomplete_ext = ".part",
                                   .only = "1"};
    struct shoal_torrent_status st;
    download(&so, &o, &st);
    assert_int_equal(st.state, SHOAL_TS_SEEDING);
    assert_true(st.have_wanted == st.total_wanted);
    /* Pieces 1..3 cover file 1; 1 and 3 are shared with files 0 and 2. */
    assert_int_equal(st.pieces_have, 3);

    /* Only the selected file is there, whole and under its name. */
    snprintf(path, sizeof(path), "%s/album", dl);
    list_dir(path, names, sizeof(names));
    assert_string_equal(names, "1.bin");
    snprintf(path, sizeof(path), "%s/album/1.bin", dl);
    snprintf(want, sizeof(want), "%s/album/1.bin", seed);
    assert_true(same_file(path, want));
    assert_true(exists(parts) && exists(resume));

    /* Restarted, the state (parts file included) is trusted. */
    assert_int_equal(start_state(&o), SHOAL_TS_SEEDING);

    /* Another node gets file 1 from this one alone: the shared pieces come
     * out of the parts file and verify. Without a parts file of its own,
     * its unselected files hold only the bytes of shared pieces. */
    snprintf(dl2, sizeof(dl2), "%s/dl3", workdir);
    struct shoal_torrent_opts o2 = {.save_dir = dl2, .only = "1"};
    download(&o, &o2, &st);
    assert_int_equal(st.state, SHOAL_TS_SEEDING);
    snprintf(path, sizeof(path), "%s/album/1.bin", dl2);
    assert_true(same_file(path, want));
    snprintf(path, sizeof(path), "%s/album/2.bin", dl2);
    assert_int_equal(size_of(path), 4 * PIECE - (long long)(sizes[0] + sizes[1]));
    /* Nothing of the program's own anywhere in either folder. */
    list_dir(dl2, names, sizeof(names));
    assert_string_equal(names, "album");
    list_dir(dl, names, sizeof(names));
    assert_string_equal(names, "album");

    /* Everything selected later: file 0 and 2 take over their bytes from
     * the parts file, which then goes; the rest is downloaded. */
    o.only = NULL;
    download(&so, &o, &st);
    assert_int_equal(st.state, SHOAL_TS_SEEDING);
    assert_false(exists(parts));
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/album/%d.bin", dl, i);
        snprintf(want, sizeof(want), "%s/album/%d.bin", seed, i);
        assert_true(same_file(path, want));
    }
}

int
main(void)
{
    snprintf(workdir, sizeof(workdir), "/tmp/shoal-test-files-XXXXXX");
    if (!mkdtemp(workdir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_part_names_and_resume),
        cmocka_unit_test(test_only_with_parts_file),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    shoal_free(torrent);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", workdir);
    if (system(cmd) != 0)
        rc = 1;
    return rc;
}
