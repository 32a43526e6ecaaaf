/*
 * db_copy_bin.h - a Result as one tuple of PostgreSQL's binary COPY format
 * (docs: "COPY ... Binary Format"), the form `COPY results` is sent in
 * (db_sql_copy(), db_ingest.c). The stored values are those of the text
 * encoder (db_copy_result_epoch in db_sql.c): same NULLs, same clamps, U+FFFD
 * for bytes that are not UTF-8, NaN/inf durations as NULL, the same JSON
 * text for labels and verify_errors; tests/integration/test_copy_bin.c
 * stores both side by side and compares them column by column.
 *
 * Ownership: the caller owns the strbuf; nothing here allocates besides it.
 */
#ifndef TW_DB_COPY_BIN_H
#define TW_DB_COPY_BIN_H

#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"
#include "tlswatch.pb-c.h"

/* Fields per tuple: the columns of db_sql_copy(), in their order. */
#define DB_COPY_BIN_NFIELDS 57

/* The 19-byte file header (signature, flags 0, no extension) and the
 * 2-byte trailer (field count -1) around the tuples of one COPY. */
extern const char db_copy_bin_header[19];
extern const char db_copy_bin_trailer[2];

/* Appends one tuple for r (probe_id/epoch/region/version override the
 * Result's). Returns 0, or -1 when r cannot be stored (no seq, seq beyond
 * bigint, a required field missing, port out of range, a time PostgreSQL
 * cannot hold): the whole batch is refused, as with the text encoder. */
int db_copy_bin_result(struct strbuf *b, const Tlswatch__Result *r, const char *probe_id,
		       const char *epoch, const char *region, const char *version,
		       int64_t received_unix_ms) __attribute__((warn_unused_result));

#endif
