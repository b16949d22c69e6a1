/*
 * resume.c — saves and loads a torrent's resume state (resume.h) as a
 * bencoded file. Engine layer: touches only the state file, its ".tmp"
 * sibling and their folder; never the torrent's data, the network or the
 * clock.
 *
 * Saving never overwrites the state file in place: the new bytes go to a
 * temporary file that is flushed and then renamed over the old one, so a
 * crash leaves one whole version. Loading trusts nothing: every field is
 * checked, and a damaged file is refused with the offset and the reason; the
 * session then rechecks the data instead of believing it.
 */
#include "engine/resume.h"

#include <string.h>

#include "base/alloc.h"
#include "base/file.h"
#include "base/util.h"
#include "codec/bencode.h"
#include "codec/metainfo.h"
#include "engine/storage.h"

/* More file entries than a torrent shoal loads can have (the smallest file
 * entry in a .torrent is 24 bytes). */
#define RESUME_MAX_FILES (SHOAL_MAX_TORRENT_FILE / 24)
/* Longest state file path (PATH_MAX); the ".tmp" name adds 4 bytes. */
#define RESUME_MAX_PATH 4096

static size_t
have_len(uint32_t piece_count)
{
    return ((size_t)piece_count + 7) / 8;
}

/* 1 when the bits past the last piece in the final byte are all zero. */
static int
spare_bits_clear(const uint8_t *have, uint32_t piece_count)
{
    unsigned used = piece_count % 8;
    if (used == 0)
        return 1;
    return (have[piece_count / 8] & (0xffu >> used)) == 0;
}

int
resume_init(struct resume_state *st, const uint8_t infohash[SHOAL_INFOHASH_LEN],
            uint32_t piece_count, size_t file_count)
{
    memset(st, 0, sizeof(*st));
    if (piece_count == 0 || piece_count > SHOAL_MAX_PIECES ||
        file_count > RESUME_MAX_FILES)
        return SHOAL_EINVAL;
    st->have = xcalloc(have_len(piece_count), 1);
    st->files = xcalloc(file_count ? file_count : 1, sizeof(*st->files));
    if (!st->have || !st->files) {
        resume_cleanup(st);
        return SHOAL_ENOMEM;
    }
    memcpy(st->infohash, infohash, SHOAL_INFOHASH_LEN);
    st->piece_count = piece_count;
    st->file_count = file_count;
    return 0;
}

void
resume_cleanup(struct resume_state *st)
{
    if (!st)
        return;
    xfree(st->have);
    xfree(st->files);
    memset(st, 0, sizeof(*st));
}

int
resume_set_files(struct resume_state *st, const struct storage_file_state *f, size_t n)
{
    if (n != st->file_count)
        return SHOAL_EINVAL;
    for (size_t i = 0; i < n; i++) {
        st->files[i].size = f[i].size;
        st->files[i].mtime_ns = f[i].mtime_ns;
    }
    return 0;
}

int
resume_matches(const struct resume_state *st, const struct storage_file_state *f,
               size_t n)
{
    if (n != st->file_count)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (st->files[i].size != f[i].size || st->files[i].mtime_ns != f[i].mtime_ns)
            return 0;
    return 1;
}

void
resume_set_parts(struct resume_state *st, const struct storage_file_state *p)
{
    st->parts.size = p->exists ? p->size : 0;
    st->parts.mtime_ns = p->exists ? p->mtime_ns : 0;
}

int
resume_parts_match(const struct resume_state *st, const struct storage_file_state *p)
{
    struct resume_file now = {p->exists ? p->size : 0, p->exists ? p->mtime_ns : 0};
    return st->parts.size == now.size && st->parts.mtime_ns == now.mtime_ns;
}

int
resume_check(const struct resume_state *st, const struct shoal_metainfo *m,
             struct shoal_perr *err)
{
    const char *why = NULL;
    if (memcmp(st->infohash, m->infohash, SHOAL_INFOHASH_LEN) != 0)
        why = "the resume state belongs to another torrent";
    else if (st->piece_count != m->piece_count)
        why = "the resume state has a different number of pieces";
    else if (st->file_count != m->file_count)
        why = "the resume state has a different number of files";
    if (!why)
        return 0;
    if (err) {
        err->off = 0;
        err->why = why;
        err->msg[0] = '\0';
    }
    return SHOAL_EINVAL;
}

/* ------------------------------------------------------------------ save */

/* Bencode integers are signed 64-bit: totals past that are capped. */
static int64_t
clamp64(uint64_t v)
{
    return v > INT64_MAX ? INT64_MAX : (int64_t)v;
}

static void
put_file(struct benc_enc *e, const struct resume_file *f)
{
    benc_dict_begin(e);
    benc_key(e, "mtime");
    benc_put_int(e, f->mtime_ns);
    benc_key(e, "size");
    benc_put_int(e, (int64_t)f->size);
    benc_end(e);
}

static int
encode(const struct resume_state *st, uint8_t **out, size_t *len)
{
    struct benc_enc e;
    benc_enc_init(&e, RESUME_MAX_FILE);
    benc_dict_begin(&e);
    benc_key(&e, "downloaded");
    benc_put_int(&e, clamp64(st->downloaded));
    benc_key(&e, "files");
    benc_list_begin(&e);
    for (size_t i = 0; i < st->file_count; i++)
        put_file(&e, &st->files[i]);
    benc_end(&e);
    benc_key(&e, "have");
    benc_put_str(&e, st->have, have_len(st->piece_count));
    benc_key(&e, "infohash");
    benc_put_str(&e, st->infohash, SHOAL_INFOHASH_LEN);
    if (st->parts.size || st->parts.mtime_ns) {
        benc_key(&e, "parts");
        put_file(&e, &st->parts);
    }
    benc_key(&e, "pieces");
    benc_put_int(&e, st->piece_count);
    benc_key(&e, "uploaded");
    benc_put_int(&e, clamp64(st->uploaded));
    benc_key(&e, "version");
    benc_put_int(&e, RESUME_VERSION);
    benc_end(&e);
    int rc = benc_enc_finish(&e, out, len);
    benc_enc_cleanup(&e);
    return rc;
}

int
resume_encode(const struct resume_state *st, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    if (!st || st->piece_count == 0 || st->piece_count > SHOAL_MAX_PIECES || !st->have ||
        (st->file_count && !st->files) || st->file_count > RESUME_MAX_FILES ||
        !spare_bits_clear(st->have, st->piece_count))
        return SHOAL_EINVAL;
    for (size_t i = 0; i < st->file_count; i++)
        if (st->files[i].size > INT64_MAX)
            return SHOAL_EINVAL;
    if (st->parts.size > INT64_MAX)
        return SHOAL_EINVAL;
    return encode(st, out, len);
}

int
resume_write(const char *path, const uint8_t *data, size_t len)
{
    if (!path || !path[0] || !data)
        return SHOAL_EINVAL;
    if (strlen(path) >= RESUME_MAX_PATH)
        return SHOAL_ETOOBIG;
    return file_write_atomic(path, data, len, 0);
}

int
resume_save(const char *path, const struct resume_state *st)
{
    uint8_t *data;
    size_t len;
    int rc = resume_encode(st, &data, &len);
    if (!rc)
        rc = resume_write(path, data, len);
    xfree(data);
    return rc;
}

/* ------------------------------------------------------------------ load */

static int
bad(struct shoal_perr *err, const struct benc_doc *d, uint32_t tok, const char *why)
{
    if (err) {
        err->off = tok < d->ntok ? d->tok[tok].start : 0;
        err->why = why;
        err->msg[0] = '\0';
    }
    return SHOAL_EPARSE;
}

/* The integer under key in dict, in [min, max]; missing or out of range is
 * an error naming the key. */
static int
get_int(const struct benc_doc *d, uint32_t dict, const char *key, int64_t min,
        int64_t max, int64_t *out, const char *why, struct shoal_perr *err)
{
    uint32_t t = benc_dict_get_type(d, dict, key, BENC_INT);
    if (!t || d->tok[t].val < min || d->tok[t].val > max)
        return bad(err, d, t ? t : dict, why);
    *out = d->tok[t].val;
    return 0;
}

/* One file entry: d 5:mtime i..e 4:size i..e e. */
static int
parse_file(const struct benc_doc *d, uint32_t f, struct resume_file *out,
           struct shoal_perr *err)
{
    int64_t size, mtime;
    if (d->tok[f].type != BENC_DICT)
        return bad(err, d, f, "resume state file entry is not a dictionary");
    int rc = get_int(d, f, "size", 0, INT64_MAX, &size,
                     "resume state file entry has no size or a negative one", err);
    if (!rc)
        rc = get_int(d, f, "mtime", INT64_MIN, INT64_MAX, &mtime,
                     "resume state file entry has no mtime", err);
    if (rc)
        return rc;
    out->size = (uint64_t)size;
    out->mtime_ns = mtime;
    return 0;
}

static int
parse(const struct benc_doc *d, struct resume_state *out, struct shoal_perr *err)
{
    int64_t v, pieces, up, down;
    size_t n;
    int rc;

    if (d->tok[0].type != BENC_DICT)
        return bad(err, d, 0, "resume state is not a dictionary");
    rc = get_int(d, 0, "version", RESUME_VERSION, RESUME_VERSION, &v,
                 "resume state has no version or an unknown one", err);
    if (rc)
        return rc;
    uint32_t ih = benc_dict_get_type(d, 0, "infohash", BENC_STR);
    if (!ih || d->tok[ih].count != SHOAL_INFOHASH_LEN)
        return bad(err, d, ih ? ih : 0, "resume state has no 20-byte infohash");
    rc = get_int(d, 0, "pieces", 1, SHOAL_MAX_PIECES, &pieces,
                 "resume state has no piece count or a bad one", err);
    if (!rc)
        rc = get_int(d, 0, "uploaded", 0, INT64_MAX, &up,
                     "resume state has no upload total or a negative one", err);
    if (!rc)
        rc = get_int(d, 0, "downloaded", 0, INT64_MAX, &down,
                     "resume state has no download total or a negative one", err);
    if (rc)
        return rc;
    uint32_t have = benc_dict_get_type(d, 0, "have", BENC_STR);
    if (!have || d->tok[have].count != have_len((uint32_t)pieces))
        return bad(err, d, have ? have : 0,
                   "resume state's have bits do not match its piece count");
    const uint8_t *bits = benc_str(d, have, &n);
    if (!spare_bits_clear(bits, (uint32_t)pieces))
        return bad(err, d, have, "resume state sets have bits past the last piece");
    uint32_t files = benc_dict_get_type(d, 0, "files", BENC_LIST);
    if (!files)
        return bad(err, d, 0, "resume state has no file list");
    if (d->tok[files].count > RESUME_MAX_FILES)
        return bad(err, d, files, "resume state lists too many files");

    rc = resume_init(out, benc_str(d, ih, &n), (uint32_t)pieces, d->tok[files].count);
    if (rc)
        return rc;
    memcpy(out->have, bits, have_len((uint32_t)pieces));
    out->uploaded = (uint64_t)up;
    out->downloaded = (uint64_t)down;
    uint32_t f = benc_first(files);
    for (size_t i = 0; i < out->file_count; i++, f = benc_next(d, f)) {
        rc = parse_file(d, f, &out->files[i], err);
        if (rc)
            return rc;
    }
    /* Optional: states written without a parts file have none. */
    uint32_t parts = benc_dict_get(d, 0, "parts");
    return parts ? parse_file(d, parts, &out->parts, err) : 0;
}

/* What failed while reading the state file, in the words of its errors. */
static const char *const read_why[] = {
    [FILE_STEP_OPEN] = "cannot open the resume state",
    [FILE_STEP_STAT] = "cannot inspect the resume state",
    [FILE_STEP_TYPE] = "the resume state is not a regular file",
    [FILE_STEP_SIZE] = "the resume state is larger than 64 MiB",
    [FILE_STEP_MEMORY] = "out of memory reading the resume state",
    [FILE_STEP_READ] = "cannot read the resume state",
};

int
resume_load(const char *path, struct resume_state *out, struct shoal_perr *err)
{
    struct benc_doc d;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&d, 0, sizeof(d));
    if (!path || !path[0])
        return SHOAL_EINVAL;
    enum file_step step;
    rc = file_read_capped(path, RESUME_MAX_FILE, FILE_READ_REGULAR, &data, &len, &step);
    if (rc)
        return perr_fail(err, 0, rc, read_why[step]);
    /* Every token takes at least two bytes of input ("0:", "le", "i0e"). */
    rc = benc_decode(&d, data, len, (uint32_t)(len / 2 + 1), NULL, err);
    if (rc) {
        /* The file was read whole: any decode failure means it is damaged. */
        if (rc != SHOAL_ENOMEM)
            rc = SHOAL_EPARSE;
        goto out;
    }
    rc = parse(&d, out, err);
out:
    if (rc)
        resume_cleanup(out);
    benc_doc_cleanup(&d);
    xfree(data);
    return rc;
}
