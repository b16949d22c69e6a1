/*
 * metainfo.c — reads BitTorrent v1 torrent files. Codec layer.
 *
 * Parsing checks every field the node will rely on (piece length, piece
 * count against the total size, file lengths, path depth) and refuses the
 * torrent with the offset and a reason when one is wrong. File names are a
 * different matter: a name that could escape the download folder is rewritten
 * so that it stays inside, the way libtorrent does, and the change is kept as
 * a warning for the user. The rule (also in the README):
 *
 *   - each path component is taken as bytes; "", "." and ".." components are
 *     dropped; '/', '\\', control characters (NUL included) and bytes that
 *     are not valid UTF-8 become '_'; a component is cut at 240 bytes;
 *   - a torrent name that ends up empty becomes the infohash in hex;
 *   - a file whose path repeats an earlier file, or equals a folder another
 *     file lives in, is renamed "stem.N.ext" with the smallest free N;
 *   - a symlink entry (BEP 47 attr "l") whose target has an empty, ".", ".."
 *     or slashed component is kept as a plain file, never as a link;
 *   - more than 100 path components is refused outright.
 *
 * Nothing here touches the network or the clock; shoal_metainfo_load() reads
 * only the file it is given, and refuses one over 10 MiB before reading it.
 */
#include "codec/metainfo.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/file.h"
#include "base/sha.h"
#include "base/strv.h"
#include "base/util.h"
#include "codec/bencode.h"
#include "codec/magnet.h"

/* Longest path kept for one file (components joined); bounds renames too. */
#define METAINFO_MAX_PATH 4096
/* How far a rename may count before giving up ("a.1", "a.2", ...). */
#define METAINFO_MAX_RENAME 100000

struct parser {
    const struct benc_doc *d;
    struct shoal_metainfo *m;
    struct shoal_perr *err;
    struct strv warnings;
};

/* ------------------------------------------------------------------ helpers */

static int
bad(struct parser *p, uint32_t tok, const char *why)
{
    if (p->err) {
        p->err->off = p->d->tok[tok].start;
        p->err->why = why;
        p->err->msg[0] = '\0';
    }
    return SHOAL_EPARSE;
}

/* Like bad(), with a fuller message carrying the numbers involved. */
static int __attribute__((format(printf, 4, 5)))
badf(struct parser *p, uint32_t tok, const char *why, const char *fmt, ...)
{
    bad(p, tok, why);
    if (p->err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err->msg, sizeof(p->err->msg), fmt, ap);
        va_end(ap);
    }
    return SHOAL_EPARSE;
}

static int __attribute__((format(printf, 2, 3)))
warn(struct parser *p, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    return strv_push(&p->warnings, xstrdup(line));
}

/* Copies display text, replacing invalid UTF-8 and control bytes by '?'. */
static char *
text_dup(const uint8_t *s, size_t n)
{
    char *out = xmalloc(n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq_len(s + i, n - i);
        if (l == 0 ||
            (l == 1 && (s[i] < 0x20 || s[i] == 0x7f) && s[i] != '\n' && s[i] != '\t')) {
            out[o++] = '?';
            i++;
            continue;
        }
        memcpy(out + o, s + i, l);
        o += l;
        i += l;
    }
    out[o] = '\0';
    return out;
}

/* A string value, preferring the "<key>.utf-8" variant when it is valid. */
static uint32_t
get_text(const struct benc_doc *d, uint32_t dict, const char *key, const char *key_utf8)
{
    uint32_t t = benc_dict_get_type(d, dict, key_utf8, BENC_STR);
    if (t) {
        size_t n;
        const uint8_t *s = benc_str(d, t, &n);
        if (utf8_valid(s, n))
            return t;
    }
    return benc_dict_get_type(d, dict, key, BENC_STR);
}

static int
dup_text_field(const struct benc_doc *d, uint32_t dict, const char *key,
               const char *key_utf8, char **out)
{
    uint32_t t = get_text(d, dict, key, key_utf8);
    if (!t)
        return 0;
    size_t n;
    const uint8_t *s = benc_str(d, t, &n);
    *out = text_dup(s, n);
    return *out ? 0 : SHOAL_ENOMEM;
}

/* ------------------------------------------------------------------ paths */

/*
 * Appends the safe form of one path component to b. Returns the number of
 * bytes appended: 0 means the component is dropped ("", ".", "..").
 */
static size_t
sanitize_component(const uint8_t *in, size_t n, struct buf *b)
{
    if (n == 0 || (n == 1 && in[0] == '.') || (n == 2 && in[0] == '.' && in[1] == '.'))
        return 0;
    size_t start = b->len;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq_len(in + i, n - i);
        uint8_t c = in[i];
        int replace =
            l == 0 || (l == 1 && (c < 0x20 || c == 0x7f || c == '/' || c == '\\'));
        size_t add = replace ? 1 : l;
        if (b->len - start + add > METAINFO_MAX_COMPONENT)
            break;
        if (replace)
            buf_append_byte(b, '_');
        else
            buf_append(b, in + i, l);
        i += replace ? 1 : l;
    }
    return b->len - start;
}

/* Checks that a component would survive sanitizing unchanged. */
static int
component_is_clean(const uint8_t *in, size_t n)
{
    if (n == 0 || n > METAINFO_MAX_COMPONENT || (n == 1 && in[0] == '.') ||
        (n == 2 && in[0] == '.' && in[1] == '.'))
        return 0;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq_len(in + i, n - i);
        if (l == 0 ||
            (l == 1 && (in[i] < 0x20 || in[i] == 0x7f || in[i] == '/' || in[i] == '\\')))
            return 0;
        i += l;
    }
    return 1;
}

/* A set of byte strings for the duplicate-path check; open addressing. */
struct pathset {
    char **slot;
    size_t cap; /* power of two */
    size_t n;
};

static uint64_t
path_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int
pathset_init(struct pathset *ps, size_t expect)
{
    ps->cap = 16;
    while (ps->cap < expect * 2)
        ps->cap *= 2;
    ps->n = 0;
    ps->slot = xcalloc(ps->cap, sizeof(*ps->slot));
    return ps->slot ? 0 : SHOAL_ENOMEM;
}

static void
pathset_cleanup(struct pathset *ps)
{
    if (ps->slot)
        for (size_t i = 0; i < ps->cap; i++)
            xfree(ps->slot[i]);
    xfree(ps->slot);
    ps->slot = NULL;
}

/* Slot where s[0..n) is or would go. */
static size_t
pathset_find(const struct pathset *ps, const char *s, size_t n)
{
    size_t i = (size_t)path_hash(s, n) & (ps->cap - 1);
    while (ps->slot[i] && !(strlen(ps->slot[i]) == n && !memcmp(ps->slot[i], s, n)))
        i = (i + 1) & (ps->cap - 1);
    return i;
}

static int
pathset_has(const struct pathset *ps, const char *s, size_t n)
{
    return ps->slot[pathset_find(ps, s, n)] != NULL;
}

static int
pathset_add(struct pathset *ps, const char *s, size_t n)
{
    if ((ps->n + 1) * 2 > ps->cap) {
        struct pathset bigger = {0};
        bigger.cap = ps->cap * 2;
        bigger.slot = xcalloc(bigger.cap, sizeof(*bigger.slot));
        if (!bigger.slot)
            return SHOAL_ENOMEM;
        for (size_t i = 0; i < ps->cap; i++)
            if (ps->slot[i])
                bigger.slot[pathset_find(&bigger, ps->slot[i], strlen(ps->slot[i]))] =
                    ps->slot[i];
        bigger.n = ps->n;
        xfree(ps->slot);
        *ps = bigger;
    }
    size_t i = pathset_find(ps, s, n);
    if (ps->slot[i])
        return 0;
    ps->slot[i] = xstrndup(s, n);
    if (!ps->slot[i])
        return SHOAL_ENOMEM;
    ps->n++;
    return 0;
}

/* "dir/stem.ext" -> "dir/stem.N.ext"; a leading dot is not an extension. */
static char *
numbered_name(const char *path, unsigned n)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base)
        dot = path + strlen(path);
    struct buf b;
    buf_init(&b, METAINFO_MAX_PATH + 32);
    buf_append(&b, path, (size_t)(dot - path));
    buf_printf(&b, ".%u", n);
    buf_append_str(&b, dot);
    return (char *)buf_steal(&b, NULL);
}

/*
 * Renames files whose path repeats another file's or names a folder that
 * holds other files. Pad files are never written, so they are left alone.
 */
static int
dedupe_paths(struct parser *p)
{
    struct shoal_metainfo *m = p->m;
    struct pathset dirs = {0}, files = {0};
    int rc = pathset_init(&dirs, m->file_count * 2);
    if (!rc)
        rc = pathset_init(&files, m->file_count);
    for (size_t i = 0; !rc && i < m->file_count; i++) {
        const char *path = m->files[i].path;
        if (m->files[i].attr & SHOAL_FILE_PAD)
            continue;
        for (const char *s = strchr(path, '/'); !rc && s; s = strchr(s + 1, '/'))
            rc = pathset_add(&dirs, path, (size_t)(s - path));
    }
    for (size_t i = 0; !rc && i < m->file_count; i++) {
        struct shoal_file *f = &m->files[i];
        if (f->attr & SHOAL_FILE_PAD)
            continue;
        size_t n = strlen(f->path);
        if (pathset_has(&files, f->path, n) || pathset_has(&dirs, f->path, n)) {
            char *renamed = NULL;
            for (unsigned k = 1; k <= METAINFO_MAX_RENAME; k++) {
                renamed = numbered_name(f->path, k);
                if (!renamed) {
                    rc = SHOAL_ENOMEM;
                    break;
                }
                size_t rn = strlen(renamed);
                if (!pathset_has(&files, renamed, rn) && !pathset_has(&dirs, renamed, rn))
                    break;
                xfree(renamed);
                renamed = NULL;
            }
            if (rc)
                break;
            if (!renamed) {
                rc = SHOAL_EPARSE;
                if (p->err) {
                    p->err->off = 0;
                    p->err->why = "too many files with the same path";
                }
                break;
            }
            rc = warn(p, "file %zu: path \"%s\" is taken, renamed to \"%s\"", i, f->path,
                      renamed);
            xfree((char *)f->path);
            f->path = renamed;
            n = strlen(renamed);
        }
        if (!rc)
            rc = pathset_add(&files, f->path, n);
    }
    pathset_cleanup(&dirs);
    pathset_cleanup(&files);
    return rc;
}

/* ------------------------------------------------------------------ files */

static int
parse_attr(const struct benc_doc *d, uint32_t dict)
{
    uint32_t t = benc_dict_get_type(d, dict, "attr", BENC_STR);
    if (!t)
        return 0;
    size_t n;
    const uint8_t *s = benc_str(d, t, &n);
    int attr = 0;
    /* BEP 47: characters in any order; unknown ones are ignored. */
    for (size_t i = 0; i < n; i++) {
        if (s[i] == 'p')
            attr |= SHOAL_FILE_PAD;
        else if (s[i] == 'x')
            attr |= SHOAL_FILE_EXEC;
        else if (s[i] == 'h')
            attr |= SHOAL_FILE_HIDDEN;
        else if (s[i] == 'l')
            attr |= SHOAL_FILE_SYMLINK;
    }
    return attr;
}

/* The symlink target "a/b/c" relative to the torrent root, or NULL (and a
 * warning) when the target is missing or would leave the torrent. */
static int
parse_symlink(struct parser *p, uint32_t fdict, size_t index, char **target)
{
    const struct benc_doc *d = p->d;
    *target = NULL;
    uint32_t list = benc_dict_get_type(d, fdict, "symlink path", BENC_LIST);
    int ok = list && d->tok[list].count > 0 && d->tok[list].count <= SHOAL_MAX_PATH_DEPTH;
    struct buf b;
    buf_init(&b, METAINFO_MAX_PATH);
    uint32_t c = list ? benc_first(list) : 0;
    for (uint32_t i = 0; ok && i < d->tok[list].count; i++, c = benc_next(d, c)) {
        size_t n;
        if (d->tok[c].type != BENC_STR) {
            ok = 0;
            break;
        }
        const uint8_t *s = benc_str(d, c, &n);
        if (!component_is_clean(s, n)) {
            ok = 0;
            break;
        }
        if (i)
            buf_append_byte(&b, '/');
        buf_append(&b, s, n);
    }
    if (ok && buf_error(&b))
        ok = 0;
    if (!ok) {
        buf_cleanup(&b);
        return warn(p,
                    "file %zu: symlink target is missing or leaves the torrent; "
                    "kept as a plain file",
                    index);
    }
    *target = (char *)buf_steal(&b, NULL);
    buf_cleanup(&b);
    return *target ? 0 : SHOAL_ENOMEM;
}

/* Builds "name/comp/comp" for file `index` from its path list. */
static int
build_path(struct parser *p, uint32_t list, size_t index, char **out)
{
    const struct benc_doc *d = p->d;
    struct buf b;
    buf_init(&b, METAINFO_MAX_PATH);
    buf_append_str(&b, p->m->name);
    int changed = 0, rc = 0;
    uint32_t c = benc_first(list);
    for (uint32_t i = 0; i < d->tok[list].count; i++, c = benc_next(d, c)) {
        if (d->tok[c].type != BENC_STR) {
            rc = badf(p, c, "file path component is not a string",
                      "info.files[%zu].path[%u] is not a string", index, i);
            goto out;
        }
        size_t n;
        const uint8_t *s = benc_str(d, c, &n);
        size_t mark = b.len;
        buf_append_byte(&b, '/');
        size_t added = sanitize_component(s, n, &b);
        if (added == 0)
            b.len = mark; /* dropped component: take the '/' back */
        if (added != n || memcmp(b.data + b.len - added, s, n) != 0)
            changed = 1;
    }
    if (buf_error(&b)) {
        rc = buf_error(&b) == SHOAL_ENOMEM
                 ? SHOAL_ENOMEM
                 : badf(p, list, "file path too long", "info.files[%zu].path is too long",
                        index);
        goto out;
    }
    if (b.len == strlen(p->m->name)) {
        /* Every component was dropped: give the file a name of its own. */
        buf_append_str(&b, "/_");
        changed = 1;
    }
    *out = (char *)buf_steal(&b, NULL);
    if (!*out) {
        rc = SHOAL_ENOMEM;
        goto out;
    }
    if (changed)
        rc = warn(p, "file %zu: unsafe path rewritten to \"%s\"", index, *out);
out:
    buf_cleanup(&b);
    return rc;
}

static int
parse_files(struct parser *p, uint32_t files)
{
    const struct benc_doc *d = p->d;
    struct shoal_metainfo *m = p->m;
    uint32_t nfiles = d->tok[files].count;
    if (nfiles == 0)
        return bad(p, files, "info.files is empty");
    m->files = xcalloc(nfiles, sizeof(*m->files));
    if (!m->files)
        return SHOAL_ENOMEM;
    m->file_count = nfiles;

    uint64_t total = 0;
    uint32_t f = benc_first(files);
    for (size_t i = 0; i < nfiles; i++, f = benc_next(d, f)) {
        struct shoal_file *sf = &m->files[i];
        if (d->tok[f].type != BENC_DICT)
            return badf(p, f, "file entry is not a dictionary",
                        "info.files[%zu] is not a dictionary", i);
        uint32_t len = benc_dict_get_type(d, f, "length", BENC_INT);
        if (!len)
            return badf(p, f, "file has no length", "info.files[%zu] has no length", i);
        if (d->tok[len].val < 0)
            return badf(p, len, "file length is negative",
                        "info.files[%zu].length is negative", i);
        sf->size = (uint64_t)d->tok[len].val;
        if (sf->size > (uint64_t)INT64_MAX - total)
            return bad(p, len, "total size overflows");
        sf->offset = total;
        total += sf->size;

        uint32_t path = benc_dict_get_type(d, f, "path.utf-8", BENC_LIST);
        if (!path || d->tok[path].count == 0)
            path = benc_dict_get_type(d, f, "path", BENC_LIST);
        if (!path)
            return badf(p, f, "file has no path", "info.files[%zu] has no path", i);
        if (d->tok[path].count == 0)
            return badf(p, path, "file path is empty", "info.files[%zu].path is empty",
                        i);
        if (d->tok[path].count > SHOAL_MAX_PATH_DEPTH)
            return badf(p, path, "file path is too deep",
                        "info.files[%zu].path has %u components (limit %d)", i,
                        d->tok[path].count, SHOAL_MAX_PATH_DEPTH);
        char *fp = NULL;
        int rc = build_path(p, path, i, &fp);
        if (rc)
            return rc;
        sf->path = fp;
        sf->attr = (unsigned)parse_attr(d, f);
        if (sf->attr & SHOAL_FILE_SYMLINK) {
            char *target = NULL;
            rc = parse_symlink(p, f, i, &target);
            if (rc)
                return rc;
            sf->symlink = target;
            if (!target)
                sf->attr &= ~(unsigned)SHOAL_FILE_SYMLINK;
        }
    }
    m->total_size = total;
    return dedupe_paths(p);
}

static int
parse_single(struct parser *p, uint32_t info, uint32_t len)
{
    const struct benc_doc *d = p->d;
    struct shoal_metainfo *m = p->m;
    if (d->tok[len].val < 0)
        return bad(p, len, "info.length is negative");
    m->files = xcalloc(1, sizeof(*m->files));
    if (!m->files)
        return SHOAL_ENOMEM;
    m->file_count = 1;
    m->files[0].size = (uint64_t)d->tok[len].val;
    m->files[0].path = xstrdup(m->name);
    if (!m->files[0].path)
        return SHOAL_ENOMEM;
    /* A lone symlink would point at itself or outside: keep only safe bits. */
    unsigned attr = (unsigned)parse_attr(d, info);
    if (attr & SHOAL_FILE_SYMLINK) {
        attr &= ~(unsigned)SHOAL_FILE_SYMLINK;
        int rc = warn(p, "single-file torrent marked as a symlink; kept as a plain file");
        if (rc)
            return rc;
    }
    m->files[0].attr = attr & ~(unsigned)SHOAL_FILE_PAD;
    m->total_size = m->files[0].size;
    return 0;
}

/* ------------------------------------------------------------------ info */

static int
parse_name(struct parser *p, uint32_t info)
{
    const struct benc_doc *d = p->d;
    struct shoal_metainfo *m = p->m;
    uint32_t t = get_text(d, info, "name", "name.utf-8");
    struct buf b;
    buf_init(&b, METAINFO_MAX_COMPONENT + 1);
    size_t n = 0;
    const uint8_t *s = NULL;
    if (t) {
        s = benc_str(d, t, &n);
        sanitize_component(s, n, &b);
    }
    int rc = 0;
    if (b.len == 0) {
        char hex[2 * SHOAL_INFOHASH_LEN + 1];
        hex_encode(m->infohash, SHOAL_INFOHASH_LEN, hex);
        buf_append_str(&b, hex);
        rc = warn(p, "torrent name is missing or unusable; using \"%s\"", hex);
    } else if (b.len != n || memcmp(b.data, s, n) != 0) {
        buf_append_byte(&b, 0);
        rc = warn(p, "unsafe torrent name rewritten to \"%s\"", (const char *)b.data);
        b.len--;
    }
    m->name = (char *)buf_steal(&b, NULL);
    buf_cleanup(&b);
    if (rc)
        return rc;
    return m->name ? 0 : SHOAL_ENOMEM;
}

static int
parse_pieces(struct parser *p, uint32_t info)
{
    const struct benc_doc *d = p->d;
    struct shoal_metainfo *m = p->m;
    uint32_t pl = benc_dict_get(d, info, "piece length");
    if (!pl)
        return bad(p, info, "info has no piece length");
    if (d->tok[pl].type != BENC_INT)
        return bad(p, pl, "info.piece length is not an integer");
    int64_t plen = d->tok[pl].val;
    if (plen <= 0 || plen > METAINFO_MAX_PIECE_LENGTH)
        return badf(p, pl, "piece length out of range",
                    "info.piece length is %lld (must be 1 to %u)", (long long)plen,
                    METAINFO_MAX_PIECE_LENGTH);
    m->piece_length = (uint32_t)plen;

    uint32_t pc = benc_dict_get(d, info, "pieces");
    if (!pc)
        return bad(p, info, "info has no pieces");
    if (d->tok[pc].type != BENC_STR)
        return bad(p, pc, "info.pieces is not a string");
    size_t n;
    const uint8_t *hashes = benc_str(d, pc, &n);
    if (n % SHA1_LEN)
        return badf(p, pc, "info.pieces is not a multiple of 20 bytes",
                    "info.pieces is %zu bytes, not a multiple of 20", n);
    if (m->total_size == 0)
        return bad(p, info, "torrent has no data (total size is 0)");
    uint64_t need =
        m->total_size / m->piece_length + (m->total_size % m->piece_length != 0);
    if (need > SHOAL_MAX_PIECES)
        return badf(p, pc, "too many pieces", "torrent needs %llu pieces (limit %u)",
                    (unsigned long long)need, SHOAL_MAX_PIECES);
    if (n / SHA1_LEN != need)
        return badf(
            p, pc, "piece count does not match the total size",
            "info.pieces holds %zu hashes but %llu bytes in pieces of %u need %llu",
            n / SHA1_LEN, (unsigned long long)m->total_size, m->piece_length,
            (unsigned long long)need);
    m->piece_count = (uint32_t)need;
    m->pieces = xmalloc(n);
    if (!m->pieces)
        return SHOAL_ENOMEM;
    memcpy(m->pieces, hashes, n);
    return 0;
}

static int
parse_info(struct parser *p, uint32_t info)
{
    const struct benc_doc *d = p->d;
    struct shoal_metainfo *m = p->m;
    const struct benc_tok *t = &d->tok[info];
    m->info_len = t->end - t->start;
    m->info = xmalloc(m->info_len);
    if (!m->info)
        return SHOAL_ENOMEM;
    memcpy(m->info, d->buf + t->start, m->info_len);
    int rc = sha1(m->info, m->info_len, m->infohash);
    if (rc)
        return rc;

    rc = parse_name(p, info);
    if (rc)
        return rc;

    uint32_t len = benc_dict_get(d, info, "length");
    uint32_t files = benc_dict_get(d, info, "files");
    if (len && files)
        return bad(p, info, "info has both length and files");
    if (len) {
        if (d->tok[len].type != BENC_INT)
            return bad(p, len, "info.length is not an integer");
        rc = parse_single(p, info, len);
    } else if (files) {
        if (d->tok[files].type != BENC_LIST)
            return bad(p, files, "info.files is not a list");
        m->multifile = 1;
        rc = parse_files(p, files);
    } else if (benc_dict_get(d, info, "file tree")) {
        return bad(p, info, "v2-only torrents are not supported (no v1 file list)");
    } else {
        return bad(p, info, "info has neither length nor files");
    }
    if (rc)
        return rc;

    rc = parse_pieces(p, info);
    if (rc)
        return rc;

    uint32_t priv = benc_dict_get_type(d, info, "private", BENC_INT);
    m->private_flag = priv && d->tok[priv].val == 1;
    return dup_text_field(d, info, "source", "source.utf-8", &m->source);
}

/* ------------------------------------------------------------------ outer */

/* Tracker URLs: printable ASCII with a scheme, no spaces. */
static int
url_ok(const uint8_t *s, size_t n)
{
    if (n == 0 || n > METAINFO_MAX_PATH)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f)
            return 0;
    return memchr(s, ':', n) != NULL;
}

static int
add_tracker(struct parser *p, struct strv *urls, int **tiers, uint32_t tok, int tier)
{
    size_t n;
    const uint8_t *s = benc_str(p->d, tok, &n);
    if (!url_ok(s, n))
        return warn(p, "ignored a malformed tracker URL");
    char *u = xstrndup((const char *)s, n);
    if (!u)
        return SHOAL_ENOMEM;
    if (strv_contains(urls, u)) {
        xfree(u);
        return 0;
    }
    int *t = xreallocarray(*tiers, urls->n + 1, sizeof(int));
    if (!t) {
        xfree(u);
        return SHOAL_ENOMEM;
    }
    *tiers = t;
    t[urls->n] = tier;
    return strv_push(urls, u);
}

static int
parse_trackers(struct parser *p, uint32_t root)
{
    const struct benc_doc *d = p->d;
    struct shoal_metainfo *m = p->m;
    struct strv urls = {0};
    int *tiers = NULL;
    int rc = 0;

    /* BEP 12: when announce-list is present, announce is ignored. */
    uint32_t al = benc_dict_get_type(d, root, "announce-list", BENC_LIST);
    int tier = 0;
    uint32_t t = al ? benc_first(al) : 0;
    for (uint32_t i = 0; al && !rc && i < d->tok[al].count; i++, t = benc_next(d, t)) {
        if (d->tok[t].type != BENC_LIST)
            continue;
        size_t before = urls.n;
        uint32_t u = benc_first(t);
        for (uint32_t j = 0; !rc && j < d->tok[t].count; j++, u = benc_next(d, u))
            if (d->tok[u].type == BENC_STR)
                rc = add_tracker(p, &urls, &tiers, u, tier);
        if (urls.n > before)
            tier++;
    }
    if (!rc && urls.n == 0) {
        uint32_t a = benc_dict_get_type(d, root, "announce", BENC_STR);
        if (a)
            rc = add_tracker(p, &urls, &tiers, a, 0);
    }
    m->trackers = urls.v;
    m->tracker_count = urls.n;
    m->tracker_tiers = tiers;
    return rc;
}

static int
parse_webseeds(struct parser *p, uint32_t root)
{
    const struct benc_doc *d = p->d;
    struct strv urls = {0};
    int rc = 0;
    /* BEP 19: url-list is one string or a list of strings. */
    uint32_t ul = benc_dict_get(d, root, "url-list");
    uint32_t n = 0, u = 0;
    if (ul && d->tok[ul].type == BENC_STR) {
        n = 1;
        u = ul;
    } else if (ul && d->tok[ul].type == BENC_LIST) {
        n = d->tok[ul].count;
        u = benc_first(ul);
    }
    for (uint32_t i = 0; !rc && i < n; i++, u = benc_next(d, u)) {
        if (d->tok[u].type != BENC_STR)
            continue;
        size_t len;
        const uint8_t *s = benc_str(d, u, &len);
        if (len == 0)
            continue;
        if (!url_ok(s, len)) {
            rc = warn(p, "ignored a malformed web seed URL");
            continue;
        }
        char *url = xstrndup((const char *)s, len);
        if (url && strv_contains(&urls, url)) {
            xfree(url);
            continue;
        }
        rc = strv_push(&urls, url);
    }
    p->m->webseeds = urls.v;
    p->m->webseed_count = urls.n;
    return rc;
}

/* A host name or address literal: 1-255 printable ASCII bytes. */
static int
host_ok(const uint8_t *s, size_t n)
{
    if (n == 0 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f)
            return 0;
    return 1;
}

static int
parse_nodes(struct parser *p, uint32_t root)
{
    const struct benc_doc *d = p->d;
    struct shoal_metainfo *m = p->m;
    struct strv hosts = {0};
    int rc = 0;
    /* BEP 5: nodes = [["host", port], ...]; malformed entries are skipped. */
    uint32_t nl = benc_dict_get_type(d, root, "nodes", BENC_LIST);
    uint32_t e = nl ? benc_first(nl) : 0;
    for (uint32_t i = 0; nl && !rc && i < d->tok[nl].count; i++, e = benc_next(d, e)) {
        if (d->tok[e].type != BENC_LIST || d->tok[e].count != 2)
            continue;
        uint32_t h = benc_first(e), port = benc_next(d, h);
        size_t n;
        if (d->tok[h].type != BENC_STR || d->tok[port].type != BENC_INT)
            continue;
        const uint8_t *s = benc_str(d, h, &n);
        if (!host_ok(s, n))
            continue;
        if (d->tok[port].val < 1 || d->tok[port].val > 65535)
            continue;
        int *ports = xreallocarray(m->node_ports, hosts.n + 1, sizeof(int));
        if (!ports) {
            rc = SHOAL_ENOMEM;
            break;
        }
        m->node_ports = ports;
        ports[hosts.n] = (int)d->tok[port].val;
        rc = strv_push(&hosts, text_dup(s, n));
    }
    m->nodes = hosts.v;
    m->node_count = hosts.n;
    return rc;
}

static int
parse_root(struct parser *p)
{
    const struct benc_doc *d = p->d;
    struct shoal_metainfo *m = p->m;
    if (d->tok[0].type != BENC_DICT)
        return bad(p, 0, "torrent is not a dictionary");
    uint32_t info = benc_dict_get(d, 0, "info");
    if (!info)
        return bad(p, 0, "torrent has no info dictionary");
    if (d->tok[info].type != BENC_DICT)
        return bad(p, info, "info is not a dictionary");
    int rc = parse_info(p, info);
    if (!rc)
        rc = parse_trackers(p, 0);
    if (!rc)
        rc = parse_webseeds(p, 0);
    if (!rc)
        rc = parse_nodes(p, 0);
    if (!rc)
        rc = dup_text_field(d, 0, "comment", "comment.utf-8", &m->comment);
    if (!rc)
        rc = dup_text_field(d, 0, "created by", "created by.utf-8", &m->creator);
    uint32_t date = benc_dict_get_type(d, 0, "creation date", BENC_INT);
    m->creation_date = date ? d->tok[date].val : -1;
    return rc;
}

int
shoal_metainfo_parse(const void *buf, size_t len, shoal_metainfo **out,
                     struct shoal_perr *err)
{
    struct benc_doc doc;
    struct parser p = {0};
    *out = NULL;
    if (err)
        memset(err, 0, sizeof(*err));
    if (len > SHOAL_MAX_TORRENT_FILE) {
        if (err) {
            err->why = "torrent is larger than 10 MiB";
            snprintf(err->msg, sizeof(err->msg), "torrent is %zu bytes (limit %u)", len,
                     SHOAL_MAX_TORRENT_FILE);
        }
        return SHOAL_ETOOBIG;
    }
    int rc = benc_decode(&doc, buf, len, METAINFO_MAX_TOKENS, NULL, err);
    if (rc) {
        benc_doc_cleanup(&doc);
        return rc;
    }
    p.d = &doc;
    p.err = err;
    p.m = xcalloc(1, sizeof(*p.m));
    if (!p.m) {
        rc = SHOAL_ENOMEM;
        goto out;
    }
    p.m->creation_date = -1;
    rc = parse_root(&p);
    if (rc)
        goto out;
    p.m->warnings = p.warnings.v;
    p.m->warning_count = p.warnings.n;
    p.warnings.v = NULL;
    p.warnings.n = 0;
    *out = p.m;
    p.m = NULL;
out:
    if (rc == SHOAL_ENOMEM && err && !err->why)
        err->why = "out of memory";
    strv_free_array(p.warnings.v, p.warnings.n);
    shoal_metainfo_free(p.m);
    benc_doc_cleanup(&doc);
    return rc;
}

/* What failed while reading a .torrent, as the user reads it. */
static const char *const load_why[] = {
    [FILE_STEP_OPEN] = "cannot open the torrent file",
    [FILE_STEP_STAT] = "cannot stat the torrent file",
    [FILE_STEP_TYPE] = "torrent path is a directory",
    [FILE_STEP_SIZE] = "torrent file is larger than 10 MiB",
    [FILE_STEP_MEMORY] = "out of memory",
    [FILE_STEP_READ] = "cannot read the torrent file",
};

int
shoal_metainfo_load(const char *path, shoal_metainfo **out, struct shoal_perr *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    enum file_step step;
    *out = NULL;
    /* Pipes and other streams are read too, up to the same limit. */
    int rc = file_read_capped(path, SHOAL_MAX_TORRENT_FILE, 0, &data, &len, &step);
    if (rc == SHOAL_ETOOBIG && len > 0)
        return perr_failf(err, 0, rc, load_why[step],
                          "torrent file is %zu bytes (limit %u)", len,
                          SHOAL_MAX_TORRENT_FILE);
    if (rc)
        return perr_fail(err, 0, rc, load_why[step]);
    rc = shoal_metainfo_parse(data, len, out, err);
    xfree(data);
    return rc;
}

void
shoal_metainfo_free(shoal_metainfo *m)
{
    if (!m)
        return;
    for (size_t i = 0; m->files && i < m->file_count; i++) {
        xfree((char *)m->files[i].path);
        xfree((char *)m->files[i].symlink);
    }
    xfree(m->files);
    xfree(m->name);
    xfree(m->pieces);
    strv_free_array(m->trackers, m->tracker_count);
    xfree(m->tracker_tiers);
    strv_free_array(m->webseeds, m->webseed_count);
    strv_free_array(m->nodes, m->node_count);
    xfree(m->node_ports);
    xfree(m->comment);
    xfree(m->creator);
    xfree(m->source);
    strv_free_array(m->warnings, m->warning_count);
    xfree(m->info);
    xfree(m);
}

/* ------------------------------------------------------------------ accessors */

const uint8_t *
shoal_metainfo_infohash(const shoal_metainfo *m)
{
    return m->infohash;
}

const char *
shoal_metainfo_name(const shoal_metainfo *m)
{
    return m->name;
}

uint64_t
shoal_metainfo_total_size(const shoal_metainfo *m)
{
    return m->total_size;
}

uint32_t
shoal_metainfo_piece_length(const shoal_metainfo *m)
{
    return m->piece_length;
}

uint32_t
shoal_metainfo_piece_count(const shoal_metainfo *m)
{
    return m->piece_count;
}

const uint8_t *
shoal_metainfo_piece_hash(const shoal_metainfo *m, uint32_t i)
{
    return i < m->piece_count ? m->pieces + (size_t)i * SHA1_LEN : NULL;
}

int
shoal_metainfo_is_multifile(const shoal_metainfo *m)
{
    return m->multifile;
}

int
shoal_metainfo_is_private(const shoal_metainfo *m)
{
    return m->private_flag;
}

size_t
shoal_metainfo_file_count(const shoal_metainfo *m)
{
    return m->file_count;
}

const struct shoal_file *
shoal_metainfo_file(const shoal_metainfo *m, size_t i)
{
    return i < m->file_count ? &m->files[i] : NULL;
}

size_t
shoal_metainfo_tracker_count(const shoal_metainfo *m)
{
    return m->tracker_count;
}

const char *
shoal_metainfo_tracker(const shoal_metainfo *m, size_t i, int *tier)
{
    if (i >= m->tracker_count)
        return NULL;
    if (tier)
        *tier = m->tracker_tiers[i];
    return m->trackers[i];
}

size_t
shoal_metainfo_webseed_count(const shoal_metainfo *m)
{
    return m->webseed_count;
}

const char *
shoal_metainfo_webseed(const shoal_metainfo *m, size_t i)
{
    return i < m->webseed_count ? m->webseeds[i] : NULL;
}

size_t
shoal_metainfo_node_count(const shoal_metainfo *m)
{
    return m->node_count;
}

const char *
shoal_metainfo_node(const shoal_metainfo *m, size_t i, int *port)
{
    if (i >= m->node_count)
        return NULL;
    if (port)
        *port = m->node_ports[i];
    return m->nodes[i];
}

const char *
shoal_metainfo_comment(const shoal_metainfo *m)
{
    return m->comment;
}

const char *
shoal_metainfo_creator(const shoal_metainfo *m)
{
    return m->creator;
}

const char *
shoal_metainfo_source(const shoal_metainfo *m)
{
    return m->source;
}

int64_t
shoal_metainfo_creation_date(const shoal_metainfo *m)
{
    return m->creation_date;
}

size_t
shoal_metainfo_warning_count(const shoal_metainfo *m)
{
    return m->warning_count;
}

const char *
shoal_metainfo_warning(const shoal_metainfo *m, size_t i)
{
    return i < m->warning_count ? m->warnings[i] : NULL;
}

char *
shoal_metainfo_magnet(const shoal_metainfo *m)
{
    return magnet_format_parts(m->infohash, m->name, (const char *const *)m->trackers,
                               m->tracker_count, (const char *const *)m->webseeds,
                               m->webseed_count);
}
