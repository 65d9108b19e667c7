/* Internal: RFC-4180 CSV tokenizer over a memory buffer. Yields one row of fields at a time
 * with the 1-based line it starts on; validates quoting, line ends (LF or CRLF), NUL bytes
 * and UTF-8. Allocates only when a row has more fields or more escaped bytes than any before. */
#ifndef EPARA_TRACES_CSV_H
#define EPARA_TRACES_CSV_H

#include "epara/traces/trace.h"

/* One field's content, quotes removed and "" unescaped; not NUL-terminated. Valid until the
 * next csv_next() or csv_fini(). */
typedef struct csv_field {
    const char *p;
    size_t len;
} csv_field;

typedef struct csv_reader {
    csv_field *fields; /* fields of the current row */
    size_t nfields;
    long line;  /* 1-based line the current row starts on */
    long lines; /* lines consumed so far (the last line of the current row) */
    /* private */
    const char *pos_, *end_;
    size_t cap_;
    char *scratch_; /* unescaped copies of quoted fields holding "" or CRLF */
    size_t scratch_len_, scratch_cap_;
    size_t *off_; /* per field: offset into scratch_ + 1, or 0 when p points into the input */
} csv_reader;

/* Starts reading buf[0..len) (borrowed for the reader's life). Never fails. */
void csv_init(csv_reader *r, const char *buf, size_t len);
void csv_fini(csv_reader *r);

/* Reads the next row into r->fields / r->nfields (>= 1) and sets r->line. Blank lines at the
 * very end of the input are ignored. Returns 1 for a row, 0 at the end of the input,
 * EP_EPARSE (err filled: line, field column, message) or EP_ENOMEM. */
int csv_next(csv_reader *r, ep_parse_error *err);

/* Whether field f equals the NUL-terminated string s. */
int csv_field_eq(const csv_field *f, const char *s);

#endif
