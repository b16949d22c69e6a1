/*
 * test_file.c — whole-file helpers: an atomic write replaces a file or,
 * asked not to, refuses; it never writes through a symlink planted at its
 * temporary name; a capped read refuses what is over its cap, folders and
 * (when asked) anything but a regular file; both clean up when memory runs
 * out.
 */
#include <errno.h>
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

#include "base/alloc.h"
#include "base/file.h"
#include "base/util.h"
#include "shoal.h"

static char dir[64];
static char path[128]; /* dir/out */
static char tmp[128];  /* dir/out.tmp */

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/shoal-file-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/out", dir);
    snprintf(tmp, sizeof(tmp), "%s/out.tmp", dir);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void
put(const char *p, const char *text)
{
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

/* Fails the test unless the file at p holds exactly `text`. */
static void
expect_content(const char *p, const char *text)
{
    uint8_t *data = NULL;
    size_t len = 0;
    assert_int_equal(file_read_capped(p, 1 << 20, 0, &data, &len, NULL), 0);
    assert_int_equal(len, strlen(text));
    assert_memory_equal(data, text, len);
    assert_int_equal(data[len], '\0');
    xfree(data);
}

static int
exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

/* ------------------------------------------------------------------ write */

struct write_case {
    const char *before; /* content at path first, NULL for none */
    unsigned flags;
    int rc;
    const char *after; /* content at path afterwards */
};

static const struct write_case writes[] = {
    {NULL, 0, 0, "new"},
    {"old", 0, 0, "new"},
    {NULL, FILE_NO_REPLACE, 0, "new"},
    {"old", FILE_NO_REPLACE, -EEXIST, "old"},
};

static void
test_write(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(writes); i++) {
        const struct write_case *c = &writes[i];
        unlink(path);
        if (c->before)
            put(path, c->before);
        assert_int_equal(file_write_atomic(path, "new", 3, c->flags), c->rc);
        expect_content(path, c->after);
        assert_false(exists(tmp));
    }
    /* Empty content is a file of no bytes. */
    assert_int_equal(file_write_atomic(path, "", 0, 0), 0);
    expect_content(path, "");
    /* Bad paths. */
    assert_int_equal(file_write_atomic("", "x", 1, 0), SHOAL_EINVAL);
    char nodir[160];
    snprintf(nodir, sizeof(nodir), "%s/missing/out", dir);
    assert_int_equal(file_write_atomic(nodir, "x", 1, 0), -ENOENT);
}

static void
test_write_symlinks(void **state)
{
    (void)state;
    char victim[160];
    snprintf(victim, sizeof(victim), "%s/victim", dir);
    static const unsigned flags[] = {0, FILE_NO_REPLACE};
    for (size_t i = 0; i < ARRAY_LEN(flags); i++) {
        /* A symlink planted at the temporary name is never written
         * through: the write goes to a fresh file and the target keeps its
         * bytes. */
        unlink(path);
        put(victim, "keep");
        assert_int_equal(symlink(victim, tmp), 0);
        assert_int_equal(file_write_atomic(path, "new", 3, flags[i]), 0);
        expect_content(victim, "keep");
        expect_content(path, "new");
        assert_false(exists(tmp));
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        assert_true(S_ISREG(st.st_mode));

        /* A dangling one too: nothing is created where it points. */
        char nowhere[160];
        snprintf(nowhere, sizeof(nowhere), "%s/nowhere", dir);
        unlink(path);
        assert_int_equal(symlink(nowhere, tmp), 0);
        assert_int_equal(file_write_atomic(path, "new", 3, flags[i]), 0);
        assert_false(exists(nowhere));
        expect_content(path, "new");
    }
    /* A symlink at the name itself: replaced as a name, its target kept;
     * with FILE_NO_REPLACE it counts as an existing file. */
    unlink(path);
    assert_int_equal(symlink(victim, path), 0);
    assert_int_equal(file_write_atomic(path, "new", 3, FILE_NO_REPLACE), -EEXIST);
    expect_content(victim, "keep");
    assert_int_equal(file_write_atomic(path, "new", 3, 0), 0);
    expect_content(victim, "keep");
    expect_content(path, "new");
}

static void
test_write_tmp_taken(void **state)
{
    (void)state;
    /* A folder at the temporary name makes the write fail and keeps the
     * old file whole. */
    put(path, "old");
    assert_int_equal(mkdir(tmp, 0755), 0);
    assert_true(file_write_atomic(path, "new", 3, 0) < 0);
    expect_content(path, "old");
    assert_int_equal(rmdir(tmp), 0);
    /* A stale temporary file from a crash is replaced, not appended to. */
    put(tmp, "stale stale stale");
    assert_int_equal(file_write_atomic(path, "new", 3, 0), 0);
    expect_content(path, "new");
    assert_false(exists(tmp));
}

static void
test_write_allocates_nothing(void **state)
{
    (void)state;
    /* No allocation is even tried, so a disk worker may call it. */
    put(path, "old");
    alloc_fail_after(0);
    int rc = file_write_atomic(path, "new", 3, 0);
    assert_int_equal(alloc_fail_after(-1), 0);
    assert_int_equal(rc, 0);
    expect_content(path, "new");
    /* A path too long for its stack buffers is refused before any I/O. */
    char *longp = malloc(5000);
    assert_non_null(longp);
    memset(longp, 'a', 4999);
    longp[4999] = '\0';
    assert_int_equal(file_write_atomic(longp, "x", 1, 0), -ENAMETOOLONG);
    free(longp);
}

/* The public form the command line uses: the same write, its own flag. */
static void
test_write_public(void **state)
{
    (void)state;
    assert_int_equal(shoal_write_file(path, "one", 3, SHOAL_WRITE_NO_REPLACE), 0);
    assert_int_equal(shoal_write_file(path, "two", 3, SHOAL_WRITE_NO_REPLACE), -EEXIST);
    expect_content(path, "one");
    assert_int_equal(shoal_write_file(path, "two", 3, 0), 0);
    expect_content(path, "two");
}

/* ------------------------------------------------------------------ read */

struct read_case {
    size_t size; /* bytes in the file */
    size_t cap;
    int rc;
    enum file_step step;
};

static const struct read_case reads[] = {
    {0, 0, 0, FILE_STEP_NONE},
    {0, 10, 0, FILE_STEP_NONE},
    {10, 10, 0, FILE_STEP_NONE},
    {11, 10, SHOAL_ETOOBIG, FILE_STEP_SIZE},
    {1, 0, SHOAL_ETOOBIG, FILE_STEP_SIZE},
    {300000, 300000, 0, FILE_STEP_NONE}, /* more than one read() */
    {300001, 300000, SHOAL_ETOOBIG, FILE_STEP_SIZE},
};

static void
test_read(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(reads); i++) {
        const struct read_case *c = &reads[i];
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        for (size_t k = 0; k < c->size; k++)
            fputc((int)(k * 7 % 251), f);
        assert_int_equal(fclose(f), 0);
        uint8_t *data = (uint8_t *)"unset";
        size_t len = 12345;
        enum file_step step = FILE_STEP_READ;
        int rc = file_read_capped(path, c->cap, FILE_READ_REGULAR, &data, &len, &step);
        assert_int_equal(rc, c->rc);
        assert_int_equal(step, c->step);
        if (rc == 0) {
            assert_int_equal(len, c->size);
            for (size_t k = 0; k < len; k++)
                assert_int_equal(data[k], (uint8_t)(k * 7 % 251));
            assert_int_equal(data[len], '\0');
        } else {
            /* Refused before reading, and the size says by how much. */
            assert_null(data);
            assert_int_equal(len, c->size);
        }
        xfree(data);
    }
}

struct kind_case {
    const char *path; /* NULL: the test folder */
    unsigned flags;
    size_t cap;
    int rc;
    enum file_step step;
};

static const struct kind_case kinds[] = {
    {NULL, 0, 100, -EISDIR, FILE_STEP_TYPE},
    {NULL, FILE_READ_REGULAR, 100, SHOAL_EINVAL, FILE_STEP_TYPE},
    {"/dev/null", 0, 100, 0, FILE_STEP_NONE},
    {"/dev/null", FILE_READ_REGULAR, 100, SHOAL_EINVAL, FILE_STEP_TYPE},
    /* An endless stream stops one byte past the cap. */
    {"/dev/zero", 0, 1000, SHOAL_ETOOBIG, FILE_STEP_SIZE},
    {"/dev/zero", 0, 0, SHOAL_ETOOBIG, FILE_STEP_SIZE},
    {"/nonexistent/shoal", 0, 100, -ENOENT, FILE_STEP_OPEN},
};

static void
test_read_kinds(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(kinds); i++) {
        const struct kind_case *c = &kinds[i];
        uint8_t *data = NULL;
        size_t len = 12345;
        enum file_step step = FILE_STEP_NONE;
        int rc = file_read_capped(c->path ? c->path : dir, c->cap, c->flags, &data, &len,
                                  &step);
        if (rc != c->rc)
            fail_msg("%s: got %d, want %d", c->path ? c->path : dir, rc, c->rc);
        assert_int_equal(step, c->step);
        if (rc == 0)
            assert_non_null(data);
        else
            assert_null(data);
        /* A stream refused has no size to report. */
        if (rc == SHOAL_ETOOBIG || rc == 0)
            assert_int_equal(len, 0);
        xfree(data);
    }
}

static void
test_read_no_memory(void **state)
{
    (void)state;
    put(path, "some bytes");
    uint8_t *data = NULL;
    size_t len;
    enum file_step step;
    alloc_fail_after(0);
    int rc = file_read_capped(path, 100, 0, &data, &len, &step);
    alloc_fail_after(-1);
    assert_int_equal(rc, SHOAL_ENOMEM);
    assert_int_equal(step, FILE_STEP_MEMORY);
    assert_null(data);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_symlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_tmp_taken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_allocates_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_public, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_no_memory, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
