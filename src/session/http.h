/*
 * http.h — outgoing HTTP(S) requests on a session's event loop, through
 * libcurl's multi interface. Session layer: http.c owns the curl multi
 * handle, its sockets' events and its timer; callers hand it a URL and get
 * the reply back. It knows nothing about what the reply means.
 *
 * In local-only mode a URL whose host is not a loopback literal or
 * "localhost" is refused before curl looks anything up, every redirect's
 * host is checked the same way, curl may open sockets to loopback
 * addresses only, and no proxy is used.
 *
 * All calls are made on the loop thread.
 */
#ifndef SHOAL_HTTP_H
#define SHOAL_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct http_client;
struct http_request;

/* What a request may take. */
struct http_opts {
    size_t max_body;        /* a longer body fails the request with SHOAL_ETOOBIG */
    long timeout_s;         /* for the whole request, redirects included; 0: none */
    long connect_timeout_s; /* for each connection */
    int max_redirects;      /* followed, each checked by the local-only guard */
    /* When low_speed_time_s > 0: a hop that moves fewer than
     * low_speed_bps bytes a second for that long fails with -ETIMEDOUT,
     * so a stalled server is let go of long before timeout_s. */
    long low_speed_bps;
    long low_speed_time_s;
    /* NULL, or a byte range "FIRST-LAST" to ask for (RFC 9110 Range) on
     * every hop; such a request asks for no content coding, since a range
     * of a compressed reply is not a range of the file. The status says
     * whether the server honoured it (206) or sent the whole thing (200). */
    const char *range;
};

/*
 * How a request ended, borrowed by the completion callback until it
 * returns. rc is 0 when a reply came (of any status but a redirect; the
 * body is the reply's), SHOAL_ECANCELED when http_cancel() or
 * http_client_free() ended it, or another negative SHOAL_E* with `error`
 * saying why in words (curl's message, "more than 5 redirects", ...);
 * -ETIMEDOUT when timeout_s ran out, on whichever hop.
 */
struct http_result {
    int rc;
    long status; /* HTTP status of the last reply, or 0 */
    const char *error;
    const uint8_t *body; /* the reply's body (NULL when empty) */
    size_t len;
};

/* Called once per request, from the loop (never inside http_start()). It
 * may start other requests and cancel others, but must not free the
 * client. */
typedef void (*http_done_cb)(void *arg, const struct http_result *r);

/*
 * Makes a client on base (which it keeps and which must outlive it).
 * curl_global_init() runs once per process, on the first call from any
 * thread; nothing here ever calls curl_global_cleanup(). Returns 0 and
 * *out, or SHOAL_ENOMEM.
 */
int http_client_new(struct event_base *base, int local_only, struct http_client **out);
/* Cancels every request in flight (their callbacks run, with
 * SHOAL_ECANCELED, before this returns) and frees the client. NULL does
 * nothing. */
void http_client_free(struct http_client *c);

/*
 * Starts a GET of url. Returns 0 and, when out is not NULL, a handle valid
 * until cb has run; cb then runs exactly once (a URL curl cannot use fails
 * there, with curl's reason). Returns SHOAL_ELOCALONLY when the local-only
 * guard refuses the URL's host, or SHOAL_ENOMEM; then cb never runs.
 */
int http_start(struct http_client *c, const char *url, const struct http_opts *o,
               http_done_cb cb, void *arg, struct http_request **out);
/* 0 when url may be fetched: in local-only mode its host must be a
 * loopback literal or "localhost" (else SHOAL_ELOCALONLY). http_start()
 * checks this itself; callers may ask first to fail early. */
int http_url_allowed(const struct http_client *c, const char *url);

/* The same check for a caller without a client. */
int http_url_check(int local_only, const char *url);

/* Runs curl_global_init() once per process (any thread, any number of
 * times). Returns 0, or SHOAL_ENOMEM when curl could not start. */
int http_global_init(void);

/* Ends r now: its callback runs before this returns, with
 * SHOAL_ECANCELED. r is invalid afterwards. */
void http_cancel(struct http_request *r);

#endif
