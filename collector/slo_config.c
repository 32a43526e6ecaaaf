/*
 * slo_config.c - loads slos.yaml (see slo_config.h and
 * deploy/slos.example.yaml).
 *
 * common/yamlcfg.c loads the document and provides the walker shared by
 * every loader (so all report errors alike); this file is the slos.yaml
 * schema: we walk the tree once copying what we keep into a fresh struct
 * slo_config, and stop at the first error, which names file:line:column.
 * Here: loading, the SLOs and their burn-rate rules; the alerts: section
 * (the other rules' thresholds) is slo_config_alerts.c.
 */
#include "slo_config.h"
#include "slo_config_int.h"
#include "sli_latency.h"
#include "yamlcfg.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLO_CONFIG_MAX_FILE (16u * 1024 * 1024)
#define MAX_WINDOW_MS       (400LL * 24 * 3600 * 1000)
#define MAX_SLOS            100000

static struct slo_pos pos_of(const yaml_node_t *n)
{
	struct slo_pos p = { (unsigned)n->start_mark.line + 1,
				(unsigned)n->start_mark.column + 1 };
	return p;
}

/* ---- numbers and durations ---- */

int slo_parse_duration_ms(const char *s, int64_t *out_ms)
{
	return yamlcfg_parse_ms(s, 'w', INT64_MAX, out_ms);
}

const char *slo_format_duration(int64_t ms, char *buf, size_t cap)
{
	static const struct { int64_t mul; const char *unit; } U[] = {
		{ 7LL * 24 * 3600 * 1000, "w" }, { 24LL * 3600 * 1000, "d" },
		{ 3600LL * 1000, "h" }, { 60LL * 1000, "m" }, { 1000, "s" },
	};
	if (ms > 0)
		for (size_t i = 0; i < sizeof U / sizeof U[0]; i++)
			if (ms % U[i].mul == 0) {
				/* 14d reads better than 2w; keep weeks for exact multiples only
				 * when they are not also days people write (7d, 14d...) */
				if (U[i].unit[0] == 'w')
					continue;
				snprintf(buf, cap, "%" PRId64 "%s", ms / U[i].mul, U[i].unit);
				return buf;
			}
	snprintf(buf, cap, "%" PRId64 "ms", ms);
	return buf;
}

int slo_config_get_double(struct yc *yc, yaml_node_t *v, const char *ctx, double lo, bool lo_open,
			  double hi, bool hi_open, const char *what, double *out)
{
	const char *s = yamlcfg_want_scalar(yc, v, ctx, true);
	if (!s)
		return -1;
	char *e;
	errno = 0;
	double d = strtod(s, &e);
	bool ok = *s && !isspace((unsigned char)*s) && *e == '\0' && errno == 0 && isfinite(d) &&
		  (lo_open ? d > lo : d >= lo) && (hi_open ? d < hi : d <= hi);
	if (!ok)
		return YC_ERRN(yc, v, ctx, "expected %s, got \"%.64s\"", what, s);
	*out = d;
	return 0;
}

int slo_config_get_window(struct yc *yc, yaml_node_t *v, const char *ctx, int64_t min_ms,
			  int64_t *out)
{
	const char *s = yamlcfg_want_scalar(yc, v, ctx, true);
	int64_t ms;
	if (!s)
		return -1;
	if (slo_parse_duration_ms(s, &ms) < 0 || ms < min_ms || ms > MAX_WINDOW_MS)
		return YC_ERRN(yc, v, ctx, "expected a duration like 5m, 1h, 6h, 3d or 30d "
			       "(%" PRId64 "s to 400d), got \"%.64s\"", min_ms / 1000, s);
	*out = ms;
	return 0;
}

static bool name_ok(const char *s)
{
	if (!*s || strlen(s) > 128)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return false;
	return true;
}

/* ---- burn-rate rules ---- */

/* The SRE Workbook's multiwindow, multi-burn-rate set (chapter 5, table 5-8),
 * plus minimum samples for synthetic traffic's low volume: at one probe a
 * minute a single failure in an hour is already a 16x burn at 99.9%. */
static const struct builtin_rule {
	const char *name, *severity;
	double burn_rate;
	int64_t long_ms, short_ms;
	uint64_t min_events, min_failures;
} BUILTIN_RULES[] = {
	{ "slo_burn_fast",   "page",   14.4, 3600000LL,      300000LL,   30,  3 },
	{ "slo_burn_slow",   "page",    6.0, 6 * 3600000LL,  1800000LL,  60,  5 },
	{ "slo_burn_ticket", "ticket",  1.0, 72 * 3600000LL, 6 * 3600000LL, 100, 10 },
};

/* A rule entry as parsed, with which fields it gave. */
struct rule_patch {
	struct slo_burn_rule r;
	bool has_enabled, enabled, has_severity, has_burn, has_long, has_short, has_min_events,
	     has_min_failures, has_for, has_resolve;
	yaml_node_t *n;
};

static const char *const RULE_KEYS[] = { "name", "enabled", "severity", "burn_rate",
					 "long_window", "short_window", "min_events",
					 "min_failures", "for_evals", "resolve_after", NULL };

static void rule_clear(struct slo_burn_rule *r)
{
	free(r->name);
	free(r->severity);
	memset(r, 0, sizeof *r);
}

static void rules_free(struct slo_burn_rule *rules, size_t n)
{
	for (size_t i = 0; i < n; i++)
		rule_clear(&rules[i]);
	free(rules);
}

static int rule_copy(struct slo_burn_rule *dst, const struct slo_burn_rule *src)
{
	*dst = *src;
	dst->name = strdup(src->name);
	dst->severity = strdup(src->severity);
	if (!dst->name || !dst->severity) {
		rule_clear(dst);
		return -1;
	}
	return 0;
}

static int parse_rule(struct yc *yc, yaml_node_t *n, const char *ctx, struct rule_patch *p)
{
	char c[256];
	yaml_node_t *v;
	memset(p, 0, sizeof *p);
	p->n = n;
	p->r.pos = pos_of(n);
	if (yamlcfg_check_keys(yc, n, ctx, RULE_KEYS) < 0 || yamlcfg_req_string(yc, n, "name", ctx, &p->r.name) < 0)
		return -1;
	if (!name_ok(p->r.name)) {
		yamlcfg_subctx(c, sizeof c, ctx, "name");
		return YC_ERRN(yc, yamlcfg_get(yc, n, "name", NULL), c,
			       "expected letters, digits, '_', '-' or '.', got \"%.64s\"", p->r.name);
	}
	if ((v = yamlcfg_get(yc, n, "enabled", NULL))) {
		yamlcfg_subctx(c, sizeof c, ctx, "enabled");
		if (yamlcfg_bool(yc, v, c, &p->enabled) < 0)
			return -1;
		p->has_enabled = true;
	}
	if ((v = yamlcfg_get(yc, n, "severity", NULL))) {
		yamlcfg_subctx(c, sizeof c, ctx, "severity");
		if (yamlcfg_copy_string(yc, v, c, &p->r.severity) < 0)
			return -1;
		if (strcmp(p->r.severity, "page") && strcmp(p->r.severity, "ticket"))
			return YC_ERRN(yc, v, c, "expected page or ticket, got \"%.64s\"",
				       p->r.severity);
		p->has_severity = true;
	}
	if ((v = yamlcfg_get(yc, n, "burn_rate", NULL))) {
		yamlcfg_subctx(c, sizeof c, ctx, "burn_rate");
		if (slo_config_get_double(yc, v, c, 0, true, 1e6, false, "a number > 0", &p->r.burn_rate) < 0)
			return -1;
		p->has_burn = true;
	}
	if ((v = yamlcfg_get(yc, n, "long_window", NULL))) {
		yamlcfg_subctx(c, sizeof c, ctx, "long_window");
		if (slo_config_get_window(yc, v, c, 60000, &p->r.long_ms) < 0)
			return -1;
		p->has_long = true;
	}
	if ((v = yamlcfg_get(yc, n, "short_window", NULL))) {
		yamlcfg_subctx(c, sizeof c, ctx, "short_window");
		if (slo_config_get_window(yc, v, c, 60000, &p->r.short_ms) < 0)
			return -1;
		p->has_short = true;
	}
	if ((v = yamlcfg_get(yc, n, "min_events", NULL))) {
		yamlcfg_subctx(c, sizeof c, ctx, "min_events");
		if (yamlcfg_u64(yc, v, c, 0, 1000000000000ull, &p->r.min_events) < 0)
			return -1;
		p->has_min_events = true;
	}
	if ((v = yamlcfg_get(yc, n, "min_failures", NULL))) {
		yamlcfg_subctx(c, sizeof c, ctx, "min_failures");
		if (yamlcfg_u64(yc, v, c, 0, 1000000000000ull, &p->r.min_failures) < 0)
			return -1;
		p->has_min_failures = true;
	}
	if ((v = yamlcfg_get(yc, n, "for_evals", NULL))) {
		yamlcfg_subctx(c, sizeof c, ctx, "for_evals");
		if (yamlcfg_uint(yc, v, c, 0, 10000, &p->r.for_evals) < 0)
			return -1;
		p->has_for = true;
	}
	if ((v = yamlcfg_get(yc, n, "resolve_after", NULL))) {
		yamlcfg_subctx(c, sizeof c, ctx, "resolve_after");
		if (yamlcfg_uint(yc, v, c, 1, 10000, &p->r.resolve_after) < 0)
			return -1;
		p->has_resolve = true;
	}
	return 0;
}

/* Applies a list of patches (sequence node `seq`) to *rules / *n. Every
 * rule's resolve_after that was never given becomes default_resolve. */
static int apply_rules(struct yc *yc, yaml_node_t *seq, const char *ctx,
		       struct slo_burn_rule **rules, size_t *n)
{
	char c[256];
	if (seq->type == YAML_SCALAR_NODE && seq->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (!strcmp((const char *)seq->data.scalar.value, "") ||
	     !strcmp((const char *)seq->data.scalar.value, "~") ||
	     !strcmp((const char *)seq->data.scalar.value, "null")))
		return 0;   /* "rules:" with nothing (or only comments) under it */
	if (seq->type != YAML_SEQUENCE_NODE)
		return YC_ERRN(yc, seq, ctx, "expected a sequence of rules, got %s", yamlcfg_kind_name(seq));
	if (yamlcfg_visit(yc, seq, ctx) < 0)
		return -1;
	size_t i = 0;
	for (yaml_node_item_t *it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++, i++) {
		struct rule_patch p;
		snprintf(c, sizeof c, "%s[%zu]", ctx, i);
		int rc = parse_rule(yc, yamlcfg_node(yc, *it), c, &p);
		if (rc < 0) {
			rule_clear(&p.r);
			return -1;
		}
		/* an earlier entry of the same list with the same name is an error */
		for (yaml_node_item_t *jt = seq->data.sequence.items.start; jt < it; jt++) {
			yaml_node_t *nn = yamlcfg_get(yc, yamlcfg_node(yc, *jt), "name", NULL);
			if (nn && !strcmp((const char *)nn->data.scalar.value, p.r.name)) {
				rule_clear(&p.r);
				return YC_ERRN(yc, p.n, c, "rule \"%s\" given twice (first at line %u)",
					       (const char *)nn->data.scalar.value, pos_of(nn).line);
			}
		}
		size_t k;
		for (k = 0; k < *n; k++)
			if (!strcmp((*rules)[k].name, p.r.name))
				break;
		if (k == *n) {
			/* a new rule */
			if (p.has_enabled && !p.enabled) {
				rule_clear(&p.r);
				continue;
			}
			const char *missing = !p.has_severity ? "severity" : !p.has_burn ? "burn_rate" :
					      !p.has_long ? "long_window" :
					      !p.has_short ? "short_window" : NULL;
			if (missing) {
				rule_clear(&p.r);
				return YC_ERRN(yc, p.n, c, "missing required key \"%s\" (a rule that does "
					       "not amend an existing one must give severity, burn_rate, "
					       "long_window and short_window)", missing);
			}
			struct slo_burn_rule *nr = realloc(*rules, (*n + 1) * sizeof *nr);
			if (!nr) {
				rule_clear(&p.r);
				return yamlcfg_oom(yc);
			}
			*rules = nr;
			p.r.for_evals = p.has_for ? p.r.for_evals : 1;
			p.r.resolve_after = p.has_resolve ? p.r.resolve_after : 0;
			nr[(*n)++] = p.r;
			continue;
		}
		struct slo_burn_rule *r = &(*rules)[k];
		if (p.has_enabled && !p.enabled) {
			rule_clear(&p.r);
			rule_clear(r);
			memmove(r, r + 1, (*n - k - 1) * sizeof *r);
			(*n)--;
			continue;
		}
		if (p.has_severity) {
			free(r->severity);
			r->severity = p.r.severity;
			p.r.severity = NULL;
		}
		if (p.has_burn)
			r->burn_rate = p.r.burn_rate;
		if (p.has_long)
			r->long_ms = p.r.long_ms;
		if (p.has_short)
			r->short_ms = p.r.short_ms;
		if (p.has_min_events)
			r->min_events = p.r.min_events;
		if (p.has_min_failures)
			r->min_failures = p.r.min_failures;
		if (p.has_for)
			r->for_evals = p.r.for_evals;
		if (p.has_resolve)
			r->resolve_after = p.r.resolve_after;
		r->pos = p.r.pos;
		rule_clear(&p.r);
	}
	for (size_t k = 0; k < *n; k++)
		if ((*rules)[k].short_ms > (*rules)[k].long_ms) {
			char a[32], b[32];
			return yamlcfg_errat(yc, (*rules)[k].pos.line ? (*rules)[k].pos.line - 1 : 0,
				        (*rules)[k].pos.column ? (*rules)[k].pos.column - 1 : 0, ctx,
				        "rule \"%s\": short_window %s is longer than long_window %s",
				        (*rules)[k].name, slo_format_duration((*rules)[k].short_ms, a, sizeof a),
				        slo_format_duration((*rules)[k].long_ms, b, sizeof b));
		}
	return 0;
}

static int copy_rules(const struct slo_burn_rule *src, size_t n, struct slo_burn_rule **out)
{
	*out = NULL;
	if (n == 0)
		return 0;
	struct slo_burn_rule *r = calloc(n, sizeof *r);
	if (!r)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (rule_copy(&r[i], &src[i]) < 0) {
			rules_free(r, i);
			return -1;
		}
	*out = r;
	return 0;
}

static int builtin_rules(struct slo_burn_rule **out, size_t *n)
{
	size_t k = sizeof BUILTIN_RULES / sizeof BUILTIN_RULES[0];
	struct slo_burn_rule *r = calloc(k, sizeof *r);
	if (!r)
		return -1;
	for (size_t i = 0; i < k; i++) {
		r[i].name = strdup(BUILTIN_RULES[i].name);
		r[i].severity = strdup(BUILTIN_RULES[i].severity);
		if (!r[i].name || !r[i].severity) {
			rules_free(r, i + 1);
			return -1;
		}
		r[i].burn_rate = BUILTIN_RULES[i].burn_rate;
		r[i].long_ms = BUILTIN_RULES[i].long_ms;
		r[i].short_ms = BUILTIN_RULES[i].short_ms;
		r[i].min_events = BUILTIN_RULES[i].min_events;
		r[i].min_failures = BUILTIN_RULES[i].min_failures;
		r[i].for_evals = 1;
		r[i].resolve_after = 0;   /* = defaults.resolve_after */
	}
	*out = r;
	*n = k;
	return 0;
}

/* ---- sections ---- */

static const char *const TOP_KEYS[] = { "defaults", "slos", "alerts", NULL };
static const char *const DEFAULTS_KEYS[] = { "resolve_after", "rules", NULL };
static const char *const SLO_KEYS[] = { "name", "description", "sli", "threshold_ms",
					"objective", "window", "selector", "split_by_region",
					"rules", NULL };
static const char *const SEL_KEYS[] = { "service", "region", "profile", "target", "labels",
					NULL };

static int parse_selector(struct yc *yc, yaml_node_t *m, const char *ctx, struct slo_selector *s)
{
	char c[256];
	if (yamlcfg_check_keys(yc, m, ctx, SEL_KEYS) < 0 ||
	    yamlcfg_opt_string(yc, m, "service", ctx, &s->service) < 0 ||
	    yamlcfg_opt_string(yc, m, "region", ctx, &s->region) < 0 ||
	    yamlcfg_opt_string(yc, m, "profile", ctx, &s->profile) < 0 ||
	    yamlcfg_opt_string(yc, m, "target", ctx, &s->target) < 0)
		return -1;
	yaml_node_t *l = yamlcfg_get(yc, m, "labels", NULL);
	if (!l)
		return 0;
	yamlcfg_subctx(c, sizeof c, ctx, "labels");
	if (yamlcfg_want_mapping(yc, l, c) < 0)
		return -1;
	size_t n = (size_t)(l->data.mapping.pairs.top - l->data.mapping.pairs.start);
	s->label_keys = calloc(n ? n : 1, sizeof *s->label_keys);
	s->label_values = calloc(n ? n : 1, sizeof *s->label_values);
	if (!s->label_keys || !s->label_values)
		return yamlcfg_oom(yc);
	for (yaml_node_pair_t *p = l->data.mapping.pairs.start; p < l->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yamlcfg_node(yc, p->key), *v = yamlcfg_node(yc, p->value);
		const char *ks = yamlcfg_want_scalar(yc, k, c, false);
		if (!ks)
			return -1;
		for (size_t i = 0; i < s->nlabels; i++)
			if (!strcmp(s->label_keys[i], ks))
				return YC_ERRN(yc, k, c, "duplicate label \"%.64s\"", ks);
		char cv[300];
		snprintf(cv, sizeof cv, "%s.%s", c, ks);
		const char *vs = yamlcfg_want_scalar(yc, v, cv, true);
		if (!vs)
			return -1;
		if (!(s->label_keys[s->nlabels] = strdup(ks)))
			return yamlcfg_oom(yc);
		s->nlabels++;
		if (!(s->label_values[s->nlabels - 1] = strdup(vs)))
			return yamlcfg_oom(yc);
	}
	return 0;
}

static void selector_free(struct slo_selector *s)
{
	free(s->service);
	free(s->region);
	free(s->profile);
	free(s->target);
	for (size_t i = 0; i < s->nlabels; i++) {
		free(s->label_keys[i]);
		free(s->label_values[i]);
	}
	free(s->label_keys);
	free(s->label_values);
}

static int parse_slo(struct yc *yc, yaml_node_t *m, const char *ctx, struct slo_config *cfg,
		     struct slo *o)
{
	char c[256];
	yaml_node_t *v;
	o->pos = pos_of(m);
	if (yamlcfg_check_keys(yc, m, ctx, SLO_KEYS) < 0 || yamlcfg_req_string(yc, m, "name", ctx, &o->name) < 0 ||
	    yamlcfg_opt_string(yc, m, "description", ctx, &o->description) < 0)
		return -1;
	yamlcfg_subctx(c, sizeof c, ctx, "name");
	if (!name_ok(o->name))
		return YC_ERRN(yc, yamlcfg_get(yc, m, "name", NULL), c,
			       "expected letters, digits, '_', '-' or '.', got \"%.64s\"", o->name);

	yamlcfg_subctx(c, sizeof c, ctx, "sli");
	if (!(v = yamlcfg_need(yc, m, "sli", ctx)))
		return -1;
	const char *s = yamlcfg_want_scalar(yc, v, c, false);
	if (!s)
		return -1;
	if (!strcmp(s, "availability"))
		o->sli = SLO_SLI_AVAILABILITY;
	else if (!strcmp(s, "latency"))
		o->sli = SLO_SLI_LATENCY;
	else
		return YC_ERRN(yc, v, c, "expected availability or latency, got \"%.64s\"", s);

	v = yamlcfg_get(yc, m, "threshold_ms", NULL);
	yamlcfg_subctx(c, sizeof c, ctx, "threshold_ms");
	if (o->sli == SLO_SLI_LATENCY) {
		if (!v)
			return YC_ERRN(yc, m, ctx, "missing required key \"threshold_ms\" (sli: latency)");
		if (slo_config_get_double(yc, v, c, 0, true, 1e9, false, "milliseconds > 0",
			       &o->threshold_ms) < 0)
			return -1;
		if (sli_latency_bound_index(o->threshold_ms) < 0) {
			char list[256];
			sli_latency_bounds_string(list, sizeof list);
			return YC_ERRN(yc, v, c, "expected one of the latency histogram's bucket bounds "
				       "(%s), got %g", list, o->threshold_ms);
		}
	} else if (v) {
		return YC_ERRN(yc, v, c, "only for sli: latency");
	}

	yamlcfg_subctx(c, sizeof c, ctx, "objective");
	if (!(v = yamlcfg_need(yc, m, "objective", ctx)) ||
	    slo_config_get_double(yc, v, c, 0, true, 100, true, "a percentage in (0, 100) like 99.9",
		       &o->objective_pct) < 0)
		return -1;
	o->objective = o->objective_pct / 100.0;
	/* printed as written: 99.9, never the double's 99.900000000000006 */
	if (!(o->objective_text = strdup(yamlcfg_want_scalar(yc, v, c, true))))
		return yamlcfg_oom(yc);

	o->window_ms = 30LL * 24 * 3600000;
	yamlcfg_subctx(c, sizeof c, ctx, "window");
	if ((v = yamlcfg_get(yc, m, "window", NULL)) && slo_config_get_window(yc, v, c, 3600000, &o->window_ms) < 0)
		return -1;

	if ((v = yamlcfg_get(yc, m, "selector", NULL))) {
		yamlcfg_subctx(c, sizeof c, ctx, "selector");
		if (parse_selector(yc, v, c, &o->sel) < 0)
			return -1;
	}
	if ((v = yamlcfg_get(yc, m, "split_by_region", NULL))) {
		yamlcfg_subctx(c, sizeof c, ctx, "split_by_region");
		if (yamlcfg_bool(yc, v, c, &o->split_by_region) < 0)
			return -1;
	}
	if (copy_rules(cfg->default_rules, cfg->ndefault_rules, &o->rules) < 0)
		return yamlcfg_oom(yc);
	o->nrules = cfg->ndefault_rules;
	if ((v = yamlcfg_get(yc, m, "rules", NULL))) {
		yamlcfg_subctx(c, sizeof c, ctx, "rules");
		if (apply_rules(yc, v, c, &o->rules, &o->nrules) < 0)
			return -1;
	}
	for (size_t i = 0; i < o->nrules; i++)
		if (o->rules[i].resolve_after == 0)
			o->rules[i].resolve_after = cfg->resolve_after;
	return 0;
}

static int parse_root(struct yc *yc, yaml_node_t *root, struct slo_config *cfg)
{
	yaml_node_t *d, *v;
	if (yamlcfg_check_keys(yc, root, "", TOP_KEYS) < 0)
		return -1;
	cfg->resolve_after = 3;
	if (builtin_rules(&cfg->default_rules, &cfg->ndefault_rules) < 0)
		return yamlcfg_oom(yc);
	if ((d = yamlcfg_get(yc, root, "defaults", NULL))) {
		if (yamlcfg_check_keys(yc, d, "defaults", DEFAULTS_KEYS) < 0)
			return -1;
		if ((v = yamlcfg_get(yc, d, "resolve_after", NULL)) &&
		    yamlcfg_uint(yc, v, "defaults.resolve_after", 1, 10000, &cfg->resolve_after) < 0)
			return -1;
		if ((v = yamlcfg_get(yc, d, "rules", NULL)) &&
		    apply_rules(yc, v, "defaults.rules", &cfg->default_rules,
				&cfg->ndefault_rules) < 0)
			return -1;
	}
	slo_config_alerts_defaults(&cfg->alerts);
	if (slo_config_alerts_parse(yc, root, &cfg->alerts) < 0)
		return -1;

	yaml_node_t *seq = yamlcfg_get(yc, root, "slos", NULL);
	if (seq) {
		if (seq->type != YAML_SEQUENCE_NODE)
			return YC_ERRN(yc, seq, "slos", "expected a sequence of SLOs, got %s",
				       yamlcfg_kind_name(seq));
		if (yamlcfg_visit(yc, seq, "slos") < 0)
			return -1;
		size_t n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
		if (n > MAX_SLOS)
			return YC_ERRN(yc, seq, "slos", "at most %d SLOs", MAX_SLOS);
		cfg->slos = calloc(n ? n : 1, sizeof *cfg->slos);
		if (!cfg->slos)
			return yamlcfg_oom(yc);
		for (size_t i = 0; i < n; i++) {
			char c[64];
			snprintf(c, sizeof c, "slos[%zu]", i);
			yaml_node_t *m = yamlcfg_node(yc, seq->data.sequence.items.start[i]);
			cfg->nslos = i + 1;
			if (parse_slo(yc, m, c, cfg, &cfg->slos[i]) < 0)
				return -1;
			for (size_t j = 0; j < i; j++)
				if (!strcmp(cfg->slos[j].name, cfg->slos[i].name))
					return YC_ERRN(yc, yamlcfg_get(yc, m, "name", NULL), c,
						       "SLO name \"%s\" already used at line %u",
						       cfg->slos[i].name, cfg->slos[j].pos.line);
		}
	}
	for (size_t i = 0; i < cfg->ndefault_rules; i++)
		if (cfg->default_rules[i].resolve_after == 0)
			cfg->default_rules[i].resolve_after = cfg->resolve_after;
	return 0;
}

/* ---- loading ---- */

/* A new config from an opened document (root NULL: an empty file). */
static struct slo_config *build(struct yc *yc, yaml_node_t *root)
{
	struct slo_config *cfg = calloc(1, sizeof *cfg);
	bool ok = false;
	if (!cfg || !(cfg->path = strdup(yc->path))) {
		yamlcfg_oom(yc);
		goto out;
	}
	if (!root) {
		/* an empty file: no SLOs, every default */
		cfg->resolve_after = 3;
		slo_config_alerts_defaults(&cfg->alerts);
		if (builtin_rules(&cfg->default_rules, &cfg->ndefault_rules) < 0 ||
		    slo_config_alerts_parse(yc, NULL, &cfg->alerts) < 0) {
			yamlcfg_oom(yc);
			goto out;
		}
		for (size_t i = 0; i < cfg->ndefault_rules; i++)
			cfg->default_rules[i].resolve_after = cfg->resolve_after;
		ok = true;
		goto out;
	}
	if (parse_root(yc, root, cfg) < 0)
		goto out;
	ok = true;
out:
	if (!ok) {
		slo_config_free(cfg);
		return NULL;
	}
	return cfg;
}

struct slo_config *slo_config_load(const char *path, char *err, size_t errlen)
{
	struct yc yc;
	struct slo_config *cfg = NULL;
	yaml_node_t *root;
	if (yamlcfg_open(&yc, path, SLO_CONFIG_MAX_FILE, NULL, 0, err, errlen, &root) == 0)
		cfg = build(&yc, root);
	yamlcfg_close(&yc);
	return cfg;
}

struct slo_config *slo_config_load_string(const char *name, const char *yaml, size_t len,
					  char *err, size_t errlen)
{
	struct yc yc;
	struct slo_config *cfg = NULL;
	yaml_node_t *root;
	if (yamlcfg_open_string(&yc, name ? name : "<string>", yaml, len, NULL, err, errlen,
			   &root) == 0)
		cfg = build(&yc, root);
	yamlcfg_close(&yc);
	return cfg;
}

struct slo_config *slo_config_new_default(void)
{
	char err[256];
	return slo_config_load_string("<defaults>", "", 0, err, sizeof err);
}

void slo_config_free(struct slo_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->nslos; i++) {
		struct slo *o = &cfg->slos[i];
		free(o->name);
		free(o->description);
		free(o->objective_text);
		selector_free(&o->sel);
		rules_free(o->rules, o->nrules);
	}
	free(cfg->slos);
	rules_free(cfg->default_rules, cfg->ndefault_rules);
	free(cfg->path);
	free(cfg);
}
