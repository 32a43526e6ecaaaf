/*
 * slo_config_alerts.c - the alerts: section of slos.yaml: the thresholds of
 * the alert rules that are not SLO burn rates (collector/rules_other.h,
 * collector/rules_probe.h). Part of the slos.yaml loader (slo_config.c owns
 * the document and the struct; this file only fills cfg->alerts), so its
 * errors read like every other: "FILE:LINE:COLUMN: alerts.RULE.KEY: what".
 */
#include "slo_config.h"
#include "slo_config_int.h"
#include "yamlcfg.h"

#include <stdio.h>
#include <string.h>

static const char *const ALERTS_KEYS[] = { "resolve_after", "cert_expiry", "mtls_mass",
					   "sni_mismatch", "probe_silent", "clock_skew",
					   "probe_dropping", "drift", "region_quorum", NULL };
static const char *const CERT_KEYS[] = { "enabled", "resolve_after", "ticket_days",
					 "page_hours", NULL };
static const char *const MTLS_KEYS[] = { "enabled", "resolve_after", "min_targets",
					 "min_failure_ratio", "window", NULL };
static const char *const SNI_KEYS[] = { "enabled", "resolve_after", "min_events", "window",
					NULL };
static const char *const SILENT_KEYS[] = { "enabled", "resolve_after", "intervals", NULL };
static const char *const SKEW_KEYS[] = { "enabled", "resolve_after", "max_ms", NULL };
static const char *const DROPPING_KEYS[] = { "enabled", "resolve_after", "window", NULL };
static const char *const DRIFT_KEYS[] = { "enabled", "resolve_after", "fingerprint_for",
					  "baseline_window", NULL };
static const char *const QUORUM_KEYS[] = { "enabled", "resolve_after", "min_regions",
					   "min_region_share", "failure_ratio", "for",
					   "min_samples", NULL };

void slo_config_alerts_defaults(struct slo_alerts *a)
{
	memset(a, 0, sizeof *a);
	a->resolve_after = 3;
	a->cert_expiry.c.enabled = true;
	a->cert_expiry.ticket_days[0] = 30;
	a->cert_expiry.ticket_days[1] = 7;
	a->cert_expiry.nticket_days = 2;
	a->cert_expiry.page_hours = 24;
	a->mtls_mass.c.enabled = true;
	a->mtls_mass.min_targets = 3;
	a->mtls_mass.min_failure_ratio = 0.5;
	a->mtls_mass.window_ms = 10 * 60000LL;
	a->sni_mismatch.c.enabled = true;
	a->sni_mismatch.min_events = 3;
	a->sni_mismatch.window_ms = 3600000LL;
	a->probe_silent.c.enabled = true;
	a->probe_silent.intervals = 3;
	a->clock_skew.c.enabled = true;
	a->clock_skew.max_ms = 2000;
	a->probe_dropping.c.enabled = true;
	a->probe_dropping.window_ms = 3600000LL;
	a->drift.c.enabled = true;
	a->drift.fingerprint_for_ms = 30 * 60000LL;
	a->drift.baseline_window_ms = 7 * 24 * 3600000LL;
	a->region_quorum.c.enabled = true;
	a->region_quorum.min_regions = 2;
	a->region_quorum.min_region_share = 0;
	a->region_quorum.failure_ratio = 0.9;
	a->region_quorum.for_ms = 5 * 60000LL;
	a->region_quorum.min_samples = 3;
}

static int parse_common(struct yc *yc, yaml_node_t *m, const char *ctx,
			struct slo_rule_common *c);

static int parse_quorum(struct yc *yc, yaml_node_t *s, typeof(((struct slo_alerts *)0)->region_quorum) *q)
{
	const char *ctx = "alerts.region_quorum";
	yaml_node_t *v;
	if (yamlcfg_check_keys(yc, s, ctx, QUORUM_KEYS) < 0 || parse_common(yc, s, ctx, &q->c) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, s, "min_regions", NULL)) &&
	    yamlcfg_uint(yc, v, "alerts.region_quorum.min_regions", 1, 10000, &q->min_regions) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, s, "min_region_share", NULL)) &&
	    slo_config_get_double(yc, v, "alerts.region_quorum.min_region_share", 0, false, 1, false,
				  "a share of the regions in [0, 1]", &q->min_region_share) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, s, "failure_ratio", NULL)) &&
	    slo_config_get_double(yc, v, "alerts.region_quorum.failure_ratio", 0, true, 1, false,
				  "a ratio in (0, 1]", &q->failure_ratio) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, s, "for", NULL)) &&
	    slo_config_get_window(yc, v, "alerts.region_quorum.for", 60000, &q->for_ms) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, s, "min_samples", NULL)) &&
	    yamlcfg_u64(yc, v, "alerts.region_quorum.min_samples", 1, 1000000000ull,
			&q->min_samples) < 0)
		return -1;
	return 0;
}

/* enabled + resolve_after of one alerts.<rule> mapping (already checked). */
static int parse_common(struct yc *yc, yaml_node_t *m, const char *ctx,
			struct slo_rule_common *c)
{
	char cc[256];
	yaml_node_t *v;
	if ((v = yamlcfg_get(yc, m, "enabled", NULL))) {
		yamlcfg_subctx(cc, sizeof cc, ctx, "enabled");
		if (yamlcfg_bool(yc, v, cc, &c->enabled) < 0)
			return -1;
	}
	if ((v = yamlcfg_get(yc, m, "resolve_after", NULL))) {
		yamlcfg_subctx(cc, sizeof cc, ctx, "resolve_after");
		if (yamlcfg_uint(yc, v, cc, 1, 10000, &c->resolve_after) < 0)
			return -1;
	}
	return 0;
}

int slo_config_alerts_parse(struct yc *yc, yaml_node_t *root, struct slo_alerts *a)
{
	yaml_node_t *m = root ? yamlcfg_get(yc, root, "alerts", NULL) : NULL, *s, *v;
	char c[256];
	if (!m)
		goto fill;
	if (yamlcfg_check_keys(yc, m, "alerts", ALERTS_KEYS) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, m, "resolve_after", NULL)) &&
	    yamlcfg_uint(yc, v, "alerts.resolve_after", 1, 10000, &a->resolve_after) < 0)
		return -1;

	if ((s = yamlcfg_get(yc, m, "cert_expiry", NULL))) {
		const char *ctx = "alerts.cert_expiry";
		if (yamlcfg_check_keys(yc, s, ctx, CERT_KEYS) < 0 ||
		    parse_common(yc, s, ctx, &a->cert_expiry.c) < 0)
			return -1;
		if ((v = yamlcfg_get(yc, s, "ticket_days", NULL))) {
			yamlcfg_subctx(c, sizeof c, ctx, "ticket_days");
			if (v->type != YAML_SEQUENCE_NODE)
				return YC_ERRN(yc, v, c, "expected a sequence of days like [30, 7], got %s",
					       yamlcfg_kind_name(v));
			if (yamlcfg_visit(yc, v, c) < 0)
				return -1;
			size_t k = 0;
			for (yaml_node_item_t *it = v->data.sequence.items.start;
			     it < v->data.sequence.items.top; it++) {
				char ci[280];
				snprintf(ci, sizeof ci, "%s[%zu]", c, k);
				if (k == SLO_MAX_TICKET_DAYS)
					return YC_ERRN(yc, yamlcfg_node(yc, *it), ci, "at most %d thresholds",
						       SLO_MAX_TICKET_DAYS);
				unsigned d;
				if (yamlcfg_uint(yc, yamlcfg_node(yc, *it), ci, 1, 3650, &d) < 0)
					return -1;
				if (k > 0 && d >= a->cert_expiry.ticket_days[k - 1])
					return YC_ERRN(yc, yamlcfg_node(yc, *it), ci, "expected days in descending "
						       "order (%u after %u)", d, a->cert_expiry.ticket_days[k - 1]);
				a->cert_expiry.ticket_days[k++] = d;
			}
			a->cert_expiry.nticket_days = k;
		}
		if ((v = yamlcfg_get(yc, s, "page_hours", NULL))) {
			yamlcfg_subctx(c, sizeof c, ctx, "page_hours");
			if (slo_config_get_double(yc, v, c, 0, true, 24 * 3650, false, "hours > 0",
				       &a->cert_expiry.page_hours) < 0)
				return -1;
		}
	}
	if ((s = yamlcfg_get(yc, m, "mtls_mass", NULL))) {
		const char *ctx = "alerts.mtls_mass";
		if (yamlcfg_check_keys(yc, s, ctx, MTLS_KEYS) < 0 ||
		    parse_common(yc, s, ctx, &a->mtls_mass.c) < 0)
			return -1;
		if ((v = yamlcfg_get(yc, s, "min_targets", NULL)) &&
		    yamlcfg_uint(yc, v, "alerts.mtls_mass.min_targets", 1, 1000000,
			    &a->mtls_mass.min_targets) < 0)
			return -1;
		if ((v = yamlcfg_get(yc, s, "min_failure_ratio", NULL)) &&
		    slo_config_get_double(yc, v, "alerts.mtls_mass.min_failure_ratio", 0, true, 1, false,
			       "a ratio in (0, 1]", &a->mtls_mass.min_failure_ratio) < 0)
			return -1;
		if ((v = yamlcfg_get(yc, s, "window", NULL)) &&
		    slo_config_get_window(yc, v, "alerts.mtls_mass.window", 60000, &a->mtls_mass.window_ms) < 0)
			return -1;
	}
	if ((s = yamlcfg_get(yc, m, "sni_mismatch", NULL))) {
		const char *ctx = "alerts.sni_mismatch";
		if (yamlcfg_check_keys(yc, s, ctx, SNI_KEYS) < 0 ||
		    parse_common(yc, s, ctx, &a->sni_mismatch.c) < 0)
			return -1;
		if ((v = yamlcfg_get(yc, s, "min_events", NULL)) &&
		    yamlcfg_u64(yc, v, "alerts.sni_mismatch.min_events", 1, 1000000000ull,
			   &a->sni_mismatch.min_events) < 0)
			return -1;
		if ((v = yamlcfg_get(yc, s, "window", NULL)) &&
		    slo_config_get_window(yc, v, "alerts.sni_mismatch.window", 60000,
			       &a->sni_mismatch.window_ms) < 0)
			return -1;
	}
	if ((s = yamlcfg_get(yc, m, "probe_silent", NULL))) {
		const char *ctx = "alerts.probe_silent";
		if (yamlcfg_check_keys(yc, s, ctx, SILENT_KEYS) < 0 ||
		    parse_common(yc, s, ctx, &a->probe_silent.c) < 0)
			return -1;
		if ((v = yamlcfg_get(yc, s, "intervals", NULL)) &&
		    yamlcfg_uint(yc, v, "alerts.probe_silent.intervals", 1, 1000,
			    &a->probe_silent.intervals) < 0)
			return -1;
	}
	if ((s = yamlcfg_get(yc, m, "clock_skew", NULL))) {
		const char *ctx = "alerts.clock_skew";
		if (yamlcfg_check_keys(yc, s, ctx, SKEW_KEYS) < 0 ||
		    parse_common(yc, s, ctx, &a->clock_skew.c) < 0)
			return -1;
		if ((v = yamlcfg_get(yc, s, "max_ms", NULL)) &&
		    slo_config_get_double(yc, v, "alerts.clock_skew.max_ms", 0, true, 86400000, false,
			       "milliseconds > 0", &a->clock_skew.max_ms) < 0)
			return -1;
	}
	if ((s = yamlcfg_get(yc, m, "probe_dropping", NULL))) {
		const char *ctx = "alerts.probe_dropping";
		if (yamlcfg_check_keys(yc, s, ctx, DROPPING_KEYS) < 0 ||
		    parse_common(yc, s, ctx, &a->probe_dropping.c) < 0)
			return -1;
		if ((v = yamlcfg_get(yc, s, "window", NULL)) &&
		    slo_config_get_window(yc, v, "alerts.probe_dropping.window", 60000,
					  &a->probe_dropping.window_ms) < 0)
			return -1;
	}
	if ((s = yamlcfg_get(yc, m, "drift", NULL))) {
		const char *ctx = "alerts.drift";
		if (yamlcfg_check_keys(yc, s, ctx, DRIFT_KEYS) < 0 || parse_common(yc, s, ctx, &a->drift.c) < 0)
			return -1;
		if ((v = yamlcfg_get(yc, s, "fingerprint_for", NULL)) &&
		    slo_config_get_window(yc, v, "alerts.drift.fingerprint_for", 60000,
			       &a->drift.fingerprint_for_ms) < 0)
			return -1;
		if ((v = yamlcfg_get(yc, s, "baseline_window", NULL)) &&
		    slo_config_get_window(yc, v, "alerts.drift.baseline_window", 3600000,
			       &a->drift.baseline_window_ms) < 0)
			return -1;
	}
	if ((s = yamlcfg_get(yc, m, "region_quorum", NULL)) && parse_quorum(yc, s, &a->region_quorum) < 0)
		return -1;
fill:;
	struct slo_rule_common *all[] = { &a->cert_expiry.c, &a->mtls_mass.c, &a->sni_mismatch.c,
					  &a->probe_silent.c, &a->clock_skew.c, &a->probe_dropping.c,
					  &a->drift.c, &a->region_quorum.c };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (all[i]->resolve_after == 0)
			all[i]->resolve_after = a->resolve_after;
	return 0;
}

