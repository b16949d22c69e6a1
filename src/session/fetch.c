/*
 * fetch.c — one blocking HTTP(S) GET, for a program before its session
 * starts (a .torrent named by URL). Session layer, beside http.c, whose
 * rules it follows: http and https only, redirects followed here so that
 * each new host passes the local-only guard before curl looks it up, and
 * a hard cap on the body. It never runs on a session's loop.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/netguard.h"
#include "base/util.h"
#include "session/http.h"
#include "shoal.h"

/* Redirects followed, as most HTTP clients allow. */
#define FETCH_MAX_REDIRECTS 5
/* A server that does not accept within this is not there. */
#define FETCH_CONNECT_TIMEOUT_S 15
/* The whole fetch, redirects included: a .torrent is small. */
#define FETCH_TIMEOUT_S 60

struct fetch {
    struct buf body;
    int local_only;
};

static size_t
on_body(char *data, size_t size, size_t nmemb, void *user)
{
    struct fetch *f = user;
    size_t n = size * nmemb;
    /* Past the cap curl fails the transfer with a write error. */
    if (buf_append(&f->body, data, n) != 0)
        return 0;
    return n;
}

static curl_socket_t
open_socket(void *user, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct fetch *f = user;
    (void)purpose;
    return netguard_socket(f->local_only, &addr->addr, addr->family, addr->socktype,
                           addr->protocol);
}

static int
is_http(const char *url)
{
    return !strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8);
}

static int
is_redirect(long status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 ||
           status == 308;
}

static void
set_options(CURL *e, struct fetch *f, char *errbuf, long timeout_s)
{
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, (long)FETCH_CONNECT_TIMEOUT_S);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "shoal/" SHOAL_VERSION);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, f);
    /* As in http.c: CURL_CA_BUNDLE names the certificates to trust. */
    const char *ca = getenv("CURL_CA_BUNDLE");
    if (ca && ca[0])
        curl_easy_setopt(e, CURLOPT_CAINFO, ca);
    /* A proxy from the environment would be dialed instead of the
     * loopback server. */
    if (f->local_only)
        curl_easy_setopt(e, CURLOPT_PROXY, "");
}

/* One hop: GETs url into f->body. Returns 0 with *status, or fails. */
static int
get_once(CURL *e, struct fetch *f, const char *url, long timeout_s, long *status,
         struct shoal_perr *err)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_reset(e);
    buf_reset(&f->body);
    set_options(e, f, errbuf, timeout_s);
    curl_easy_setopt(e, CURLOPT_URL, url);
    CURLcode cc = curl_easy_perform(e);
    if (cc == CURLE_WRITE_ERROR && buf_error(&f->body) == SHOAL_ETOOBIG)
        return perr_failf(err, 0, SHOAL_ETOOBIG, "answer too large",
                          "the answer is larger than %zu bytes", f->body.max);
    if (cc != CURLE_OK)
        return perr_failf(err, 0, -EIO, "transfer failed", "%s",
                          errbuf[0] ? errbuf : curl_easy_strerror(cc));
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    return 0;
}

int
shoal_fetch_url(const char *url, int local_only, size_t max_len, uint8_t **out,
                size_t *outlen, struct shoal_perr *err)
{
    *out = NULL;
    *outlen = 0;
    if (!is_http(url))
        return perr_failf(err, 0, SHOAL_EINVAL, "not an http(s) URL",
                          "expected an http:// or https:// URL");
    if (http_global_init() != 0)
        return perr_fail(err, 0, SHOAL_ENOMEM, "cannot start libcurl");
    struct fetch f = {.local_only = local_only || netguard_env_local_only()};
    buf_init(&f.body, max_len);
    CURL *e = curl_easy_init();
    char *here = xstrdup(url);
    int rc = SHOAL_ENOMEM;
    if (!e || !here) {
        perr_fail(err, 0, rc, "out of memory");
        goto out;
    }
    long status = 0;
    /* Each hop gets the time left, so redirects cannot stretch the whole. */
    uint64_t deadline = clock_now_ms() + FETCH_TIMEOUT_S * 1000u;
    for (int hop = 0;; hop++) {
        if (http_url_check(f.local_only, here) != 0) {
            if (hop == 0)
                rc = perr_failf(err, 0, SHOAL_ELOCALONLY, "refused by local-only mode",
                                "local-only mode allows loopback addresses only");
            else
                rc = perr_failf(err, 0, SHOAL_ELOCALONLY, "refused by local-only mode",
                                "redirected to %.80s: local-only mode allows loopback "
                                "addresses only",
                                here);
            goto out;
        }
        uint64_t now = clock_now_ms();
        long left = now < deadline ? (long)((deadline - now + 999) / 1000) : 1;
        rc = get_once(e, &f, here, left, &status, err);
        if (rc)
            goto out;
        if (!is_redirect(status))
            break;
        char *to = NULL;
        if (hop == FETCH_MAX_REDIRECTS) {
            rc = perr_failf(err, 0, -EIO, "too many redirects", "more than %d redirects",
                            FETCH_MAX_REDIRECTS);
            goto out;
        }
        if (curl_easy_getinfo(e, CURLINFO_REDIRECT_URL, &to) != CURLE_OK || !to ||
            !is_http(to)) {
            rc = perr_failf(err, 0, -EIO, "bad redirect",
                            "HTTP %ld redirect to no http(s) URL", status);
            goto out;
        }
        char *next = xstrdup(to); /* `to` belongs to the handle, reset next hop */
        xfree(here);
        here = next;
        if (!here) {
            rc = perr_fail(err, 0, SHOAL_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (status != 200) {
        rc = perr_failf(err, 0, status == 404 || status == 410 ? -ENOENT : -EIO,
                        "HTTP error", "HTTP %ld", status);
        goto out;
    }
    size_t len = 0;
    uint8_t *data = buf_steal(&f.body, &len);
    if (!data) {
        rc = perr_fail(err, 0, SHOAL_ENOMEM, "out of memory");
        goto out;
    }
    *out = data;
    *outlen = len;
    rc = 0;
out:
    xfree(here);
    if (e)
        curl_easy_cleanup(e);
    buf_cleanup(&f.body);
    return rc;
}
