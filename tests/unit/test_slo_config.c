/*
 * test_slo_config.c - slo_config_load(): the example file, defaults, rule
 * amendment (global and per SLO), the alerts: section, and errors with
 * their exact file:line:column.
 *
 * Run from the repository root (tests/run.sh does);
 * deploy/slos.example.yaml is found relative to it, or under $TW_SRC.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slo_config.h"

TestSuite(slo_config);

static struct slo_config *ok(const char *text)
{
	char err[1024] = "";
	struct slo_config *cfg = slo_config_load_string("s.yaml", text, strlen(text), err,
							 sizeof err);
	cr_assert_not_null(cfg, "unexpected error: %s", err);
	return cfg;
}

/* Expects "s.yaml:LINE:COL: " and phrase in the message. */
static void bad(const char *text, unsigned line, unsigned col, const char *phrase)
{
	char err[1024] = "", prefix[64];
	struct slo_config *cfg = slo_config_load_string("s.yaml", text, strlen(text), err,
							 sizeof err);
	cr_assert_null(cfg, "accepted: %s", text);
	snprintf(prefix, sizeof prefix, "s.yaml:%u:%u: ", line, col);
	cr_assert(!strncmp(err, prefix, strlen(prefix)), "expected %s..., got: %s", prefix, err);
	cr_assert(strstr(err, phrase), "expected \"%s\" in: %s", phrase, err);
}

static const struct slo_burn_rule *rule(const struct slo *o, const char *name)
{
	for (size_t i = 0; i < o->nrules; i++)
		if (!strcmp(o->rules[i].name, name))
			return &o->rules[i];
	return NULL;
}

Test(slo_config, example_file)
{
	char err[1024] = "", path[1024];
	const char *src = getenv("TW_SRC");
	snprintf(path, sizeof path, "%s/deploy/slos.example.yaml", src ? src : ".");
	struct slo_config *cfg = slo_config_load(path, err, sizeof err);
	cr_assert_not_null(cfg, "%s", err);
	cr_assert_eq(cfg->nslos, 3);
	const struct slo *a = &cfg->slos[0], *l = &cfg->slos[1], *e = &cfg->slos[2];
	cr_assert_str_eq(a->name, "shop-availability");
	cr_assert_eq(a->sli, SLO_SLI_AVAILABILITY);
	cr_assert_float_eq(a->objective, 0.999, 1e-12);
	cr_assert_str_eq(a->objective_text, "99.9");
	cr_assert_eq(a->window_ms, 30LL * 86400000);
	/* the example spells out the region quorum's defaults */
	cr_assert(cfg->alerts.region_quorum.c.enabled);
	cr_assert_eq(cfg->alerts.region_quorum.min_regions, 2);
	cr_assert_eq(cfg->alerts.region_quorum.for_ms, 300000);
	cr_assert_str_eq(a->sel.service, "shop");
	cr_assert_eq(a->nrules, 3);
	cr_assert_eq(l->sli, SLO_SLI_LATENCY);
	cr_assert_float_eq(l->threshold_ms, 300, 1e-12);
	cr_assert(l->split_by_region);
	cr_assert_eq(l->sel.nlabels, 1);
	cr_assert_str_eq(l->sel.label_keys[0], "tier");
	cr_assert_str_eq(l->sel.label_values[0], "gold");
	cr_assert_eq(e->nrules, 2);
	cr_assert_null(rule(e, "slo_burn_ticket"));
	cr_assert_eq(rule(e, "slo_burn_fast")->min_events, 20);
	cr_assert_eq(rule(e, "slo_burn_fast")->min_failures, 2);
	cr_assert_float_eq(rule(e, "slo_burn_fast")->burn_rate, 14.4, 1e-12);
	cr_assert_eq(cfg->alerts.cert_expiry.nticket_days, 2);
	cr_assert_eq(cfg->alerts.mtls_mass.window_ms, 600000);
	cr_assert_eq(cfg->alerts.drift.baseline_window_ms, 7LL * 86400000);
	cr_assert(cfg->alerts.probe_dropping.c.enabled);
	cr_assert_eq(cfg->alerts.probe_dropping.window_ms, 3600000);
	slo_config_free(cfg);
}

Test(slo_config, defaults)
{
	struct slo_config *cfg = ok("");
	cr_assert_eq(cfg->nslos, 0);
	cr_assert_eq(cfg->resolve_after, 3);
	cr_assert_eq(cfg->ndefault_rules, 3);
	const struct slo_burn_rule *f = &cfg->default_rules[0], *s = &cfg->default_rules[1],
				   *t = &cfg->default_rules[2];
	cr_assert_str_eq(f->name, "slo_burn_fast");
	cr_assert_str_eq(f->severity, "page");
	cr_assert_float_eq(f->burn_rate, 14.4, 1e-12);
	cr_assert_eq(f->long_ms, 3600000);
	cr_assert_eq(f->short_ms, 300000);
	cr_assert_eq(f->for_evals, 1);
	cr_assert_eq(f->resolve_after, 3);
	cr_assert_str_eq(s->name, "slo_burn_slow");
	cr_assert_float_eq(s->burn_rate, 6, 1e-12);
	cr_assert_eq(s->long_ms, 6 * 3600000LL);
	cr_assert_eq(s->short_ms, 1800000);
	cr_assert_str_eq(t->severity, "ticket");
	cr_assert_eq(t->long_ms, 72 * 3600000LL);
	cr_assert_eq(t->short_ms, 6 * 3600000LL);
	const struct slo_alerts *al = &cfg->alerts;
	cr_assert_eq(al->cert_expiry.ticket_days[0], 30);
	cr_assert_eq(al->cert_expiry.ticket_days[1], 7);
	cr_assert_float_eq(al->cert_expiry.page_hours, 24, 1e-12);
	cr_assert_eq(al->probe_silent.intervals, 3);
	cr_assert_float_eq(al->clock_skew.max_ms, 2000, 1e-12);
	cr_assert_eq(al->drift.fingerprint_for_ms, 1800000);
	cr_assert(al->sni_mismatch.c.enabled);
	cr_assert_eq(al->sni_mismatch.c.resolve_after, 3);
	cr_assert(al->probe_dropping.c.enabled);
	cr_assert_eq(al->probe_dropping.window_ms, 3600000);
	cr_assert_eq(al->probe_dropping.c.resolve_after, 3);
	slo_config_free(cfg);

	cfg = slo_config_new_default();
	cr_assert_not_null(cfg);
	cr_assert_eq(cfg->ndefault_rules, 3);
	slo_config_free(cfg);
}

Test(slo_config, rules_amended_globally_then_per_slo)
{
	struct slo_config *cfg = ok(
		"defaults:\n"
		"  resolve_after: 5\n"
		"  rules:\n"
		"    - {name: slo_burn_fast, min_events: 100, resolve_after: 2}\n"
		"    - {name: slo_burn_ticket, enabled: false}\n"
		"    - {name: weekly, severity: ticket, burn_rate: 0.5, long_window: 7d, short_window: 1d}\n"
		"slos:\n"
		"  - name: a\n"
		"    sli: availability\n"
		"    objective: 99.5\n"
		"  - name: b\n"
		"    sli: availability\n"
		"    objective: 99.5\n"
		"    rules:\n"
		"      - {name: slo_burn_fast, burn_rate: 20}\n"
		"      - {name: weekly, enabled: false}\n"
		"      - {name: slo_burn_ticket, severity: ticket, burn_rate: 1, long_window: 3d, "
		"short_window: 6h, for_evals: 2}\n");
	const struct slo *a = &cfg->slos[0], *b = &cfg->slos[1];
	cr_assert_eq(a->nrules, 3);
	cr_assert_eq(rule(a, "slo_burn_fast")->min_events, 100);
	cr_assert_eq(rule(a, "slo_burn_fast")->resolve_after, 2);
	cr_assert_eq(rule(a, "slo_burn_fast")->min_failures, 3);
	cr_assert_eq(rule(a, "slo_burn_slow")->resolve_after, 5);
	cr_assert_null(rule(a, "slo_burn_ticket"));
	cr_assert_eq(rule(a, "weekly")->long_ms, 7 * 86400000LL);
	cr_assert_eq(rule(a, "weekly")->min_events, 0);
	cr_assert_eq(b->nrules, 3);
	cr_assert_float_eq(rule(b, "slo_burn_fast")->burn_rate, 20, 1e-12);
	cr_assert_eq(rule(b, "slo_burn_fast")->min_events, 100);
	cr_assert_null(rule(b, "weekly"));
	cr_assert_eq(rule(b, "slo_burn_ticket")->for_evals, 2);
	cr_assert_eq(rule(b, "slo_burn_ticket")->resolve_after, 5);
	cr_assert_float_eq(a->objective, 0.995, 1e-12);
	cr_assert_eq(a->window_ms, 30 * 86400000LL);
	slo_config_free(cfg);
}

Test(slo_config, alerts_section)
{
	struct slo_config *cfg = ok(
		"alerts:\n"
		"  resolve_after: 4\n"
		"  cert_expiry: {ticket_days: [60, 30, 7], page_hours: 12}\n"
		"  mtls_mass: {min_targets: 5, min_failure_ratio: 0.25, window: 15m, resolve_after: 1}\n"
		"  sni_mismatch: {enabled: false, min_events: 10, window: 2h}\n"
		"  probe_silent: {intervals: 5}\n"
		"  clock_skew: {max_ms: 500}\n"
		"  probe_dropping: {window: 30m}\n"
		"  drift: {fingerprint_for: 1h, baseline_window: 14d}\n");
	const struct slo_alerts *al = &cfg->alerts;
	cr_assert_eq(al->cert_expiry.nticket_days, 3);
	cr_assert_eq(al->cert_expiry.ticket_days[2], 7);
	cr_assert_float_eq(al->cert_expiry.page_hours, 12, 1e-12);
	cr_assert_eq(al->cert_expiry.c.resolve_after, 4);
	cr_assert_eq(al->mtls_mass.min_targets, 5);
	cr_assert_float_eq(al->mtls_mass.min_failure_ratio, 0.25, 1e-12);
	cr_assert_eq(al->mtls_mass.window_ms, 900000);
	cr_assert_eq(al->mtls_mass.c.resolve_after, 1);
	cr_assert_not(al->sni_mismatch.c.enabled);
	cr_assert_eq(al->sni_mismatch.min_events, 10);
	cr_assert_eq(al->probe_silent.intervals, 5);
	cr_assert_float_eq(al->clock_skew.max_ms, 500, 1e-12);
	cr_assert_eq(al->drift.baseline_window_ms, 14 * 86400000LL);
	cr_assert(al->probe_dropping.c.enabled);
	cr_assert_eq(al->probe_dropping.window_ms, 1800000);
	cr_assert_eq(al->probe_dropping.c.resolve_after, 4);
	slo_config_free(cfg);

	/* the region quorum: defaults, then every key */
	cfg = ok("slos:\n  - {name: a, sli: availability, objective: 99.90}\n");
	al = &cfg->alerts;
	cr_assert_str_eq(cfg->slos[0].objective_text, "99.90");
	cr_assert(al->region_quorum.c.enabled);
	cr_assert_eq(al->region_quorum.min_regions, 2);
	cr_assert_float_eq(al->region_quorum.min_region_share, 0, 1e-12);
	cr_assert_float_eq(al->region_quorum.failure_ratio, 0.9, 1e-12);
	cr_assert_eq(al->region_quorum.for_ms, 300000);
	cr_assert_eq(al->region_quorum.min_samples, 3);
	cr_assert_eq(al->region_quorum.c.resolve_after, 3);
	slo_config_free(cfg);
	cfg = ok("alerts:\n  region_quorum: {min_regions: 3, min_region_share: 0.5, "
		 "failure_ratio: 1, for: 10m, min_samples: 5, resolve_after: 2}\n");
	al = &cfg->alerts;
	cr_assert_eq(al->region_quorum.min_regions, 3);
	cr_assert_float_eq(al->region_quorum.min_region_share, 0.5, 1e-12);
	cr_assert_float_eq(al->region_quorum.failure_ratio, 1, 1e-12);
	cr_assert_eq(al->region_quorum.for_ms, 600000);
	cr_assert_eq(al->region_quorum.min_samples, 5);
	cr_assert_eq(al->region_quorum.c.resolve_after, 2);
	slo_config_free(cfg);

	cfg = ok("alerts:\n  probe_dropping: {enabled: false, resolve_after: 2}\n");
	cr_assert_not(cfg->alerts.probe_dropping.c.enabled);
	cr_assert_eq(cfg->alerts.probe_dropping.c.resolve_after, 2);
	cr_assert_eq(cfg->alerts.probe_dropping.window_ms, 3600000);
	slo_config_free(cfg);
}

Test(slo_config, errors_name_the_position)
{
	bad("slos:\n  - name: a\n    sli: availability\n    objective: 100\n", 4, 16,
	    "slos[0].objective: expected a percentage in (0, 100)");
	bad("slos:\n  - name: a\n    sli: speed\n    objective: 99\n", 3, 10,
	    "slos[0].sli: expected availability or latency");
	bad("slos:\n  - name: a\n    sli: latency\n    threshold_ms: 99\n    objective: 99\n", 4, 19,
	    "slos[0].threshold_ms: expected one of the latency histogram's bucket bounds");
	bad("slos:\n  - name: a\n    sli: latency\n    objective: 99\n", 2, 5,
	    "missing required key \"threshold_ms\"");
	bad("slos:\n  - name: a\n    sli: availability\n    objective: 99\n    colour: red\n", 5, 5,
	    "unknown key \"colour\"");
	bad("slos:\n  - {name: a, sli: availability, objective: 99}\n"
	    "  - {name: a, sli: availability, objective: 99}\n", 3, 12,
	    "SLO name \"a\" already used at line 2");
	bad("slos:\n  - {name: 'a b', sli: availability, objective: 99}\n", 2, 12,
	    "slos[0].name: expected letters, digits");
	bad("slos:\n  - {name: a, sli: availability, objective: 99, window: 30x}\n", 2, 57,
	    "slos[0].window: expected a duration");
	bad("defaults:\n  rules:\n    - {name: new}\n", 3, 7,
	    "missing required key \"severity\"");
	bad("defaults:\n  rules:\n    - {name: slo_burn_fast, short_window: 2h}\n", 3, 7,
	    "short_window 2h is longer than long_window 1h");
	bad("defaults:\n  rules:\n    - {name: slo_burn_fast, severity: urgent}\n", 3, 39,
	    "expected page or ticket");
	bad("defaults:\n  rules:\n    - {name: x, severity: page, burn_rate: 0, long_window: 1h, "
	    "short_window: 5m}\n", 3, 44, "burn_rate: expected a number > 0");
	bad("alerts:\n  cert_expiry: {ticket_days: [7, 30]}\n", 2, 34,
	    "expected days in descending order");
	bad("alerts:\n  mtls_mass: {min_failure_ratio: 1.5}\n", 2, 34,
	    "alerts.mtls_mass.min_failure_ratio: expected a ratio in (0, 1]");
	bad("alerts:\n  drift: {enabled: maybe}\n", 2, 20, "expected true or false");
	bad("alerts:\n  probe_dropping: {window: 30s}\n", 2, 28,
	    "alerts.probe_dropping.window: expected a duration");
	bad("alerts:\n  probe_dropping: {resolve_after: 0}\n", 2, 35,
	    "alerts.probe_dropping.resolve_after");
	bad("alerts:\n  probe_dropping: {threshold: 3}\n", 2, 20, "unknown key \"threshold\"");
	bad("slos: [\n", 2, 1, "YAML syntax error");
	bad("slos:\n  - {name: a, sli: availability, objective: 99, selector: {tier: x}}\n", 2, 60,
	    "unknown key \"tier\"");
}

Test(slo_config, durations)
{
	int64_t ms;
	char buf[32];
	cr_assert_eq(slo_parse_duration_ms("30d", &ms), 0);
	cr_assert_eq(ms, 30 * 86400000LL);
	cr_assert_eq(slo_parse_duration_ms("2w", &ms), 0);
	cr_assert_eq(ms, 14 * 86400000LL);
	cr_assert_eq(slo_parse_duration_ms("250ms", &ms), 0);
	cr_assert_eq(ms, 250);
	cr_assert_eq(slo_parse_duration_ms("5 m", &ms), -1);
	cr_assert_eq(slo_parse_duration_ms("-5m", &ms), -1);
	cr_assert_eq(slo_parse_duration_ms("99999999999999999999d", &ms), -1);
	cr_assert_str_eq(slo_format_duration(3 * 86400000LL, buf, sizeof buf), "3d");
	cr_assert_str_eq(slo_format_duration(7 * 86400000LL, buf, sizeof buf), "7d");
	cr_assert_str_eq(slo_format_duration(1800000, buf, sizeof buf), "30m");
	cr_assert_str_eq(slo_format_duration(90000, buf, sizeof buf), "90s");
	cr_assert_str_eq(slo_format_duration(1500, buf, sizeof buf), "1500ms");
}
