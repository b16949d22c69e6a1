/*
 * http.c — libcurl's multi interface driven by the session's libevent
 * loop: curl says which sockets to watch and when to wake it
 * (CURLMOPT_SOCKETFUNCTION, CURLMOPT_TIMERFUNCTION), the loop tells curl
 * when they are ready, and finished transfers are handed to their
 * callers. Session layer; nothing here blocks the loop, and nothing here
 * knows what a request is for.
 *
 * Redirects are followed here rather than by curl, so that each new host
 * passes the local-only check before curl looks it up.
 */
#include "session/http.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/netguard.h"
#include "shoal.h"

/* Longest reason kept for a failed request. */
#define HTTP_WHY_LEN 300

struct http_client {
    struct event_base *base;
    int local_only;
    CURLM *multi;
    struct event *timer;
    struct http_request *reqs; /* in flight */
};

struct http_request {
    struct http_client *c;
    struct http_request *prev, *next;
    CURL *easy;
    struct buf body;
    int redirects, max_redirects;
    /* clock_now_ms() by which the whole request, redirects included, must
     * end; 0 for none. Each hop gets the time left (CURLOPT_TIMEOUT_MS),
     * since re-adding the handle restarts curl's own clock. */
    uint64_t deadline_ms;
    long timeout_s;
    http_done_cb cb;
    void *arg;
    char errbuf[CURL_ERROR_SIZE];
    char why[HTTP_WHY_LEN];
};

/* A socket curl asked us to watch. */
struct curl_sock {
    struct event *ev;
};

/* ------------------------------------------------------------------ process */

/* curl_global_init() is not safe to run twice at once, and its clean-up
 * would pull the ground from under other sessions of the process: it runs
 * once, on first use, and is never undone. */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ready;

static void
curl_init_once(void)
{
    curl_ready = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

/* ------------------------------------------------------------------ requests */

static size_t
on_body(char *data, size_t size, size_t nmemb, void *user)
{
    struct http_request *r = user;
    size_t n = size * nmemb;
    /* Past the cap the transfer is cut off (curl then fails it with a
     * write error, and the buffer remembers why). */
    if (buf_append(&r->body, data, n) != 0)
        return 0;
    return n;
}

static curl_socket_t
open_socket(void *user, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct http_client *c = user;
    (void)purpose;
    return netguard_socket(c->local_only, &addr->addr, addr->family, addr->socktype,
                           addr->protocol);
}

/*
 * In local-only mode the URL's host must be a loopback literal or
 * "localhost" before curl sees it: curl would otherwise look the name up,
 * and the DNS query would leave the machine even though the socket check
 * later refuses the connection. (curl answers "localhost" itself, without
 * DNS.)
 */
int
http_url_check(int local_only, const char *url)
{
    if (!local_only)
        return 0;
    int rc = SHOAL_ELOCALONLY;
    char *host = NULL;
    CURLU *u = curl_url();
    if (!u)
        return SHOAL_ENOMEM;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        goto out;
    /* An IPv6 literal comes back in brackets. */
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        memmove(host, host + 1, n - 2);
        host[n - 2] = '\0';
    }
    rc = netguard_check_name(1, host);
out:
    curl_free(host);
    curl_url_cleanup(u);
    return rc;
}

int
http_url_allowed(const struct http_client *c, const char *url)
{
    return http_url_check(c->local_only, url);
}

int
http_global_init(void)
{
    pthread_once(&curl_once, curl_init_once);
    return curl_ready ? 0 : SHOAL_ENOMEM;
}

static void
unlink_request(struct http_request *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else if (r->c->reqs == r)
        r->c->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
}

static void
request_free(struct http_request *r)
{
    if (!r)
        return;
    if (r->easy) {
        curl_multi_remove_handle(r->c->multi, r->easy);
        curl_easy_cleanup(r->easy);
    }
    buf_cleanup(&r->body);
    xfree(r);
}

/* Ends r: curl lets go of it first, then its caller hears how it went,
 * then it is freed. */
static void
finish(struct http_request *r, int rc, long status, const char *error)
{
    unlink_request(r);
    if (r->easy) {
        curl_multi_remove_handle(r->c->multi, r->easy);
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
    }
    struct http_result res = {
        .rc = rc,
        .status = status,
        .error = error,
        .body = rc == 0 ? r->body.data : NULL,
        .len = rc == 0 ? r->body.len : 0,
    };
    r->cb(r->arg, &res);
    request_free(r);
}

static int
is_redirect(long status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 ||
           status == 308;
}

/* Sends r again to the place a redirect named. Returns 0 when the request
 * is under way again, or fills r->why and returns < 0. */
static int
follow(struct http_request *r)
{
    struct http_client *c = r->c;
    char *to = NULL;
    if (curl_easy_getinfo(r->easy, CURLINFO_REDIRECT_URL, &to) != CURLE_OK || !to) {
        snprintf(r->why, sizeof(r->why), "redirect without a usable Location");
        return SHOAL_EPARSE;
    }
    if (++r->redirects > r->max_redirects) {
        snprintf(r->why, sizeof(r->why), "more than %d redirects", r->max_redirects);
        return SHOAL_EPARSE;
    }
    int rc = http_url_allowed(c, to);
    if (rc) {
        snprintf(r->why, sizeof(r->why), "redirect to %.200s: %s", to,
                 shoal_strerror(rc));
        return rc;
    }
    if (r->deadline_ms) {
        uint64_t now = clock_now_ms();
        if (now >= r->deadline_ms) {
            snprintf(r->why, sizeof(r->why),
                     "timed out: %ld s for the request and its redirects", r->timeout_s);
            return -ETIMEDOUT;
        }
        curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)(r->deadline_ms - now));
    }
    curl_multi_remove_handle(c->multi, r->easy);
    /* The old URL's memory belongs to curl until CURLOPT_URL copies it. */
    char *copy = xstrdup(to);
    if (!copy) {
        snprintf(r->why, sizeof(r->why), "out of memory");
        return SHOAL_ENOMEM;
    }
    curl_easy_setopt(r->easy, CURLOPT_URL, copy);
    xfree(copy);
    buf_reset(&r->body);
    r->errbuf[0] = '\0';
    if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) {
        snprintf(r->why, sizeof(r->why), "out of memory");
        return SHOAL_ENOMEM;
    }
    return 0;
}

static void
transfer_done(struct http_request *r, CURLcode code)
{
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    if (code == CURLE_OK && is_redirect(status)) {
        int rc = follow(r);
        if (rc)
            finish(r, rc, status, r->why);
        return;
    }
    if (buf_error(&r->body) == SHOAL_ETOOBIG) {
        snprintf(r->why, sizeof(r->why), "reply larger than %zu bytes", r->body.max);
        finish(r, SHOAL_ETOOBIG, status, r->why);
    } else if (code != CURLE_OK) {
        snprintf(r->why, sizeof(r->why), "%s",
                 r->errbuf[0] ? r->errbuf : curl_easy_strerror(code));
        finish(r, code == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO, status, r->why);
    } else {
        finish(r, 0, status, NULL);
    }
}

/* Collects finished transfers. */
static void
check_done(struct http_client *c)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct http_request *r = NULL;
        CURLcode code = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (r)
            transfer_done(r, code);
    }
}

/* ------------------------------------------------------------------ loop glue */

static void
on_curl_event(evutil_socket_t fd, short what, void *arg)
{
    struct http_client *c = arg;
    int flags =
        (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
    int running;
    curl_multi_socket_action(c->multi, fd, flags, &running);
    check_done(c);
}

static int
on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *user, void *socketp)
{
    (void)easy;
    struct http_client *c = user;
    struct curl_sock *cs = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (cs) {
            if (cs->ev)
                event_free(cs->ev);
            xfree(cs);
            curl_multi_assign(c->multi, fd, NULL);
        }
        return 0;
    }
    if (!cs) {
        cs = xcalloc(1, sizeof(*cs));
        if (!cs)
            return -1;
        curl_multi_assign(c->multi, fd, cs);
    } else if (cs->ev) {
        event_free(cs->ev);
    }
    short ev = EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) |
               (what & CURL_POLL_OUT ? EV_WRITE : 0);
    cs->ev = event_new(c->base, fd, ev, on_curl_event, c);
    if (!cs->ev)
        return -1;
    event_add(cs->ev, NULL);
    return 0;
}

static void
on_curl_timer_fired(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct http_client *c = arg;
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

static int
on_curl_timer(CURLM *multi, long timeout_ms, void *user)
{
    (void)multi;
    struct http_client *c = user;
    if (timeout_ms < 0) {
        evtimer_del(c->timer);
        return 0;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(c->timer, &tv);
    return 0;
}

/* ------------------------------------------------------------------ public */

int
http_client_new(struct event_base *base, int local_only, struct http_client **out)
{
    *out = NULL;
    pthread_once(&curl_once, curl_init_once);
    if (!curl_ready)
        return SHOAL_ENOMEM;
    struct http_client *c = xcalloc(1, sizeof(*c));
    if (!c)
        return SHOAL_ENOMEM;
    c->base = base;
    c->local_only = local_only;
    c->multi = curl_multi_init();
    c->timer = evtimer_new(base, on_curl_timer_fired, c);
    if (!c->multi || !c->timer) {
        http_client_free(c);
        return SHOAL_ENOMEM;
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    *out = c;
    return 0;
}

void
http_client_free(struct http_client *c)
{
    if (!c)
        return;
    while (c->reqs)
        http_cancel(c->reqs);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    if (c->timer)
        event_free(c->timer);
    xfree(c);
}

int
http_start(struct http_client *c, const char *url, const struct http_opts *o,
           http_done_cb cb, void *arg, struct http_request **out)
{
    if (out)
        *out = NULL;
    int rc = http_url_allowed(c, url);
    if (rc)
        return rc;
    struct http_request *r = xcalloc(1, sizeof(*r));
    if (!r)
        return SHOAL_ENOMEM;
    r->c = c;
    r->cb = cb;
    r->arg = arg;
    r->max_redirects = o->max_redirects;
    r->timeout_s = o->timeout_s;
    if (o->timeout_s > 0)
        r->deadline_ms = clock_now_ms() + (uint64_t)o->timeout_s * 1000;
    buf_init(&r->body, o->max_body);
    r->easy = curl_easy_init();
    if (!r->easy) {
        rc = SHOAL_ENOMEM;
        goto out;
    }
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_s > 0 ? o->timeout_s * 1000 : 0L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, o->connect_timeout_s);
    if (o->low_speed_time_s > 0) {
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, o->low_speed_bps);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, o->low_speed_time_s);
    }
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "shoal/" SHOAL_VERSION);
    if (o->range)
        curl_easy_setopt(e, CURLOPT_RANGE, o->range);
    else
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, c);
    /* Like curl's own tool and Transmission: CURL_CA_BUNDLE names the
     * certificates HTTPS servers are checked against, instead of the
     * system's store. */
    const char *ca = getenv("CURL_CA_BUNDLE");
    if (ca && ca[0])
        curl_easy_setopt(e, CURLOPT_CAINFO, ca);
    if (c->local_only) {
        /* A proxy from the environment would be dialed (and its name looked
         * up) instead of the loopback server. */
        curl_easy_setopt(e, CURLOPT_PROXY, "");
    }
    if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
        rc = SHOAL_ENOMEM;
        goto out;
    }
    r->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = r;
    c->reqs = r;
    if (out)
        *out = r;
out:
    if (rc)
        request_free(r);
    return rc;
}

void
http_cancel(struct http_request *r)
{
    if (r)
        finish(r, SHOAL_ECANCELED, 0, shoal_strerror(SHOAL_ECANCELED));
}
