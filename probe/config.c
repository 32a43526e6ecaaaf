/*
 * config.c - loads probe.yaml (see config.h and deploy/probe.example.yaml).
 *
 * common/yamlcfg.c loads the document and provides the walker (key checks,
 * alias refusal, scalar parsers, file:line:column errors); this file is the
 * probe.yaml schema: we walk the tree once, copying what we keep into a
 * fresh struct probe_config, and stop at the first error.
 */
#define _GNU_SOURCE  /* qsort_r */
#include "config.h"
#include "log.h"
#include "tlsutil.h"
#include "yamlcfg.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONFIG_MAX_FILE   (64u * 1024 * 1024)
#define MIN_SPOOL_BYTES   (1024u * 1024)
#define MAX_CONCURRENCY   1000000
#define MAX_WARN_DAYS     3650
#define MAX_BATCH_RECORDS 100000
#define MIN_FSYNC_MS      10
#define MIN_HEARTBEAT_MS  100

static const char *const TOP_KEYS[] = { "probe", "collector", "spool", "concurrency",
					"defaults", "targets", "log", NULL };
static const char *const PROBE_KEYS[] = { "id", "region", NULL };
static const char *const COLLECTOR_KEYS[] = { "address", "ca_file", "cert_file", "key_file",
					      "batch_max_records", "batch_max_delay",
					      "heartbeat", NULL };
static const char *const SPOOL_KEYS[] = { "path", "max_bytes", "fsync_interval", NULL };
static const char *const DEFAULTS_KEYS[] = { "interval", "timeout", "profiles",
					     "expiry_warn_days", "ca_file", "revocation",
					     "expiry_warn_fraction", NULL };
static const char *const TARGET_KEYS[] = { "host", "port", "sni", "no_sni", "connect_to",
					   "service", "labels", "profiles", "interval",
					   "timeout", "starttls", "client_cert", "client_key",
					   "ca_file", "revocation", "resume", "addresses", NULL };
static const char *const LOG_KEYS[] = { "level", "json", NULL };

static struct config_pos pos_of(const yaml_node_t *n)
{
	struct config_pos p = { (unsigned)n->start_mark.line + 1,
				(unsigned)n->start_mark.column + 1 };
	return p;
}

/* Where the value of key sits in mapping m (left as is when absent). */
static void value_pos(struct yc *yc, yaml_node_t *m, const char *key, struct config_pos *pos)
{
	yaml_node_t *v = m ? yamlcfg_get(yc, m, key, NULL) : NULL;
	if (v)
		*pos = pos_of(v);
}

/* ---- values ---- */

/* The parsers live in common/yamlcfg.c; these names are the probe's API. */
int config_parse_duration_ms(const char *s, unsigned *out_ms)
{
	return yamlcfg_parse_duration_ms(s, out_ms);
}

int config_parse_size(const char *s, uint64_t *out)
{
	return yamlcfg_parse_size(s, out);
}

static int get_revocation(struct yc *yc, yaml_node_t *v, const char *ctx,
			  enum config_revocation *out)
{
	const char *s = yamlcfg_want_scalar(yc, v, ctx, true);
	if (!s)
		return -1;
	if (strcmp(s, "staple") == 0)
		*out = CONFIG_REV_STAPLE;
	else if (strcmp(s, "ocsp") == 0)
		*out = CONFIG_REV_OCSP;
	else if (strcmp(s, "crl") == 0)
		*out = CONFIG_REV_CRL;
	else if (strcmp(s, "ocsp,crl") == 0 || strcmp(s, "crl,ocsp") == 0)
		*out = CONFIG_REV_OCSP_CRL;
	else
		return YC_ERRN(yc, v, ctx, "expected staple, ocsp, crl or ocsp,crl, got \"%.64s\"", s);
	return 0;
}

/* addresses: one (the default: the first address that answers) or all. */
static int get_addresses(struct yc *yc, yaml_node_t *v, const char *ctx, bool *all)
{
	const char *s = yamlcfg_want_scalar(yc, v, ctx, true);
	if (!s)
		return -1;
	if (strcmp(s, "all") != 0 && strcmp(s, "one") != 0)
		return YC_ERRN(yc, v, ctx, "expected all or one, got \"%.64s\"", s);
	*all = strcmp(s, "all") == 0;
	return 0;
}

/* A decimal number in [0, 1]. */
static int get_fraction(struct yc *yc, yaml_node_t *v, const char *ctx, double *out)
{
	const char *s = yamlcfg_want_scalar(yc, v, ctx, true);
	char *end;
	if (!s)
		return -1;
	errno = 0;
	double f = strtod(s, &end);
	if (!*s || *end || errno || !(f >= 0 && f <= 1))
		return YC_ERRN(yc, v, ctx, "expected a number from 0 to 1, got \"%.64s\"", s);
	*out = f;
	return 0;
}

static bool is_ip_literal(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int check_hostname(struct yc *yc, yaml_node_t *v, const char *ctx, const char *s)
{
	if (strlen(s) > 253)
		return YC_ERRN(yc, v, ctx, "expected a host name of at most 253 characters");
	for (const char *c = s; *c; c++)
		if (isspace((unsigned char)*c) || iscntrl((unsigned char)*c) || *c == '/')
			return YC_ERRN(yc, v, ctx, "expected a host name or IP address, got "
				       "\"%.64s\"", s);
	return 0;
}

static int get_profiles(struct yc *yc, yaml_node_t *v, const char *ctx, char ***out,
			struct config_pos **outpos, size_t *outn)
{
	if (yamlcfg_want_sequence(yc, v, ctx) < 0)
		return -1;
	size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n == 0)
		return YC_ERRN(yc, v, ctx, "expected at least one profile");
	char **names = calloc(n, sizeof *names);
	struct config_pos *pos = calloc(n, sizeof *pos);
	if (!names || !pos) {
		free(names);
		free(pos);
		return yamlcfg_oom(yc);
	}
	*out = names;
	*outpos = pos;
	*outn = n;    /* the caller frees on error, so count is set first */
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *item = yamlcfg_node(yc, v->data.sequence.items.start[i]);
		char c[256];
		snprintf(c, sizeof c, "%s[%zu]", ctx, i);
		if (yamlcfg_copy_string(yc, item, c, &names[i]) < 0)
			return -1;
		pos[i] = pos_of(item);
		/* A name twice would schedule the same entry twice. */
		for (size_t j = 0; j < i; j++)
			if (strcmp(names[j], names[i]) == 0)
				return YC_ERRN(yc, item, c, "duplicate profile \"%.64s\" (first at "
					       "line %u, column %u)", names[i], pos[j].line,
					       pos[j].column);
	}
	return 0;
}

static int copy_profiles(struct yc *yc, char **src, const struct config_pos *srcpos, size_t n,
			 char ***out, struct config_pos **outpos, size_t *outn)
{
	char **names = calloc(n, sizeof *names);
	struct config_pos *pos = calloc(n, sizeof *pos);
	if (!names || !pos) {
		free(names);
		free(pos);
		return yamlcfg_oom(yc);
	}
	*out = names;
	*outpos = pos;
	*outn = n;
	for (size_t i = 0; i < n; i++) {
		if (!(names[i] = strdup(src[i])))
			return yamlcfg_oom(yc);
		pos[i] = srcpos[i];
	}
	return 0;
}

static int get_labels(struct yc *yc, yaml_node_t *v, const char *ctx, struct config_target *t)
{
	if (yamlcfg_want_mapping(yc, v, ctx) < 0)
		return -1;
	size_t n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
	if (n == 0)
		return 0;
	t->labels = calloc(n, sizeof *t->labels);
	if (!t->labels)
		return yamlcfg_oom(yc);
	for (size_t i = 0; i < n; i++) {
		yaml_node_pair_t *p = &v->data.mapping.pairs.start[i];
		yaml_node_t *k = yamlcfg_node(yc, p->key), *val = yamlcfg_node(yc, p->value);
		const char *ks = yamlcfg_want_scalar(yc, k, ctx, false);
		if (!ks)
			return -1;
		for (size_t j = 0; j < i; j++)
			if (strcmp(t->labels[j].key, ks) == 0)
				return YC_ERRN(yc, k, ctx, "duplicate label \"%.64s\"", ks);
		char c[320];
		snprintf(c, sizeof c, "%s.%.64s", ctx, ks);
		const char *vs = yamlcfg_want_scalar(yc, val, c, true);
		if (!vs)
			return -1;
		t->labels[i].key = strdup(ks);
		t->labels[i].value = strdup(vs);
		t->nlabels = i + 1;
		if (!t->labels[i].key || !t->labels[i].value)
			return yamlcfg_oom(yc);
	}
	return 0;
}

/* ---- sections ---- */

static int parse_probe(struct yc *yc, yaml_node_t *root, struct probe_config *cfg)
{
	yaml_node_t *m = yamlcfg_need(yc, root, "probe", "");
	if (!m || yamlcfg_check_keys(yc, m, "probe", PROBE_KEYS) < 0)
		return -1;
	if (yamlcfg_req_string(yc, m, "id", "probe", &cfg->probe_id) < 0 ||
	    yamlcfg_req_string(yc, m, "region", "probe", &cfg->region) < 0)
		return -1;
	return 0;
}

static int parse_collector(struct yc *yc, yaml_node_t *root, struct probe_config *cfg)
{
	yaml_node_t *m = yamlcfg_need(yc, root, "collector", "");
	if (!m || yamlcfg_check_keys(yc, m, "collector", COLLECTOR_KEYS) < 0)
		return -1;
	if (yamlcfg_req_string(yc, m, "address", "collector", &cfg->collector_address) < 0)
		return -1;
	yaml_node_t *a = yamlcfg_get(yc, m, "address", NULL);
	if (yamlcfg_split_hostport(cfg->collector_address, &cfg->collector_host,
			      &cfg->collector_port, 0) < 0)
		return YC_ERRN(yc, a, "collector.address",
			       "expected host:port or [ipv6]:port with a port 1-65535, "
			       "got \"%.64s\"",
			       cfg->collector_address);
	if (yamlcfg_req_string(yc, m, "ca_file", "collector", &cfg->ca_file) < 0 ||
	    yamlcfg_req_string(yc, m, "cert_file", "collector", &cfg->cert_file) < 0 ||
	    yamlcfg_req_string(yc, m, "key_file", "collector", &cfg->key_file) < 0)
		return -1;
	value_pos(yc, m, "ca_file", &cfg->ca_pos);
	value_pos(yc, m, "cert_file", &cfg->cert_pos);
	value_pos(yc, m, "key_file", &cfg->key_pos);
	yaml_node_t *v;
	if ((v = yamlcfg_get(yc, m, "batch_max_records", NULL)) &&
	    yamlcfg_uint(yc, v, "collector.batch_max_records", 1, MAX_BATCH_RECORDS,
		    &cfg->batch_max_records) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, m, "batch_max_delay", NULL)) &&
	    yamlcfg_duration(yc, v, "collector.batch_max_delay", 1, &cfg->batch_max_delay_ms) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, m, "heartbeat", NULL)) &&
	    yamlcfg_duration(yc, v, "collector.heartbeat", MIN_HEARTBEAT_MS, &cfg->heartbeat_ms) < 0)
		return -1;
	return 0;
}

static int parse_spool(struct yc *yc, yaml_node_t *root, struct probe_config *cfg)
{
	yaml_node_t *m = yamlcfg_need(yc, root, "spool", "");
	if (!m || yamlcfg_check_keys(yc, m, "spool", SPOOL_KEYS) < 0)
		return -1;
	if (yamlcfg_req_string(yc, m, "path", "spool", &cfg->spool_path) < 0)
		return -1;
	cfg->spool_max_bytes = 256ull * 1024 * 1024;
	yaml_node_t *v = yamlcfg_get(yc, m, "max_bytes", NULL);
	if (v) {
		const char *s = yamlcfg_want_scalar(yc, v, "spool.max_bytes", true);
		if (!s)
			return -1;
		if (config_parse_size(s, &cfg->spool_max_bytes) < 0)
			return YC_ERRN(yc, v, "spool.max_bytes", "expected a size like 1048576, "
				       "512KiB, 256MiB or 2GiB, got \"%.64s\"", s);
		if (cfg->spool_max_bytes < MIN_SPOOL_BYTES)
			return YC_ERRN(yc, v, "spool.max_bytes", "expected a size of at least "
				       "1MiB, got \"%.64s\"", s);
	}
	cfg->spool_fsync_ms = 1000;
	if ((v = yamlcfg_get(yc, m, "fsync_interval", NULL)) &&
	    yamlcfg_duration(yc, v, "spool.fsync_interval", MIN_FSYNC_MS, &cfg->spool_fsync_ms) < 0)
		return -1;
	return 0;
}

static int parse_log(struct yc *yc, yaml_node_t *root, struct probe_config *cfg)
{
	cfg->log_level = -1;
	yaml_node_t *m = yamlcfg_get(yc, root, "log", NULL), *v;
	if (!m)
		return 0;
	if (yamlcfg_check_keys(yc, m, "log", LOG_KEYS) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, m, "level", NULL))) {
		const char *s = yamlcfg_want_scalar(yc, v, "log.level", false);
		if (!s)
			return -1;
		cfg->log_level = log_level_parse(s);
		if (cfg->log_level < 0)
			return YC_ERRN(yc, v, "log.level", "expected one of error, warn, info, "
				       "debug, got \"%.64s\"", s);
	}
	if ((v = yamlcfg_get(yc, m, "json", NULL)) && yamlcfg_bool(yc, v, "log.json", &cfg->log_json) < 0)
		return -1;
	return 0;
}

static int parse_defaults(struct yc *yc, yaml_node_t *root, struct probe_config *cfg)
{
	struct config_defaults *d = &cfg->defaults;
	d->interval_ms = 60000;
	d->timeout_ms = 10000;
	d->expiry_warn_days = 30;
	d->expiry_warn_fraction = 1.0 / 3.0;
	yaml_node_t *m = yamlcfg_get(yc, root, "defaults", NULL), *v;
	if (m && yamlcfg_check_keys(yc, m, "defaults", DEFAULTS_KEYS) < 0)
		return -1;
	if (m && (v = yamlcfg_get(yc, m, "interval", NULL)) &&
	    yamlcfg_duration(yc, v, "defaults.interval", 1000, &d->interval_ms) < 0)
		return -1;
	if (m && (v = yamlcfg_get(yc, m, "timeout", NULL)) &&
	    yamlcfg_duration(yc, v, "defaults.timeout", 1, &d->timeout_ms) < 0)
		return -1;
	if (m && (v = yamlcfg_get(yc, m, "expiry_warn_days", NULL)) &&
	    yamlcfg_uint(yc, v, "defaults.expiry_warn_days", 0, MAX_WARN_DAYS,
		    &d->expiry_warn_days) < 0)
		return -1;
	if (m && (v = yamlcfg_get(yc, m, "expiry_warn_fraction", NULL)) &&
	    get_fraction(yc, v, "defaults.expiry_warn_fraction", &d->expiry_warn_fraction) < 0)
		return -1;
	if (m && yamlcfg_opt_string(yc, m, "ca_file", "defaults", &d->ca_file) < 0)
		return -1;
	value_pos(yc, m, "ca_file", &d->ca_file_pos);
	if (m && (v = yamlcfg_get(yc, m, "revocation", NULL)) &&
	    get_revocation(yc, v, "defaults.revocation", &d->revocation) < 0)
		return -1;
	if (m && (v = yamlcfg_get(yc, m, "profiles", NULL)))
		return get_profiles(yc, v, "defaults.profiles", &d->profiles, &d->profile_pos,
				    &d->nprofiles);
	/* Built-in default: [modern], positioned at the defaults mapping or top. */
	d->profiles = calloc(1, sizeof *d->profiles);
	d->profile_pos = calloc(1, sizeof *d->profile_pos);
	if (!d->profiles || !d->profile_pos)
		return yamlcfg_oom(yc);
	d->nprofiles = 1;
	if (!(d->profiles[0] = strdup("modern")))
		return yamlcfg_oom(yc);
	d->profile_pos[0] = pos_of(m ? m : root);
	return 0;
}

static int parse_target(struct yc *yc, yaml_node_t *m, size_t idx, struct probe_config *cfg,
			struct config_target *t)
{
	char ctx[64], c[128];
	yaml_node_t *v, *nosni_key = NULL;
	snprintf(ctx, sizeof ctx, "targets[%zu]", idx);
	if (yamlcfg_check_keys(yc, m, ctx, TARGET_KEYS) < 0)
		return -1;
	t->pos = pos_of(m);
	t->interval_ms = cfg->defaults.interval_ms;
	t->timeout_ms = cfg->defaults.timeout_ms;
	t->expiry_warn_days = cfg->defaults.expiry_warn_days;
	t->expiry_warn_fraction = cfg->defaults.expiry_warn_fraction;
	t->revocation = cfg->defaults.revocation;
	t->port = 443;

	if (yamlcfg_req_string(yc, m, "host", ctx, &t->host) < 0)
		return -1;
	yamlcfg_subctx(c, sizeof c, ctx, "host");
	if (check_hostname(yc, yamlcfg_get(yc, m, "host", NULL), c, t->host) < 0)
		return -1;
	yamlcfg_subctx(c, sizeof c, ctx, "port");
	if ((v = yamlcfg_get(yc, m, "port", NULL)) && yamlcfg_uint(yc, v, c, 1, 65535, &t->port) < 0)
		return -1;

	if (yamlcfg_opt_string(yc, m, "sni", ctx, &t->sni) < 0)
		return -1;
	if (t->sni) {
		yamlcfg_subctx(c, sizeof c, ctx, "sni");
		if (check_hostname(yc, yamlcfg_get(yc, m, "sni", NULL), c, t->sni) < 0)
			return -1;
	}
	yamlcfg_subctx(c, sizeof c, ctx, "no_sni");
	if ((v = yamlcfg_get(yc, m, "no_sni", &nosni_key)) && yamlcfg_bool(yc, v, c, &t->no_sni) < 0)
		return -1;
	if (t->no_sni && t->sni)
		return YC_ERRN(yc, nosni_key, ctx, "sni and no_sni: true are mutually exclusive "
			       "(give one or the other)");
	if (!t->no_sni && !t->sni && !is_ip_literal(t->host) && !(t->sni = strdup(t->host)))
		return yamlcfg_oom(yc);

	if ((v = yamlcfg_get(yc, m, "connect_to", NULL))) {
		yamlcfg_subctx(c, sizeof c, ctx, "connect_to");
		const char *s = yamlcfg_want_scalar(yc, v, c, false);
		if (!s)
			return -1;
		if (yamlcfg_split_hostport(s, &t->connect_host, &t->connect_port, t->port) < 0)
			return YC_ERRN(yc, v, c, "expected host, host:port or [ipv6]:port with a "
				       "port 1-65535, got \"%.64s\"", s);
	}
	if (yamlcfg_opt_string(yc, m, "service", ctx, &t->service) < 0)
		return -1;
	yamlcfg_subctx(c, sizeof c, ctx, "labels");
	if ((v = yamlcfg_get(yc, m, "labels", NULL)) && get_labels(yc, v, c, t) < 0)
		return -1;

	yamlcfg_subctx(c, sizeof c, ctx, "profiles");
	if ((v = yamlcfg_get(yc, m, "profiles", NULL))) {
		if (get_profiles(yc, v, c, &t->profiles, &t->profile_pos, &t->nprofiles) < 0)
			return -1;
	} else if (copy_profiles(yc, cfg->defaults.profiles, cfg->defaults.profile_pos,
				 cfg->defaults.nprofiles, &t->profiles, &t->profile_pos,
				 &t->nprofiles) < 0) {
		return -1;
	}

	yamlcfg_subctx(c, sizeof c, ctx, "interval");
	if ((v = yamlcfg_get(yc, m, "interval", NULL)) &&
	    yamlcfg_duration(yc, v, c, 1000, &t->interval_ms) < 0)
		return -1;
	yamlcfg_subctx(c, sizeof c, ctx, "timeout");
	if ((v = yamlcfg_get(yc, m, "timeout", NULL)) && yamlcfg_duration(yc, v, c, 1, &t->timeout_ms) < 0)
		return -1;

	if ((v = yamlcfg_get(yc, m, "starttls", NULL))) {
		yamlcfg_subctx(c, sizeof c, ctx, "starttls");
		const char *s = yamlcfg_want_scalar(yc, v, c, false);
		if (!s)
			return -1;
		if (starttls_parse(s, &t->starttls) < 0 || t->starttls == STARTTLS_NONE)
			return YC_ERRN(yc, v, c, "unknown protocol \"%.64s\" (expected one of: "
				       "smtp, imap, pop3, ftp, postgres)", s);
	}

	if (yamlcfg_opt_string(yc, m, "client_cert", ctx, &t->client_cert) < 0 ||
	    yamlcfg_opt_string(yc, m, "client_key", ctx, &t->client_key) < 0)
		return -1;
	if (t->client_cert && !t->client_key) {
		yaml_node_t *k = NULL;
		yamlcfg_get(yc, m, "client_cert", &k);
		return YC_ERRN(yc, k, ctx, "client_cert needs client_key as well");
	}
	if (t->client_key && !t->client_cert) {
		yaml_node_t *k = NULL;
		yamlcfg_get(yc, m, "client_key", &k);
		return YC_ERRN(yc, k, ctx, "client_key needs client_cert as well");
	}
	value_pos(yc, m, "client_cert", &t->client_cert_pos);
	value_pos(yc, m, "client_key", &t->client_key_pos);
	if (yamlcfg_opt_string(yc, m, "ca_file", ctx, &t->ca_file) < 0)
		return -1;
	t->ca_file_pos = cfg->defaults.ca_file_pos;
	value_pos(yc, m, "ca_file", &t->ca_file_pos);
	if (!t->ca_file && cfg->defaults.ca_file && !(t->ca_file = strdup(cfg->defaults.ca_file)))
		return yamlcfg_oom(yc);
	yamlcfg_subctx(c, sizeof c, ctx, "revocation");
	if ((v = yamlcfg_get(yc, m, "revocation", NULL)) && get_revocation(yc, v, c, &t->revocation) < 0)
		return -1;
	yamlcfg_subctx(c, sizeof c, ctx, "resume");
	if ((v = yamlcfg_get(yc, m, "resume", NULL)) && yamlcfg_bool(yc, v, c, &t->resume) < 0)
		return -1;
	yamlcfg_subctx(c, sizeof c, ctx, "addresses");
	if ((v = yamlcfg_get(yc, m, "addresses", NULL)) && get_addresses(yc, v, c, &t->all_addresses) < 0)
		return -1;
	return 0;
}

/* Duplicate targets: same host, port and (effective) SNI. Sorted by key,
 * then by index, so the report names the earliest pair. */
static int cmp_target(const void *a, const void *b, void *arg)
{
	const struct config_target *ts = arg;
	const struct config_target *x = &ts[*(const size_t *)a];
	const struct config_target *y = &ts[*(const size_t *)b];
	int r = strcmp(x->host, y->host);
	if (r)
		return r;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	r = strcmp(x->sni ? x->sni : "", y->sni ? y->sni : "");
	if (r)
		return r;
	if ((x->sni == NULL) != (y->sni == NULL))
		return x->sni ? 1 : -1;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	return i < j ? -1 : i > j;
}

static int same_target(const struct config_target *x, const struct config_target *y)
{
	return strcmp(x->host, y->host) == 0 && x->port == y->port &&
	       (x->sni == NULL) == (y->sni == NULL) &&
	       (!x->sni || strcmp(x->sni, y->sni) == 0);
}

static int check_duplicates(struct yc *yc, struct probe_config *cfg)
{
	size_t n = cfg->ntargets;
	size_t *ix = malloc(n * sizeof *ix);
	if (!ix)
		return yamlcfg_oom(yc);
	for (size_t i = 0; i < n; i++)
		ix[i] = i;
	qsort_r(ix, n, sizeof *ix, cmp_target, cfg->targets);
	size_t best_first = 0, best_second = SIZE_MAX;
	for (size_t k = 1; k < n; k++) {
		if (same_target(&cfg->targets[ix[k - 1]], &cfg->targets[ix[k]]) &&
		    (k < 2 || !same_target(&cfg->targets[ix[k - 2]], &cfg->targets[ix[k]])) &&
		    ix[k] < best_second) {
			best_first = ix[k - 1];
			best_second = ix[k];
		}
	}
	free(ix);
	if (best_second == SIZE_MAX)
		return 0;
	const struct config_target *a = &cfg->targets[best_first], *b = &cfg->targets[best_second];
	char ctx[64];
	snprintf(ctx, sizeof ctx, "targets[%zu]", best_second);
	return yamlcfg_errat(yc, b->pos.line - 1, b->pos.column - 1, ctx,
		        "duplicate target %.128s:%u sni %.128s: same host, port and sni as "
		        "targets[%zu] at line %u, column %u",
		        b->host, b->port, b->sni ? b->sni : "(none)", best_first, a->pos.line,
		        a->pos.column);
}

static int parse_targets(struct yc *yc, yaml_node_t *root, struct probe_config *cfg)
{
	yaml_node_t *s = yamlcfg_need(yc, root, "targets", "");
	if (!s || yamlcfg_want_sequence(yc, s, "targets") < 0)
		return -1;
	size_t n = (size_t)(s->data.sequence.items.top - s->data.sequence.items.start);
	if (n == 0)
		return YC_ERRN(yc, s, "targets", "expected at least one target");
	cfg->targets = calloc(n, sizeof *cfg->targets);
	if (!cfg->targets)
		return yamlcfg_oom(yc);
	for (size_t i = 0; i < n; i++) {
		cfg->ntargets = i + 1;
		yaml_node_t *m = yamlcfg_node(yc, s->data.sequence.items.start[i]);
		if (parse_target(yc, m, i, cfg, &cfg->targets[i]) < 0)
			return -1;
	}
	return check_duplicates(yc, cfg);
}

static int parse_root(struct yc *yc, yaml_node_t *root, struct probe_config *cfg)
{
	if (root->type != YAML_MAPPING_NODE) {
		char list[256];
		yamlcfg_join_keys(TOP_KEYS, list, sizeof list);
		return YC_ERRN(yc, root, "", "expected a mapping at the top level (keys: %s), "
			       "got %s", list, yamlcfg_kind_name(root));
	}
	if (yamlcfg_check_keys(yc, root, "", TOP_KEYS) < 0)
		return -1;
	if (parse_probe(yc, root, cfg) < 0 || parse_collector(yc, root, cfg) < 0 ||
	    parse_spool(yc, root, cfg) < 0)
		return -1;
	cfg->concurrency = 1000;
	yaml_node_t *v = yamlcfg_get(yc, root, "concurrency", NULL);
	if (v && yamlcfg_uint(yc, v, "concurrency", 1, MAX_CONCURRENCY, &cfg->concurrency) < 0)
		return -1;
	if (parse_log(yc, root, cfg) < 0 || parse_defaults(yc, root, cfg) < 0)
		return -1;
	return parse_targets(yc, root, cfg);
}

struct probe_config *config_load(const char *path, char *err, size_t errlen)
{
	struct yc yc;
	struct probe_config *cfg = NULL;
	bool ok = false;
	yaml_node_t *root;
	if (yamlcfg_open(&yc, path, CONFIG_MAX_FILE, TOP_KEYS, 0, err, errlen, &root) < 0)
		goto out;
	cfg = calloc(1, sizeof *cfg);
	if (!cfg || !(cfg->path = strdup(path))) {
		yamlcfg_oom(&yc);
		goto out;
	}
	if (parse_root(&yc, root, cfg) < 0)
		goto out;
	ok = true;
out:
	yamlcfg_close(&yc);
	if (!ok) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

/* ---- files ---- */

static int file_err(const struct probe_config *cfg, struct config_pos pos, const char *ctx,
		    char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "%s:%u:%u: %s: %s", cfg->path, pos.line, pos.column, ctx, why);
	return -1;
}

/* Opens the file (what the daemon will do) rather than asking access():
 * a directory or a file the daemon's user cannot read fails here too. */
static int check_readable(const struct probe_config *cfg, const char *file,
			  struct config_pos pos, const char *ctx, char *err, size_t errlen)
{
	char why[512];
	FILE *f = fopen(file, "r");
	if (f) {
		/* a directory opens but cannot be read */
		int c = fgetc(f);
		bool bad = c == EOF && ferror(f);
		int e = errno;
		fclose(f);
		if (!bad)
			return 0;
		errno = e;
	}
	snprintf(why, sizeof why, "cannot read %s: %s", file, strerror(errno));
	return file_err(cfg, pos, ctx, err, errlen, why);
}

static int check_key(const struct probe_config *cfg, const char *file, struct config_pos pos,
		     const char *ctx, char *err, size_t errlen)
{
	char why[512];
	if (check_readable(cfg, file, pos, ctx, err, errlen) < 0)
		return -1;
	if (tlsutil_check_key_file(file, why, sizeof why) != 0)
		return file_err(cfg, pos, ctx, err, errlen, why);
	return 0;
}

int config_check_files(const struct probe_config *cfg, char *err, size_t errlen)
{
	char ctx[64];

	if (check_readable(cfg, cfg->ca_file, cfg->ca_pos, "collector.ca_file", err, errlen) < 0 ||
	    check_readable(cfg, cfg->cert_file, cfg->cert_pos, "collector.cert_file", err, errlen) < 0 ||
	    check_key(cfg, cfg->key_file, cfg->key_pos, "collector.key_file", err, errlen) < 0)
		return -1;
	if (cfg->defaults.ca_file && check_readable(cfg, cfg->defaults.ca_file,
						    cfg->defaults.ca_file_pos, "defaults.ca_file",
						    err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < cfg->ntargets; i++) {
		const struct config_target *t = &cfg->targets[i];
		if (t->client_cert) {
			snprintf(ctx, sizeof ctx, "targets[%zu].client_cert", i);
			if (check_readable(cfg, t->client_cert, t->client_cert_pos, ctx, err, errlen) < 0)
				return -1;
			snprintf(ctx, sizeof ctx, "targets[%zu].client_key", i);
			if (check_key(cfg, t->client_key, t->client_key_pos, ctx, err, errlen) < 0)
				return -1;
		}
		/* an inherited ca_file was checked above, at its own position */
		if (t->ca_file && !(cfg->defaults.ca_file && t->ca_file_pos.line ==
				    cfg->defaults.ca_file_pos.line &&
				    t->ca_file_pos.column == cfg->defaults.ca_file_pos.column)) {
			snprintf(ctx, sizeof ctx, "targets[%zu].ca_file", i);
			if (check_readable(cfg, t->ca_file, t->ca_file_pos, ctx, err, errlen) < 0)
				return -1;
		}
	}
	return 0;
}

static void free_profiles(char **p, struct config_pos *pos, size_t n)
{
	for (size_t i = 0; p && i < n; i++)
		free(p[i]);
	free(p);
	free(pos);
}

void config_free(struct probe_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->ntargets; i++) {
		struct config_target *t = &cfg->targets[i];
		free(t->host);
		free(t->sni);
		free(t->connect_host);
		free(t->service);
		for (size_t j = 0; j < t->nlabels; j++) {
			free(t->labels[j].key);
			free(t->labels[j].value);
		}
		free(t->labels);
		free_profiles(t->profiles, t->profile_pos, t->nprofiles);
		free(t->client_cert);
		free(t->client_key);
		free(t->ca_file);
	}
	free(cfg->targets);
	free_profiles(cfg->defaults.profiles, cfg->defaults.profile_pos, cfg->defaults.nprofiles);
	free(cfg->defaults.ca_file);
	free(cfg->path);
	free(cfg->probe_id);
	free(cfg->region);
	free(cfg->collector_address);
	free(cfg->collector_host);
	free(cfg->ca_file);
	free(cfg->cert_file);
	free(cfg->key_file);
	free(cfg->spool_path);
	free(cfg);
}
