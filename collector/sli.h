/*
 * sli.h - the service level indicators (issue 4 M1-M6, M9; docs/SLI.md),
 * computed from the rollups (sql/001_init.sql) so that the cost grows with
 * the number of series and the window's length in hours, not with raw rows.
 *
 * One definition of "which rollup rows make up a window", used by every
 * query here and by burn.c (sli_window_cond):
 *
 *   A window is [from, to). A rollup row belongs to it when its bucket does:
 *   whole UTC hours inside [from, to) come from rollup_1h (the view
 *   rollup_1h_live: hours its builder has not built, or a late row made
 *   dirty, summed from rollup_1m; sql/016_rollup_1h_builder.sql), the partial hours
 *   at both edges from rollup_1m, so a window is exact to the minute and
 *   reads at most 2 x 59 minute rows + its hours per series. Whole UTC days
 *   inside the whole hours come from rollup_1d (sql/013_rollup_1d.sql) when
 *   the aggregator has done them and no late row has changed them since
 *   (rollup_1d_state.ready_before, rollup_1d_dirty, read in the same
 *   statement); other days' hours from rollup_1h. So a 90-day window reads
 *   about 90 + 2 x 23 + 2 x 59 rows per series. When `from` is
 *   older than rollup_1m keeps rows (retention_days: tw_maintain_partitions
 *   deletes rollup_1m rows older than UTC midnight retention_days ago), `from`
 *   is rounded DOWN to its hour, i.e. the window grows by up to 59 minutes
 *   instead of silently losing its leading minutes (sli_window).
 *
 * All functions here are blocking (the evaluator thread, the CLI); none
 * runs on the event loop. Times are Unix milliseconds.
 */
#ifndef TW_SLI_H
#define TW_SLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "sli_latency.h"
#include "strbuf.h"
#include "slo_config.h"

/* Percentile q (0 < q < 1) of a histogram with SLI_LATENCY_BUCKETS buckets:
 * the rank q x N is located in the cumulative counts and interpolated
 * linearly inside its bucket (as Prometheus' histogram_quantile); a rank in
 * the open last bucket gives that bucket's lower bound (10000 ms). NAN when
 * the histogram is empty. */
double sli_percentile(const uint64_t *hist, double q);

struct sli_window {
	int64_t from_ms, to_ms;
};

/* The window of length len_ms ending at now_ms, with the rounding above
 * (minute_retention_ms: how far back rollup_1m is complete; 0 = forever). */
void sli_window(int64_t now_ms, int64_t len_ms, int64_t minute_retention_ms,
		struct sli_window *w);

/* Appends a SQL boolean over columns `g` ('1m', '1h' or '1d'), `bucket`
 * and, when w has a whole UTC day, `d1` (an hour of a day rollup_1d serves)
 * of a rollup row source (sli_rows_sql over w among others) saying whether
 * the row is in window w. */
void sli_window_cond(struct strbuf *b, const struct sli_window *w);
/* Appends the row source for the union of windows: "(SELECT '1m' AS g, *
 * FROM rollup_1m WHERE ... UNION ALL SELECT '1h', * FROM rollup_1h WHERE
 * ...)" reading only the rows some window needs, each once; when a window
 * has a whole UTC day, with a column d1 after g and a third part
 * "UNION ALL SELECT '1d', true, * FROM rollup_1d WHERE ...". */
void sli_rows_sql(struct strbuf *b, const struct sli_window *w, size_t nw);
/* True when sli_rows_sql over w alone yields exactly w's rows (w has no
 * whole UTC day, so no row of rollup_1h needs the d1 test): a statement
 * over that source alone may leave sli_window_cond out. */
bool sli_rows_exact(const struct sli_window *w);

/* How sli_query groups. */
enum sli_group {
	SLI_GROUP_NONE,       /* one row: everything the selector matches */
	SLI_GROUP_TARGET,     /* "host:port" (sni as a separate series is folded in) */
	SLI_GROUP_SERVICE,
	SLI_GROUP_REGION,
	SLI_GROUP_PROFILE,
};

/* The indicators of one group over one window. Ratios are NAN when their
 * denominator is 0. */
struct sli_values {
	char *group;                    /* NULL for SLI_GROUP_NONE / no value */
	uint64_t attempts, successes, failures;
	uint64_t handshakes;            /* completed TLS handshakes */
	uint64_t timed;                 /* attempts with a handshake_ms (histogram total) */
	uint64_t hist[SLI_LATENCY_BUCKETS];
	uint64_t mtls_attempts, mtls_failures, ocsp_stapled, cipher_fallback, sni_mismatch;
	double success_rate;            /* M1 successes / attempts */
	double p95_ms, p99_ms;          /* M2 */
	double min_days_to_expiry;      /* M3 leaf (NAN: none seen) */
	int64_t min_chain_not_after_ms; /* M3 chain (INT64_MIN: none seen) */
	double mtls_failure_rate;       /* M4 mtls_failures / mtls_attempts */
	uint64_t ocsp_no_responder;     /* handshakes whose leaf names no OCSP responder */
	double ocsp_stapling_rate;      /* M5 ocsp_stapled / (handshakes - ocsp_no_responder) */
	double cipher_fallback_rate;    /* M6 cipher_fallback / handshakes */
	double sni_mismatch_rate;       /* M9 sni_mismatch / handshakes */
};

/* Text parameters of a statement built here ($1..$n), each a copy owned by
 * the struct (NULL = SQL NULL); sli_params_free() frees them. */
#define SLI_MAX_PARAMS 16
struct sli_params {
	char *v[SLI_MAX_PARAMS];
	int n;
	bool oom;               /* out of memory or more than SLI_MAX_PARAMS */
};
/* Appends a copy of v: its number (1-based), 0 (and oom set) on failure. */
int sli_params_add(struct sli_params *p, const char *v);
void sli_params_free(struct sli_params *p);

/* The statement of sli_query: SQL text appended to b, selector values
 * appended to p as parameters (never as literals), so the same query runs
 * blocking (sli_query) or on the event loop (the HTTP API through pgconn).
 * Check b->oom and p->oom. Its result decodes with sli_values_decode. */
void sli_query_sql(struct strbuf *b, struct sli_params *p, const struct slo_selector *sel,
		   const struct sli_window *w, enum sli_group group);
/* Rows of that statement -> *out (array of *n, sorted by group; free with
 * sli_values_free). -1 with err set on a result of another shape or ENOMEM. */
int sli_values_decode(const PGresult *res, struct sli_values **out, size_t *n, char *err,
		      size_t errlen);

/* Every SLI for the series `sel` matches (NULL = all) over w, grouped.
 * *out (array of *n, free with sli_values_free) is sorted by group. */
int sli_query(PGconn *c, const struct slo_selector *sel, const struct sli_window *w,
	      enum sli_group group, struct sli_values **out, size_t *n, char *err,
	      size_t errlen);
void sli_values_free(struct sli_values *v, size_t n);

/* Appends a SQL condition over rollup columns (alias r) and targets labels
 * (alias t, LEFT JOINed on target, port, sni) for a selector ("true" when
 * it selects everything). Strings are escaped for c. */
void sli_selector_cond(struct strbuf *b, PGconn *c, const struct slo_selector *sel);
/* The same condition with every value a parameter appended to p ($n). */
void sli_selector_cond_params(struct strbuf *b, struct sli_params *p,
			      const struct slo_selector *sel);

/* Splits a selector target "host", "host:port" or "[v6]:port": *port 0 when
 * none. host is written to hbuf. */
void sli_split_target(const char *t, char *hbuf, size_t cap, unsigned *port);

/* Appends a literal escaped for c (PQescapeLiteral), or NULL. */
void sli_sql_literal(struct strbuf *b, PGconn *c, const char *s);
/* Appends '<rfc3339>'::timestamptz. */
void sli_sql_time(struct strbuf *b, int64_t ms);

#endif
