/*
 * fuzz_lsd_msg.c — libFuzzer target for the BEP 14 announce codec.
 *
 * Any datagram must parse or fail cleanly with a reason. An announce that
 * parses must hold a port of 1..65535, 1..LSD_MAX_INFOHASHES infohashes and
 * a printable cookie of at most LSD_MAX_COOKIE bytes; formatted again it
 * must parse back to the same port,
 * infohashes and cookie. Otherwise the target aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "codec/lsd_msg.h"
#include "shoal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lsd_msg a, b;
    struct shoal_perr err = {0};
    int rc = lsd_msg_parse(data, size, &a, &err);
    if (rc != 0) {
        if ((rc != SHOAL_EPARSE && rc != SHOAL_ETOOBIG) || !err.why || err.off > size)
            abort();
        return 0;
    }
    size_t clen = strnlen(a.cookie, sizeof(a.cookie));
    if (a.port == 0 || a.nih == 0 || a.nih > LSD_MAX_INFOHASHES || clen > LSD_MAX_COOKIE)
        abort();
    for (size_t i = 0; i < clen; i++)
        if ((unsigned char)a.cookie[i] < 0x20 || a.cookie[i] == 0x7f)
            abort();
    /* Whitespace around a value is trimmed, so a cookie may not end in it. */
    if (clen && (a.cookie[clen - 1] == ' ' || a.cookie[0] == ' '))
        abort();
    /* Formatted again, in as many announces as it takes (a compact one
     * may carry more than ours do), it reads back the same. */
    const char *cookie = clen ? a.cookie : NULL;
    for (size_t done = 0; done < a.nih;) {
        struct buf out;
        buf_init(&out, LSD_MAX_MSG);
        int k =
            lsd_msg_format("239.192.152.143:6771", a.port,
                           (const uint8_t(*)[20])a.ih + done, a.nih - done, cookie, &out);
        if (k <= 0 || out.len > LSD_MAX_MSG)
            abort();
        if (lsd_msg_parse(out.data, out.len, &b, NULL) != 0 || b.port != a.port ||
            b.nih != (size_t)k || memcmp(a.ih[done], b.ih, b.nih * 20) != 0 ||
            strcmp(b.cookie, cookie ? cookie : "") != 0)
            abort();
        done += (size_t)k;
        buf_cleanup(&out);
    }
    return 0;
}
