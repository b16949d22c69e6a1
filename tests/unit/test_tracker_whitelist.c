/*
 * test_tracker_whitelist.c — the tracker's whitelist file: infohashes one a
 * line, with blank lines, # comments and CRLF endings allowed; a bad line is
 * refused with its number; a missing file is refused; a file with a last
 * line without a newline is read whole.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "shoal.h"

static char path[64];

static void
write_list(const char *text)
{
    snprintf(path, sizeof(path), "/tmp/shoal-whitelist-%d", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Starts a tracker on loopback ports with the whitelist at `path`. */
static int
start(struct shoal_perr *err)
{
    struct shoal_tracker_settings s;
    shoal_tracker_settings_init(&s);
    s.http_addr = "127.0.0.1:0";
    s.whitelist = path;
    shoal_tracker *tr = NULL;
    memset(err, 0, sizeof(*err));
    int rc = shoal_tracker_new(&s, &tr, err);
    shoal_tracker_free(tr);
    return rc;
}

static void
test_good_lists(void **state)
{
    (void)state;
    static const char *const lists[] = {
        "0123456789abcdef0123456789abcdef01234567\n",
        ("# allowed\n\n0123456789abcdef0123456789abcdef01234567  # album\r\n"
         "89ABCDEF0123456789ABCDEF0123456789abcdef\r\n"),
        "0123456789abcdef0123456789abcdef01234567", /* no newline at the end */
        "",
    };
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        struct shoal_perr err;
        write_list(lists[i]);
        int rc = start(&err);
        if (rc)
            fail_msg("list %zu: %d %s", i, rc, err.why ? err.why : "");
    }
    unlink(path);
}

static void
test_bad_lists(void **state)
{
    (void)state;
    struct shoal_perr err;
    write_list("0123456789abcdef0123456789abcdef01234567\n"
               "# comment\n"
               "0123456789abcdef0123456789abcdef0123456\n");
    assert_int_equal(start(&err), SHOAL_EPARSE);
    assert_string_equal(err.why, "whitelist lines must be 40 hex digits");
    assert_string_equal(err.msg, "whitelist line 3 is not a 40-digit infohash");
    write_list("0123456789abcdef0123456789abcdef0123456x\n");
    assert_int_equal(start(&err), SHOAL_EPARSE);
    assert_string_equal(err.msg, "whitelist line 1 is not a 40-digit infohash");
    /* A hash longer than 40 digits is not cut to fit. */
    write_list("0123456789abcdef0123456789abcdef0123456789\n");
    assert_int_equal(start(&err), SHOAL_EPARSE);
    unlink(path);
    assert_int_equal(start(&err), -ENOENT);
    assert_string_equal(err.why, "cannot read the whitelist");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_lists),
        cmocka_unit_test(test_bad_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
