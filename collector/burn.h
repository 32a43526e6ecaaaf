/*
 * burn.h - SLO status and multiwindow burn-rate rules (issue 4, DESIGN 6).
 *
 * burn_evaluate() reads, in ONE query, the per-series good/bad event counts
 * of every window any SLO needs (its compliance window and its rules' long
 * and short windows; sli.h says which rollup rows make up a window), then
 * pools them per SLO in C: an SLO's events are the sum over every series its
 * selector matches (all targets, regions and profiles it selects), or per
 * region when split_by_region is set.
 *
 *   events, bad       availability: attempts, failures (M1)
 *                     latency: handshakes timed (histogram total), and those
 *                     not under threshold_ms (threshold_ms is a bucket bound,
 *                     so "good" = handshake_ms < threshold_ms exactly)
 *   error ratio       bad / events (0 when events = 0)
 *   burn rate         error ratio / (1 - objective); a window without events
 *                     has none (NAN in burn_rule_status, null / "-" printed)
 *   budget remaining  1 - bad / ((1 - objective) x events) over the SLO's
 *                     window (1 when events = 0; negative when overspent)
 *   rule condition    burn(long) > burn_rate AND burn(short) > burn_rate AND
 *                     events(long) >= min_events AND bad(long) >= min_failures
 *
 * Every configured SLO has at least one status, also without any data (an
 * SLO split by region that matched nothing: one status, region NULL).
 *
 * burn_observe() reports each rule whose condition holds to the alert
 * lifecycle (alerts.h) and marks every SLO rule evaluated. The alert names
 * the regions with failures in the rule's short window (what burns now).
 *
 * Ownership: a struct burn_eval borrows the slo_config it was computed from
 * (it must outlive it) and owns everything else; free with burn_eval_free().
 */
#ifndef TW_BURN_H
#define TW_BURN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <libpq-fe.h>

#include "slo_config.h"

struct alerts_run;

struct burn_count {
	uint64_t events, bad;
};

struct burn_rule_status {
	const struct slo_burn_rule *rule;
	size_t wlong, wshort;          /* indexes into burn_eval.window_ms */
	double burn_long, burn_short;  /* NAN: the window had no events (no burn rate) */
	bool enough;                   /* min_events and min_failures met */
	bool active;                   /* the condition holds */
};

/* The failures of one region within a status, per window: which regions an
 * alert names (alert_obs.regions). */
struct burn_region {
	char *region;
	uint64_t *bad;                 /* burn_eval.nwin entries */
};

/* One SLO, or one SLO x region when split_by_region. */
struct burn_status {
	const struct slo *slo;
	char *region;                  /* NULL: every region ("all") */
	size_t nseries;                /* rollup series pooled */
	struct burn_count *win;        /* burn_eval.nwin entries */
	size_t wslo;                   /* index of the SLO's window */
	double sli;                    /* good / events over the SLO window (NAN: no events) */
	double budget_remaining;
	struct burn_rule_status *rules;  /* slo->nrules */
	size_t nregions;
	struct burn_region *regions;   /* the regions pooled, sorted by name */
};

struct burn_eval {
	const struct slo_config *cfg;
	int64_t now_ms;
	size_t nwin;
	int64_t *window_ms;            /* distinct window lengths, ascending */
	size_t nstatus;
	struct burn_status *status;
	size_t nseries;                /* series read */
	double query_ms;               /* time in the database */
};

/* error ratio / (1 - objective); 0 when events is 0. */
double burn_rate(uint64_t bad, uint64_t events, double objective);

/* Error budget left over a window: 1 - bad / ((1 - objective) x events). */
double burn_budget_remaining(uint64_t bad, uint64_t events, double objective);

/* minute_retention_ms: see sli_window (0 = rollup_1m complete forever). */
int burn_evaluate(PGconn *c, const struct slo_config *cfg, int64_t now_ms,
		  int64_t minute_retention_ms, struct burn_eval **out, char *err, size_t errlen);
void burn_eval_free(struct burn_eval *e);

/* alerts_observe for every active rule, alerts_rule_evaluated for every SLO
 * rule name of the config. *active gets the number observed. */
int burn_observe(const struct burn_eval *e, struct alerts_run *run, int *active, char *err,
		 size_t errlen);

/* The SLO status as text (one block per SLO) or JSON lines. */
void burn_print(const struct burn_eval *e, bool json, FILE *out);

#endif
