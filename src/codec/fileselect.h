/*
 * fileselect.h — a file selection such as "0,2,5-7" (shoal get --only),
 * read against a torrent's file count. Codec layer, pure.
 */
#ifndef SHOAL_FILESELECT_H
#define SHOAL_FILESELECT_H

#include <stddef.h>
#include <stdint.h>

#include "shoal.h"

/*
 * Reads `only` (comma-separated indices and inclusive ranges, numbered as
 * shoal info numbers files) for a torrent of nfiles files. When want is not
 * NULL, sets want[i] = 1 for each selected file (want has nfiles entries;
 * others are left as they are). Returns 0, or SHOAL_EINVAL with err->off at
 * the offending item and err->msg saying what is allowed.
 */
int fileselect_parse(const char *only, size_t nfiles, uint8_t *want,
                     struct shoal_perr *err);

#endif
