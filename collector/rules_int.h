/*
 * rules_int.h - what the rule files share (rules_other.c: the rules about
 * targets and certificates; rules_probe.c: the rules about probes). Not for
 * other modules: they call rules_other_eval() and rules_probe_eval().
 *
 * Every rule is one SQL query that returns its observations already shaped,
 * one row per dedup key whose condition holds, with the columns of struct
 * alert_obs in the order of enum rules_col below, so the C side only binds
 * parameters and hands rows to alerts_observe() (rules_sql_observe()).
 *
 * Time: $1 is the evaluation time in ms since the epoch (RULES_NOW in the
 * SQL); the clock is never read. The SQL helpers tw_rule_* are in
 * sql/004_rules_other.sql.
 */
#ifndef TW_RULES_INT_H
#define TW_RULES_INT_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <libpq-fe.h>

#include "alerts.h"
#include "slo_config.h"

/* The evaluation time, parameter $1, as a timestamptz. */
#define RULES_NOW "to_timestamp($1::float8 / 1000)"
/* A millisecond count (a parameter or column p) as an interval. */
#define RULES_MS(p) "(" p "::float8 * interval '1 millisecond')"

/* The columns every rule query returns, in this order; then, optionally and
 * by name, "regions" (the regions that see the problem, sorted and joined
 * by ", ": alert_obs.regions) and "inhibit" (alert_obs.inhibit_group). A
 * query without them works unchanged. */
#define RULES_COL_REGIONS "regions"
#define RULES_COL_INHIBIT "inhibit"
enum rules_col {
	RULES_C_RULE, RULES_C_KEY, RULES_C_SEV, RULES_C_SUBJECT, RULES_C_SERVICE, RULES_C_REGION,
	RULES_C_TARGET, RULES_C_LABELS, RULES_C_SUMMARY, RULES_C_DETAILS, RULES_C_VALUE,
	RULES_C_NCOLS
};

/* Runs sql with n text params; NULL with err set ("rule WHAT: message")
 * when it did not succeed. The caller PQclear()s the result. */
PGresult *rules_sql_query(PGconn *c, const char *what, const char *sql, int n,
			  const char *const *params, char *err, size_t errlen);

/* Runs one rule query and observes every row it returns with the given
 * resolve_after; *count (when not NULL) is raised by the rows observed.
 * 0, or -1 with err set. */
int rules_sql_observe(PGconn *c, struct alerts_run *run, const char *what, const char *sql,
		      int n, const char *const *params, unsigned resolve_after, int *count,
		      char *err, size_t errlen);

/* A rule's resolve_after: its own, else alerts.resolve_after. */
static inline unsigned rules_resolve_after(const struct slo_config *cfg,
					   const struct slo_rule_common *rc)
{
	return rc->resolve_after ? rc->resolve_after : cfg->alerts.resolve_after;
}

/* A query parameter from an int64_t. */
static inline void rules_fmt_i64(char *buf, size_t cap, int64_t v)
{
	snprintf(buf, cap, "%" PRId64, v);
}

#endif
