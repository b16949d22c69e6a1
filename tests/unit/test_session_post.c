/*
 * test_session_post.c — shoal_session_post(), the one way another thread
 * uses a session: calls from two threads all run, once each, on the loop
 * thread, in each thread's order; a call posted from a call runs later, not
 * inside the post; a full queue says -EAGAIN; shoal_session_free() runs the
 * calls still queued and refuses new ones. The threads share nothing but
 * the session and what pthread_join() hands over, so ThreadSanitizer has
 * nothing to report.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "shoal.h"

/* Calls each posting thread makes. */
#define PER_THREAD 20000
#define NTHREADS   2

/* Loop-thread state: touched only by posted calls and by main. */
static pthread_t loop_thread;
static uint32_t next_seq[NTHREADS];
static uint32_t ran;
static int finished_threads;

static shoal_session *
new_session(void)
{
    struct shoal_settings set;
    shoal_settings_init(&set);
    set.local_only = 1;
    set.listen = 0;
    set.disk_threads = 1;
    shoal_session *ss = NULL;
    assert_int_equal(shoal_session_new(&set, &ss), 0);
    return ss;
}

static void
on_loop(void)
{
    assert_true(pthread_equal(pthread_self(), loop_thread));
}

/* arg carries (thread << 24) | seq. */
static void
count_call(shoal_session *ss, void *arg)
{
    (void)ss;
    on_loop();
    uintptr_t v = (uintptr_t)arg;
    uint32_t th = (uint32_t)(v >> 24), seq = (uint32_t)(v & 0xffffff);
    assert_true(th < NTHREADS);
    assert_int_equal(seq, next_seq[th]); /* each thread's order is kept */
    next_seq[th]++;
    ran++;
}

static void
thread_done(shoal_session *ss, void *arg)
{
    (void)arg;
    on_loop();
    if (++finished_threads == NTHREADS)
        shoal_session_stop(ss);
}

static void
post_retrying(shoal_session *ss, shoal_session_fn fn, void *arg)
{
    int rc;
    /* A full queue is the loop's back-pressure: yield and try again. */
    while ((rc = shoal_session_post(ss, fn, arg)) == -EAGAIN)
        sched_yield();
    assert_int_equal(rc, 0);
}

struct poster {
    shoal_session *ss;
    uint32_t id;
};

static void *
poster_main(void *arg)
{
    struct poster *p = arg;
    for (uint32_t i = 0; i < PER_THREAD; i++)
        post_retrying(p->ss, count_call, (void *)(((uintptr_t)p->id << 24) | i));
    post_retrying(p->ss, thread_done, NULL);
    return NULL;
}

static void
test_two_threads(void **state)
{
    (void)state;
    shoal_session *ss = new_session();
    loop_thread = pthread_self();
    memset(next_seq, 0, sizeof(next_seq));
    ran = 0;
    finished_threads = 0;
    pthread_t th[NTHREADS];
    struct poster p[NTHREADS];
    for (uint32_t i = 0; i < NTHREADS; i++) {
        p[i] = (struct poster){ss, i};
        assert_int_equal(pthread_create(&th[i], NULL, poster_main, &p[i]), 0);
    }
    assert_int_equal(shoal_session_run(ss, 0), 0);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(ran, NTHREADS * PER_THREAD);
    for (int i = 0; i < NTHREADS; i++)
        assert_int_equal(next_seq[i], PER_THREAD);
    shoal_session_free(ss);
}

static int inner_ran;

static void
inner(shoal_session *ss, void *arg)
{
    (void)arg;
    on_loop();
    inner_ran++;
    shoal_session_stop(ss);
}

static void
outer(shoal_session *ss, void *arg)
{
    (void)arg;
    on_loop();
    assert_int_equal(shoal_session_post(ss, inner, NULL), 0);
    assert_int_equal(inner_ran, 0); /* queued, not run inside the post */
}

static void
test_post_from_loop(void **state)
{
    (void)state;
    shoal_session *ss = new_session();
    loop_thread = pthread_self();
    inner_ran = 0;
    assert_int_equal(shoal_session_post(ss, NULL, NULL), SHOAL_EINVAL);
    assert_int_equal(shoal_session_post(ss, outer, NULL), 0);
    assert_int_equal(shoal_session_run(ss, 0), 0);
    assert_int_equal(inner_ran, 1);
    shoal_session_free(ss);
}

static int at_free_ran;

static void
at_free(shoal_session *ss, void *arg)
{
    on_loop();
    assert_int_equal((int)(uintptr_t)arg, at_free_ran);
    at_free_ran++;
    /* The session is being freed: a new post is refused, never run. */
    assert_int_equal(shoal_session_post(ss, at_free, NULL), SHOAL_ECANCELED);
}

static void
test_queue_full_and_free(void **state)
{
    (void)state;
    shoal_session *ss = new_session();
    loop_thread = pthread_self();
    at_free_ran = 0;
    int posted = 0;
    /* The loop never runs: the queue fills up, then says so. */
    for (;;) {
        int rc = shoal_session_post(ss, at_free, (void *)(uintptr_t)posted);
        if (rc == -EAGAIN)
            break;
        assert_int_equal(rc, 0);
        posted++;
        assert_true(posted <= 1 << 20);
    }
    assert_true(posted >= 64);
    /* Every accepted call runs exactly once, in order, as the session goes. */
    shoal_session_free(ss);
    assert_int_equal(at_free_ran, posted);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_threads),
        cmocka_unit_test(test_post_from_loop),
        cmocka_unit_test(test_queue_full_and_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
