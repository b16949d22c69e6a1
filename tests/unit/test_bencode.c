/*
 * test_bencode.c — bencode decoder and encoder: table-driven vectors for
 * every validation rule, raw spans, navigation, and encoder key ordering.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/alloc.h"
#include "codec/bencode.h"

struct bad_vector {
    const char *in;
    size_t off;
    const char *why;
};

static const struct bad_vector bad_vectors[] = {
    {"", 0, "empty input"},
    {"x", 0, "unexpected byte"},
    {"i", 1, "truncated integer"},
    {"i12", 3, "truncated integer"},
    {"ie", 0, "integer has no digits"},
    {"i-e", 0, "integer has no digits"},
    {"i01e", 0, "integer has a leading zero"},
    {"i-01e", 0, "integer has a leading zero"},
    {"i00e", 0, "integer has a leading zero"},
    {"i-0e", 0, "integer is negative zero"},
    {"i1.5e", 2, "unexpected byte in integer"},
    {"i+1e", 1, "unexpected byte in integer"},
    {"i9223372036854775808e", 0, "integer overflows 64 bits"},
    {"i-9223372036854775809e", 0, "integer overflows 64 bits"},
    {"i99999999999999999999999e", 0, "integer overflows 64 bits"},
    {"5:abc", 0, "string length exceeds the input"},
    {"4294967296:a", 0, "string length exceeds the input"},
    {"99999999999999999999999999:a", 0, "string length exceeds the input"},
    {"03:abc", 0, "string length has a leading zero"},
    {"3abc", 1, "string length not followed by ':'"},
    {"1", 1, "truncated string length"},
    {"l", 1, "truncated: container not closed"},
    {"li1e", 4, "truncated: container not closed"},
    {"d1:a", 4, "truncated: container not closed"},
    {"di1ei2ee", 1, "dictionary key is not a string"},
    {"dlei2ee", 1, "dictionary key is not a string"},
    {"d1:ae", 4, "dictionary key has no value"},
    {"d1:ai1e1:ai2ee", 7, "duplicate dictionary key"},
    {"i1ei2e", 3, "trailing data after the value"},
    {"le ", 2, "trailing data after the value"},
    {"e", 0, "unexpected byte"},
};

static void
test_bad_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_vectors) / sizeof(bad_vectors[0]); i++) {
        const struct bad_vector *v = &bad_vectors[i];
        struct benc_doc d;
        struct shoal_perr err = {0};
        int rc = benc_decode(&d, v->in, strlen(v->in), 1000, NULL, &err);
        if (rc != SHOAL_EPARSE || err.off != v->off || strcmp(err.why, v->why) != 0)
            fail_msg("vector %zu \"%s\": rc=%d off=%zu why=%s (want off=%zu why=%s)", i,
                     v->in, rc, err.off, err.why ? err.why : "(null)", v->off, v->why);
        benc_doc_cleanup(&d);
    }
}

static void
test_depth_limit(void **state)
{
    (void)state;
    char in[2 * (BENC_MAX_DEPTH + 1) + 1];
    struct benc_doc d;
    struct shoal_perr err = {0};

    /* Exactly the limit is fine. */
    memset(in, 'l', BENC_MAX_DEPTH);
    memset(in + BENC_MAX_DEPTH, 'e', BENC_MAX_DEPTH);
    assert_int_equal(benc_decode(&d, in, 2 * BENC_MAX_DEPTH, 1000, NULL, &err), 0);
    assert_int_equal(d.ntok, BENC_MAX_DEPTH);
    benc_doc_cleanup(&d);

    /* One more is refused at the byte that opens it. */
    memset(in, 'l', BENC_MAX_DEPTH + 1);
    memset(in + BENC_MAX_DEPTH + 1, 'e', BENC_MAX_DEPTH + 1);
    assert_int_equal(benc_decode(&d, in, 2 * (BENC_MAX_DEPTH + 1), 1000, NULL, &err),
                     SHOAL_EPARSE);
    assert_int_equal(err.off, BENC_MAX_DEPTH);
    assert_string_equal(err.why, "nesting too deep");
    benc_doc_cleanup(&d);
}

static void
test_token_limit(void **state)
{
    (void)state;
    const char *in = "li1ei2ei3ee";
    struct benc_doc d;
    struct shoal_perr err = {0};
    assert_int_equal(benc_decode(&d, in, strlen(in), 4, NULL, &err), 0);
    benc_doc_cleanup(&d);
    assert_int_equal(benc_decode(&d, in, strlen(in), 3, NULL, &err), SHOAL_ETOOBIG);
    assert_string_equal(err.why, "too many bencode values");
    assert_int_equal(err.off, 7);
    benc_doc_cleanup(&d);
}

static void
test_values_and_spans(void **state)
{
    (void)state;
    const char *in = "d3:agei-42e4:info d1:xi9223372036854775807ee4:listl0:1:ze3:numi0ee";
    /* The space above is deliberate: find it and remove it. */
    char buf[128];
    size_t n = 0;
    for (const char *p = in; *p; p++)
        if (*p != ' ')
            buf[n++] = *p;
    struct benc_doc d;
    struct shoal_perr err = {0};
    assert_int_equal(benc_decode(&d, buf, n, 1000, NULL, &err), 0);
    assert_int_equal(d.tok[0].type, BENC_DICT);
    assert_int_equal(d.tok[0].count, 4);
    assert_int_equal(d.tok[0].start, 0);
    assert_int_equal(d.tok[0].end, n);
    assert_int_equal(d.tok[0].next, d.ntok);

    uint32_t age = benc_dict_get_type(&d, 0, "age", BENC_INT);
    assert_true(age);
    assert_int_equal(d.tok[age].val, -42);

    uint32_t info = benc_dict_get_type(&d, 0, "info", BENC_DICT);
    assert_true(info);
    /* The raw span is exactly the bytes of the value as written. */
    const char *want = "d1:xi9223372036854775807ee";
    assert_int_equal(d.tok[info].end - d.tok[info].start, strlen(want));
    assert_memory_equal(buf + d.tok[info].start, want, strlen(want));
    uint32_t x = benc_dict_get_type(&d, info, "x", BENC_INT);
    assert_int_equal(d.tok[x].val, INT64_MAX);

    uint32_t list = benc_dict_get_type(&d, 0, "list", BENC_LIST);
    assert_int_equal(d.tok[list].count, 2);
    uint32_t e0 = benc_first(list), e1 = benc_next(&d, e0);
    size_t len;
    benc_str(&d, e0, &len);
    assert_int_equal(len, 0);
    const uint8_t *s = benc_str(&d, e1, &len);
    assert_int_equal(len, 1);
    assert_memory_equal(s, "z", 1);

    assert_int_equal(benc_dict_get(&d, 0, "missing"), 0);
    assert_int_equal(benc_dict_get_type(&d, 0, "age", BENC_STR), 0);
    assert_int_equal(benc_dict_get(&d, list, "age"), 0); /* not a dict */
    benc_doc_cleanup(&d);
}

static void
test_int_extremes(void **state)
{
    (void)state;
    struct benc_doc d;
    struct shoal_perr err = {0};
    const char *min = "i-9223372036854775808e";
    assert_int_equal(benc_decode(&d, min, strlen(min), 10, NULL, &err), 0);
    assert_true(d.tok[0].val == INT64_MIN);
    benc_doc_cleanup(&d);
    assert_int_equal(benc_decode(&d, "i0e", 3, 10, NULL, &err), 0);
    assert_int_equal(d.tok[0].val, 0);
    benc_doc_cleanup(&d);
}

static void
test_unsorted_keys_accepted(void **state)
{
    (void)state;
    /* Other clients accept unsorted dictionaries; so do we when reading. */
    const char *in = "d1:bi1e1:ai2ee";
    struct benc_doc d;
    struct shoal_perr err = {0};
    assert_int_equal(benc_decode(&d, in, strlen(in), 10, NULL, &err), 0);
    assert_int_equal(d.tok[benc_dict_get(&d, 0, "a")].val, 2);
    benc_doc_cleanup(&d);
}

static void
test_used_allows_trailing(void **state)
{
    (void)state;
    const char *in = "d1:ai1eeRAWDATA";
    struct benc_doc d;
    struct shoal_perr err = {0};
    size_t used = 0;
    assert_int_equal(benc_decode(&d, in, strlen(in), 10, &used, &err), 0);
    assert_int_equal(used, 8);
    benc_doc_cleanup(&d);
}

static void
test_encoder(void **state)
{
    (void)state;
    struct benc_enc e;
    benc_enc_init(&e, 1024);
    benc_dict_begin(&e);
    benc_key(&e, "a");
    benc_put_int(&e, -7);
    benc_key(&e, "b");
    benc_list_begin(&e);
    benc_put_cstr(&e, "xy");
    benc_put_str(&e, "", 0);
    benc_put_raw(&e, "i3e", 3);
    benc_end(&e);
    benc_key(&e, "bb");
    benc_dict_begin(&e);
    benc_end(&e);
    benc_end(&e);
    uint8_t *out;
    size_t len;
    assert_int_equal(benc_enc_finish(&e, &out, &len), 0);
    const char *want = "d1:ai-7e1:bl2:xy0:i3ee2:bbdee";
    assert_int_equal(len, strlen(want));
    assert_memory_equal(out, want, len);
    xfree(out);
    benc_enc_cleanup(&e);
}

static void
test_encoder_refuses_misuse(void **state)
{
    (void)state;
    struct benc_enc e;

    /* Keys out of order. */
    benc_enc_init(&e, 1024);
    benc_dict_begin(&e);
    benc_key(&e, "b");
    benc_put_int(&e, 1);
    assert_int_equal(benc_key(&e, "a"), SHOAL_EINVAL);
    assert_int_equal(benc_enc_error(&e), SHOAL_EINVAL);
    benc_enc_cleanup(&e);

    /* A repeated key, and a prefix sorting before its extension. */
    benc_enc_init(&e, 1024);
    benc_dict_begin(&e);
    benc_key(&e, "ab");
    benc_put_int(&e, 1);
    assert_int_equal(benc_key(&e, "ab"), SHOAL_EINVAL);
    benc_enc_cleanup(&e);
    benc_enc_init(&e, 1024);
    benc_dict_begin(&e);
    benc_key(&e, "ab");
    benc_put_int(&e, 1);
    assert_int_equal(benc_key(&e, "a"), SHOAL_EINVAL);
    benc_enc_cleanup(&e);

    /* A value without a key, a key outside a dict, unclosed containers. */
    benc_enc_init(&e, 1024);
    benc_dict_begin(&e);
    assert_int_equal(benc_put_int(&e, 1), SHOAL_EINVAL);
    benc_enc_cleanup(&e);
    benc_enc_init(&e, 1024);
    assert_int_equal(benc_key(&e, "a"), SHOAL_EINVAL);
    benc_enc_cleanup(&e);
    benc_enc_init(&e, 1024);
    benc_list_begin(&e);
    uint8_t *out;
    size_t len;
    assert_int_equal(benc_enc_finish(&e, &out, &len), SHOAL_EINVAL);
    benc_enc_cleanup(&e);

    /* The size cap. */
    benc_enc_init(&e, 8);
    assert_int_equal(benc_put_cstr(&e, "0123456789"), SHOAL_ETOOBIG);
    benc_enc_cleanup(&e);
}

static void
test_roundtrip(void **state)
{
    (void)state;
    /* Canonical input decodes and re-encodes to the same bytes. */
    const char *in = "d4:infod6:lengthi5e4:name1:xe4:listli1ei-2e3:abcee";
    struct benc_doc d;
    struct shoal_perr err = {0};
    assert_int_equal(benc_decode(&d, in, strlen(in), 100, NULL, &err), 0);
    struct benc_enc e;
    benc_enc_init(&e, 1024);
    benc_dict_begin(&e);
    benc_key(&e, "info");
    uint32_t info = benc_dict_get(&d, 0, "info");
    benc_put_raw(&e, in + d.tok[info].start, d.tok[info].end - d.tok[info].start);
    benc_key(&e, "list");
    benc_list_begin(&e);
    benc_put_int(&e, 1);
    benc_put_int(&e, -2);
    benc_put_cstr(&e, "abc");
    benc_end(&e);
    benc_end(&e);
    uint8_t *out;
    size_t len;
    assert_int_equal(benc_enc_finish(&e, &out, &len), 0);
    assert_int_equal(len, strlen(in));
    assert_memory_equal(out, in, len);
    xfree(out);
    benc_enc_cleanup(&e);
    benc_doc_cleanup(&d);
}

static void
test_alloc_failure(void **state)
{
    (void)state;
    /* Every allocation failing in turn gives ENOMEM, never a crash or leak. */
    const char *in = "d1:al"
                     "i1ei2ei3ei4ei5ei6ei7ei8ei9ei10ei11ei12ei13ei14ei15ei16e"
                     "i17ei18ei19ei20ei21ei22ei23ei24ei25ei26ei27ei28ei29ei30ei31ei32e"
                     "i33ei34ei35ei36ei37ei38ei39ei40ei41ei42ei43ei44ei45ei46ei47ei48e"
                     "i49ei50ei51ei52ei53ei54ei55ei56ei57ei58ei59ei60ei61ei62ei63ei64e"
                     "ee";
    for (long n = 0; n < 3; n++) {
        struct benc_doc d;
        struct shoal_perr err = {0};
        alloc_fail_after(n);
        int rc = benc_decode(&d, in, strlen(in), 1000, NULL, &err);
        alloc_fail_after(-1);
        assert_true(rc == 0 || rc == SHOAL_ENOMEM);
        benc_doc_cleanup(&d);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_vectors),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_token_limit),
        cmocka_unit_test(test_values_and_spans),
        cmocka_unit_test(test_int_extremes),
        cmocka_unit_test(test_unsorted_keys_accepted),
        cmocka_unit_test(test_used_allows_trailing),
        cmocka_unit_test(test_encoder),
        cmocka_unit_test(test_encoder_refuses_misuse),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_alloc_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
