/*
 * test_fileselect.c — file selections ("0,2,5-7") read against a file
 * count (src/codec/fileselect.c), table-driven: selections that parse and
 * the files they pick, and selections that fail, where and with what words.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "codec/fileselect.h"
#include "shoal.h"

struct good_case {
    const char *only;
    size_t nfiles;
    const char *want; /* '1' for each selected file */
};

static const struct good_case good[] = {
    {"0", 1, "1"},     {"1", 3, "010"},          {"0,2", 3, "101"},
    {"0-2", 3, "111"}, {"5-7,1", 8, "01000111"}, {"2,2,1-2", 4, "0110"},
    {"0,", 3, "100"}, /* a trailing comma is forgiven, as it always was */
};

struct bad_case {
    const char *only;
    size_t nfiles;
    size_t off;
    const char *msg;
};

static const struct bad_case bad[] = {
    {"9", 3, 0, "the torrent has 3 files, numbered 0-2"},
    {"0,3", 3, 2, "the torrent has 3 files, numbered 0-2"},
    {"1", 1, 0, "the torrent has 1 file, numbered 0"},
    {"0-5", 2, 0, "the torrent has 2 files, numbered 0-1"},
    {"", 3, 0, "expected file indices like 0,2,5-7"},
    {"a", 3, 0, "expected file indices like 0,2,5-7"},
    {"0,,1", 3, 2, "expected file indices like 0,2,5-7"},
    {"2-1", 3, 0, "expected file indices like 0,2,5-7"},
    {"1-", 3, 0, "expected file indices like 0,2,5-7"},
    {"-1", 3, 0, "expected file indices like 0,2,5-7"},
    {"99999999999999999999999", 3, 0, "expected file indices like 0,2,5-7"},
};

static void
test_good(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        uint8_t want[16] = {0};
        struct shoal_perr err;
        memset(&err, 0, sizeof(err));
        assert_int_equal(fileselect_parse(good[i].only, good[i].nfiles, want, &err), 0);
        char got[17] = "";
        for (size_t k = 0; k < good[i].nfiles; k++)
            got[k] = want[k] ? '1' : '0';
        assert_string_equal(got, good[i].want);
        /* want may be left out: a check only. */
        assert_int_equal(fileselect_parse(good[i].only, good[i].nfiles, NULL, NULL), 0);
    }
}

static void
test_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t want[16] = {0};
        struct shoal_perr err;
        memset(&err, 0, sizeof(err));
        assert_int_equal(fileselect_parse(bad[i].only, bad[i].nfiles, want, &err),
                         SHOAL_EINVAL);
        assert_int_equal(err.off, bad[i].off);
        assert_string_equal(shoal_perr_text(&err), bad[i].msg);
        assert_int_equal(fileselect_parse(bad[i].only, bad[i].nfiles, NULL, NULL),
                         SHOAL_EINVAL);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),
        cmocka_unit_test(test_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
