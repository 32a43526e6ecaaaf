/*
 * daemon.c - the scheduling daemon; see daemon.h for the model.
 *
 * Objects and who owns them:
 *   struct daemon   the loop, resolver, scheduler, spool, uplink, signal and
 *                   timer events, counters; one per process.
 *   struct dgen     one configuration generation: the probe_config, its
 *                   profile list, shared TLS contexts, schedule entries
 *                   (struct dentry, the scheduler's udata) and the proto
 *                   Labels of each target. Current, or retired and kept
 *                   until `inflight` reaches 0.
 *   struct drun     one handshake in flight: its generation's entry, the
 *                   scheduler entry, the hs_conn. Freed in run_done() (the
 *                   done callback, delivered from its own event, so hs_free
 *                   there is allowed) or when abandoned at shutdown.
 *
 * States of the daemon (d->state, changed only by set_state()):
 *   RUNNING   scheduling and writing results
 *   DRAINING  stop requested: nothing new starts; in-flight handshakes
 *             finish (and are written) until the drain deadline
 *   GRACE     everything finished or abandoned; the uplink gets a short
 *             grace to have the spool acked
 *   STOPPED   the loop is told to exit; daemon_run syncs and closes
 */
#include "daemon.h"
#include "classify.h"
#include "handshake.h"
#include "log.h"
#include "result.h"
#include "sched.h"
#include "spool.h"
#include "tls_ctx.h"
#include "twtime.h"
#include "uplink.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/dns.h>
#include <jansson.h>

#ifndef TLSWATCH_VERSION
#define TLSWATCH_VERSION "0.1.0"    /* keep in step with probe/main.c */
#endif

#define DRAIN_MAX_MS      10000     /* in-flight handshakes get at most this at stop */
#define GRACE_MS          5000      /* the uplink gets this to have the spool acked */
#define GRACE_POLL_MS     50
#define MTLS_WAIT_MS      500       /* as `check`'s default */
#define OCSP_SLOW_MS      1000      /* as `check`'s default */
#define ERR_LOG_EVERY_MS  10000     /* rate limit of repeated per-result errors */

/* ---- types ---- */

struct dgen;

struct dentry {
	struct dgen *gen;
	const struct config_target *t;
	size_t tidx;
	const struct profile *p;
	struct tls_profile_ctx *tc;
};

struct dctx {
	char *key;                  /* profile NUL cert NUL key NUL ca, for sharing */
	size_t keylen;
	uint64_t hash;
	struct tls_profile_ctx *tc;
};

struct dgen {
	unsigned id;
	struct probe_config *cfg;
	struct profile_list profiles;
	struct dctx *ctxs;
	size_t nctxs;
	struct dentry *entries;
	size_t nentries;
	Tlswatch__Label *labels;    /* all targets' labels, pointing into cfg */
	Tlswatch__Label **labelv;   /* per target: labelv + label_off[t], nlabels */
	size_t *label_off;
	unsigned inflight;          /* runs started from this generation, not done */
	unsigned max_timeout_ms;
	struct dgen *next;          /* retired list */
};

struct drun {
	struct daemon *d;
	struct dentry *de;
	struct sched_entry *se;
	struct hs_conn *conn;
	struct drun *prev, *next;
};

enum daemon_state {
	D_RUNNING,    /* scheduling */
	D_DRAINING,   /* waiting for in-flight handshakes (deadline) */
	D_GRACE,      /* waiting for the collector's acks (deadline) */
	D_STOPPED     /* loop exiting */
};

struct daemon {
	const struct daemon_opts *o;
	enum daemon_state state;
	struct event_base *base;
	struct evdns_base *dns;
	struct sched *sched;
	struct dgen *gen;           /* current */
	struct dgen *retired;       /* older generations with runs in flight */
	unsigned next_gen_id;
	struct spool *spool;
	struct uplink *uplink;

	/* running values of the settings that are not reloaded */
	char *probe_id, *region;
	char *coll_addr, *coll_ca, *coll_cert, *coll_key, *spool_path;
	uint64_t spool_max;
	unsigned batch_records, batch_delay, heartbeat;

	struct event *ev_tick;       /* the scheduler's next due time */
	struct event *ev_sync;       /* spool fsync, every fsync_ms */
	struct event *ev_summary;    /* summary log + stats file */
	struct event *ev_drain_end;  /* DRAINING deadline */
	struct event *ev_grace_poll; /* GRACE: is everything acked? */
	struct event *ev_grace_end;  /* GRACE deadline */
	struct event *ev_sig[4];
	unsigned fsync_ms;

	struct drun *runs;          /* in flight */
	size_t nruns;

	uint8_t *packbuf;
	size_t packcap;

	/* counters (this process) */
	double started_mono;
	uint64_t produced, by_outcome[OUT__COUNT], result_errors, start_failures;
	uint64_t abandoned, reloads, reload_failures, first_seq;
	uint64_t summary_produced;  /* at the previous summary */
	double last_err_log;
	bool sync_failed;
};

static int64_t mono_now(void)
{
	return (int64_t)floor(tw_mono_ms());
}

static const char *state_name(enum daemon_state s)
{
	switch (s) {
	case D_RUNNING: return "running";
	case D_DRAINING: return "draining";
	case D_GRACE: return "grace";
	case D_STOPPED: return "stopped";
	}
	return "?";
}

static void set_state(struct daemon *d, enum daemon_state s)
{
	log_debug("daemon: %s -> %s", state_name(d->state), state_name(s));
	d->state = s;
}

static void arm_ms(struct event *ev, int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000) };
	event_add(ev, &tv);
}

/* ---- profiles ---- */

int daemon_load_profiles(struct profile_list *all, const char *db, char *err, size_t errlen)
{
	if (profile_add_builtins(all) != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (db && access(db, R_OK) == 0 && testssl_db_load(db, all, NULL, err, errlen) < 0)
		return -1;
	return 0;
}

int daemon_check_profiles(const struct probe_config *cfg, const struct profile_list *all,
			  size_t *entries, char *err, size_t errlen)
{
	size_t n = 0;
	for (size_t t = 0; t < cfg->ntargets; t++) {
		const struct config_target *tg = &cfg->targets[t];
		for (size_t k = 0; k < tg->nprofiles; k++) {
			const struct profile *p = profile_find(all, tg->profiles[k]);
			if (!p || !p->emulatable) {
				snprintf(err, errlen, "%s:%u:%u: targets[%zu].profiles: %s \"%s\"%s%s",
					 cfg->path, tg->profile_pos[k].line, tg->profile_pos[k].column, t,
					 p ? "profile cannot be emulated:" : "unknown profile",
					 tg->profiles[k], p ? " - " : " (see `tlswatch-probe profiles`)",
					 p && p->unsupported_reason ? p->unsupported_reason : "");
				return -1;
			}
			for (size_t j = 0; j < k; j++) {
				if (profile_find(all, tg->profiles[j]) == p) {
					snprintf(err, errlen, "%s:%u:%u: targets[%zu].profiles: \"%s\" is the "
						 "same profile as \"%s\" at line %u, column %u", cfg->path,
						 tg->profile_pos[k].line, tg->profile_pos[k].column, t,
						 tg->profiles[k], tg->profiles[j], tg->profile_pos[j].line,
						 tg->profile_pos[j].column);
					return -1;
				}
			}
			n++;
		}
	}
	*entries = n;
	return 0;
}

/* ---- generations ---- */

static void gen_free(struct dgen *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->nctxs; i++) {
		tls_ctx_free(g->ctxs[i].tc);
		free(g->ctxs[i].key);
	}
	free(g->ctxs);
	free(g->entries);
	free(g->labels);
	free(g->labelv);
	free(g->label_off);
	profile_list_free(&g->profiles);
	config_free(g->cfg);
	free(g);
}

static char *ctx_key(const struct profile *p, const struct config_target *t, size_t *len)
{
	const char *parts[4] = { p->name, t->client_cert ? t->client_cert : "",
				 t->client_key ? t->client_key : "", t->ca_file ? t->ca_file : "" };
	size_t n = 0;
	for (int i = 0; i < 4; i++)
		n += strlen(parts[i]) + 1;
	char *k = malloc(n), *o = k;
	if (!k)
		return NULL;
	for (int i = 0; i < 4; i++) {
		size_t l = strlen(parts[i]) + 1;
		memcpy(o, parts[i], l);
		o += l;
	}
	*len = n;
	return k;
}

/* The shared context for (profile, target's cert/key/ca), created on first
 * use. tab is an open-addressing table of indexes+1 into g->ctxs. */
static struct tls_profile_ctx *gen_ctx(struct dgen *g, size_t *tab, size_t cap,
				       const struct profile *p, size_t tidx, char *err,
				       size_t errlen)
{
	const struct config_target *t = &g->cfg->targets[tidx];
	size_t len;
	char *key = ctx_key(p, t, &len);
	if (!key) {
		snprintf(err, errlen, "%s: out of memory", g->cfg->path);
		return NULL;
	}
	uint64_t h = sched_fnv1a64(key, len);
	size_t i = (size_t)h & (cap - 1);
	for (; tab[i]; i = (i + 1) & (cap - 1)) {
		struct dctx *c = &g->ctxs[tab[i] - 1];
		if (c->hash == h && c->keylen == len && memcmp(c->key, key, len) == 0) {
			free(key);
			return c->tc;
		}
	}
	char why[512];
	struct tls_ctx_opts to = { t->ca_file, t->client_cert, t->client_key };
	struct tls_profile_ctx *tc = tls_ctx_new(p, &to, why, sizeof why);
	if (!tc) {
		snprintf(err, errlen, "%s:%u:%u: targets[%zu]: profile \"%s\": %s", g->cfg->path,
			 t->pos.line, t->pos.column, tidx, p->name, why);
		free(key);
		return NULL;
	}
	struct dctx *c = &g->ctxs[g->nctxs];
	c->key = key;
	c->keylen = len;
	c->hash = h;
	c->tc = tc;
	tab[i] = ++g->nctxs;
	return tc;
}

/* Builds a complete generation from the file, or NULL with err set
 * ("FILE:LINE:COL: ..." for everything the file is to blame for). */
static struct dgen *gen_build(const char *path, const char *db, char *err, size_t errlen)
{
	struct dgen *g = calloc(1, sizeof *g);
	size_t *tab = NULL, n = 0, cap = 64;
	if (!g) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->cfg = config_load(path, err, errlen);
	if (!g->cfg)
		goto fail;
	if (daemon_load_profiles(&g->profiles, db, err, errlen) != 0 ||
	    daemon_check_profiles(g->cfg, &g->profiles, &n, err, errlen) != 0)
		goto fail;
	const struct probe_config *cfg = g->cfg;
	while (cap < 2 * n)
		cap *= 2;
	size_t nlabels = 0;
	for (size_t t = 0; t < cfg->ntargets; t++)
		nlabels += cfg->targets[t].nlabels;
	g->entries = calloc(n ? n : 1, sizeof *g->entries);
	g->ctxs = calloc(n ? n : 1, sizeof *g->ctxs);
	g->labels = calloc(nlabels ? nlabels : 1, sizeof *g->labels);
	g->labelv = calloc(nlabels ? nlabels : 1, sizeof *g->labelv);
	g->label_off = calloc(cfg->ntargets, sizeof *g->label_off);
	tab = calloc(cap, sizeof *tab);
	if (!g->entries || !g->ctxs || !g->labels || !g->labelv || !g->label_off || !tab) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	size_t li = 0;
	for (size_t t = 0; t < cfg->ntargets; t++) {
		const struct config_target *tg = &cfg->targets[t];
		g->label_off[t] = li;
		for (size_t k = 0; k < tg->nlabels; k++, li++) {
			tlswatch__label__init(&g->labels[li]);
			g->labels[li].key = tg->labels[k].key;       /* borrowed from cfg */
			g->labels[li].value = tg->labels[k].value;
			g->labelv[li] = &g->labels[li];
		}
		if (tg->timeout_ms > g->max_timeout_ms)
			g->max_timeout_ms = tg->timeout_ms;
		for (size_t k = 0; k < tg->nprofiles; k++) {
			struct dentry *de = &g->entries[g->nentries];
			de->gen = g;
			de->t = tg;
			de->tidx = t;
			de->p = profile_find(&g->profiles, tg->profiles[k]);
			de->tc = gen_ctx(g, tab, cap, de->p, t, err, errlen);
			if (!de->tc)
				goto fail;
			g->nentries++;
		}
	}
	free(tab);
	return g;
fail:
	free(tab);
	gen_free(g);
	return NULL;
}

/* The scheduler's view of a generation. Caller frees the array. */
static struct sched_spec *gen_specs(const struct dgen *g)
{
	struct sched_spec *sp = calloc(g->nentries ? g->nentries : 1, sizeof *sp);
	if (!sp)
		return NULL;
	for (size_t i = 0; i < g->nentries; i++) {
		struct dentry *de = &g->entries[i];
		sp[i].key.host = de->t->host;
		sp[i].key.port = de->t->port;
		sp[i].key.sni = de->t->sni;
		sp[i].key.profile = de->p->name;    /* canonical: a short name is the same entry */
		sp[i].interval_ms = de->t->interval_ms;
		sp[i].udata = de;
	}
	return sp;
}

/* A retired generation goes once its last run is done. */
static void gen_release(struct daemon *d, struct dgen *g)
{
	if (g == d->gen || g->inflight > 0)
		return;
	for (struct dgen **pp = &d->retired; *pp; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			log_debug("daemon: configuration generation %u released", g->id);
			gen_free(g);
			return;
		}
	}
}

/* ---- stats ---- */

static json_t *stats_json(struct daemon *d)
{
	struct sched_stats ss;
	struct spool_stats sp = { 0 };
	struct uplink_stats us = { 0 };
	char ts[40];
	sched_get_stats(d->sched, &ss);
	if (d->spool)
		spool_get_stats(d->spool, &sp);
	if (d->uplink)
		uplink_get_stats(d->uplink, &us);
	json_t *outcomes = json_object();
	uint64_t failed = 0;
	for (int i = 0; i < OUT__COUNT; i++) {
		json_object_set_new(outcomes, outcome_name((enum outcome)i),
				    json_integer((json_int_t)d->by_outcome[i]));
		if (i != OUT_OK)
			failed += d->by_outcome[i];
	}
	return json_pack("{s:i, s:s, s:I, s:s, s:s, s:s, s:f, s:i, s:I, s:I, s:I,"
			 " s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I,"
			 " s:{s:f, s:f, s:I, s:I}, s:I, s:I, s:I, s:I,"
			 " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I},"
			 " s:{s:b, s:I, s:I, s:I, s:I, s:I, s:I}}",
			 "format", 1,
			 "time", tw_rfc3339_ms(tw_wall_ms(), ts, sizeof ts),
			 "pid", (json_int_t)getpid(),
			 "probe_id", d->probe_id, "region", d->region,
			 "state", state_name(d->state),
			 "uptime_s", (tw_mono_ms() - d->started_mono) / 1000.0,
			 "generation", (int)(d->gen ? d->gen->id : 0),
			 "entries", (json_int_t)ss.entries,
			 "running", (json_int_t)ss.running,
			 "queued", (json_int_t)ss.queued,
			 "started", (json_int_t)ss.started,
			 "produced", (json_int_t)d->produced,
			 "by_outcome", outcomes,
			 "failed", (json_int_t)failed,
			 "result_errors", (json_int_t)(d->result_errors + d->start_failures),
			 "abandoned", (json_int_t)d->abandoned,
			 "overdue", (json_int_t)ss.overdue,
			 "dropped", (json_int_t)sp.dropped,
			 "lateness_ms",
			 "p50", sched_lateness_ms(d->sched, 0.50),
			 "p99", sched_lateness_ms(d->sched, 0.99),
			 "max", (json_int_t)ss.lateness_max_ms,
			 "count", (json_int_t)ss.lateness_count,
			 "first_seq", (json_int_t)d->first_seq,
			 "last_seq", (json_int_t)sp.last_seq,
			 "reloads", (json_int_t)d->reloads,
			 "reload_failures", (json_int_t)d->reload_failures,
			 "spool",
			 "records", (json_int_t)sp.records, "bytes", (json_int_t)sp.bytes,
			 "segments", (json_int_t)sp.segments, "acked_seq", (json_int_t)sp.acked_seq,
			 "last_seq", (json_int_t)sp.last_seq, "dropped", (json_int_t)sp.dropped,
			 "truncated_bytes", (json_int_t)sp.truncated_bytes,
			 "uplink",
			 "connected", us.connected, "connects", (json_int_t)us.connects,
			 "failures", (json_int_t)us.failures, "sent_seq", (json_int_t)us.sent_seq,
			 "acked_seq", (json_int_t)us.acked_seq,
			 "batches_sent", (json_int_t)us.batches_sent,
			 "records_sent", (json_int_t)us.records_sent);
}

/* Writes the stats file atomically: PATH.tmp, fsync, rename. */
static void stats_write(struct daemon *d)
{
	if (!d->o->stats_file)
		return;
	char tmp[4096];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", d->o->stats_file) >= (int)sizeof tmp) {
		log_error("stats: path too long: %s", d->o->stats_file);
		return;
	}
	json_t *j = stats_json(d);
	if (!j) {
		log_error("stats: out of memory");
		return;
	}
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
	json_decref(j);
	if (!text) {
		log_error("stats: out of memory");
		return;
	}
	FILE *f = fopen(tmp, "w");
	bool ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF && fflush(f) == 0 &&
		  fsync(fileno(f)) == 0;
	int saved = errno;
	if (f && fclose(f) != 0 && ok) {
		ok = false;
		saved = errno;
	}
	free(text);
	if (!ok || rename(tmp, d->o->stats_file) != 0) {
		log_error("stats: cannot write %s: %s", d->o->stats_file, strerror(ok ? errno : saved));
		unlink(tmp);
	}
}

static void log_summary(struct daemon *d, const char *what)
{
	struct sched_stats ss;
	struct spool_stats sp = { 0 };
	struct uplink_stats us = { 0 };
	sched_get_stats(d->sched, &ss);
	if (d->spool)
		spool_get_stats(d->spool, &sp);
	if (d->uplink)
		uplink_get_stats(d->uplink, &us);
	uint64_t failed = 0;
	for (int i = 0; i < OUT__COUNT; i++)
		if (i != OUT_OK)
			failed += d->by_outcome[i];
	log_info("%s: handshakes=%llu (+%llu) not_ok=%llu errors=%llu overdue=%llu running=%zu "
		 "queued=%zu lateness_p50_ms=%.0f lateness_p99_ms=%.0f spool_records=%llu "
		 "spool_bytes=%llu dropped=%llu last_seq=%llu uplink=%s acked_seq=%llu", what,
		 (unsigned long long)d->produced,
		 (unsigned long long)(d->produced - d->summary_produced),
		 (unsigned long long)failed,
		 (unsigned long long)(d->result_errors + d->start_failures),
		 (unsigned long long)ss.overdue, ss.running, ss.queued,
		 sched_lateness_ms(d->sched, 0.5), sched_lateness_ms(d->sched, 0.99),
		 (unsigned long long)sp.records, (unsigned long long)sp.bytes,
		 (unsigned long long)sp.dropped, (unsigned long long)sp.last_seq,
		 us.connected ? "connected" : "disconnected", (unsigned long long)us.acked_seq);
	d->summary_produced = d->produced;
}

/* ---- results ---- */

static bool err_log_due(struct daemon *d)
{
	double now = tw_mono_ms();
	if (d->last_err_log != 0 && now - d->last_err_log < ERR_LOG_EVERY_MS)
		return false;
	d->last_err_log = now;
	return true;
}

/* Numbers, packs and spools one result. 0, or -1 (logged, counted). */
static int write_result(struct daemon *d, struct dentry *de, Tlswatch__Result *r)
{
	char err[512];
	uint64_t seq = spool_next_seq(d->spool, err, sizeof err);
	if (seq == 0)
		goto fail;
	/* borrowed for packing; detached again by the caller before result_clear */
	r->probe_id = d->probe_id;
	r->region = d->region;
	r->has_seq = 1;
	r->seq = seq;
	r->service = de->t->service;
	r->n_labels = de->t->nlabels;
	r->labels = de->t->nlabels ? de->gen->labelv + de->gen->label_off[de->tidx] : NULL;
	r->has_interval_ms = 1;
	r->interval_ms = de->t->interval_ms;
	r->has_mtls = 1;
	r->mtls = de->tc->has_client_cert;
	size_t len = tlswatch__result__get_packed_size(r);
	if (len > SPOOL_MAX_RECORD) {
		snprintf(err, sizeof err, "result of %zu bytes exceeds the spool's record limit", len);
		goto fail;
	}
	if (len > d->packcap) {
		size_t cap = d->packcap ? d->packcap : 4096;
		while (cap < len)
			cap *= 2;
		uint8_t *b = realloc(d->packbuf, cap);
		if (!b) {
			snprintf(err, sizeof err, "out of memory");
			goto fail;
		}
		d->packbuf = b;
		d->packcap = cap;
	}
	tlswatch__result__pack(r, d->packbuf);
	if (spool_append(d->spool, seq, d->packbuf, len, err, sizeof err) != 0)
		goto fail;
	if (d->first_seq == 0)
		d->first_seq = seq;
	d->produced++;
	uplink_kick(d->uplink);
	return 0;
fail:
	d->result_errors++;
	if (err_log_due(d))
		log_error("result for %s:%u profile \"%s\" not written: %s (%llu results lost so far)",
			  de->t->host, de->t->port, de->p->name, err,
			  (unsigned long long)d->result_errors);
	return -1;
}

static void pump(struct daemon *d);
static void drain_check(struct daemon *d);

static void run_unlink(struct daemon *d, struct drun *run)
{
	if (run->prev)
		run->prev->next = run->next;
	else
		d->runs = run->next;
	if (run->next)
		run->next->prev = run->prev;
	d->nruns--;
}

/* Finishes the bookkeeping of a run (done or abandoned) and frees it. */
static void run_end(struct daemon *d, struct drun *run)
{
	struct dgen *g = run->de->gen;
	run_unlink(d, run);
	sched_done(d->sched, run->se);
	g->inflight--;
	gen_release(d, g);
	free(run);
}

/* hs_done_cb: classify and write, as check.c does, then free. */
static void run_done(struct hs_conn *c, void *arg)
{
	struct drun *run = arg;
	struct daemon *d = run->d;
	struct dentry *de = run->de;
	struct classification cl;
	struct classify_opts co = { .expiry_warn_days = de->t->expiry_warn_days,
				    .ocsp_slow_ms = OCSP_SLOW_MS, .now = time(NULL) };
	Tlswatch__Result r;

	classify(hs_facts(c), hs_request(c), hs_sni_sent(c), &co, &cl);
	if (result_fill(&r, c, &cl) != 0) {
		d->result_errors++;
		if (err_log_due(d))
			log_error("result for %s:%u profile \"%s\" not written: out of memory",
				  de->t->host, de->t->port, de->p->name);
	} else if (write_result(d, de, &r) == 0) {
		d->by_outcome[cl.outcome]++;
		log_debug("result seq=%llu target=%s:%u profile=\"%s\" outcome=%s total_ms=%.1f",
			  (unsigned long long)r.seq, de->t->host, de->t->port, de->p->name,
			  outcome_name(cl.outcome), r.has_total_ms ? r.total_ms : -1.0);
	}
	/* detach what write_result borrowed; result_clear frees the rest */
	r.probe_id = r.region = r.service = NULL;
	r.labels = NULL;
	r.n_labels = 0;
	result_clear(&r);
	hs_free(c);
	run->conn = NULL;
	run_end(d, run);
	if (d->state == D_RUNNING)
		pump(d);
	else if (d->state == D_DRAINING)
		drain_check(d);
}

/* sched_start_cb: one entry's slot starts now. */
static void run_start(struct sched_entry *se, void *arg)
{
	struct daemon *d = arg;
	struct dentry *de = se->udata;
	const struct config_target *t = de->t;
	struct drun *run = calloc(1, sizeof *run);
	if (!run)
		goto fail;
	run->d = d;
	run->de = de;
	run->se = se;
	struct hs_request req = {
		.host = t->host,
		.port = (uint16_t)t->port,
		.connect_to = t->connect_host,
		.connect_port = (uint16_t)t->connect_port,
		.sni = t->sni,
		.no_sni = t->no_sni,
		.starttls = t->starttls,
		.revocation = t->revocation == CONFIG_REV_OCSP ? REV_OCSP : REV_STAPLE,
		.timeout_ms = t->timeout_ms,
		.mtls_wait_ms = MTLS_WAIT_MS,
		.tc = de->tc,
	};
	run->conn = hs_start(d->base, d->dns, &req, run_done, run);
	if (!run->conn)
		goto fail;
	run->next = d->runs;
	if (d->runs)
		d->runs->prev = run;
	d->runs = run;
	d->nruns++;
	de->gen->inflight++;
	return;
fail:
	free(run);
	d->start_failures++;
	if (err_log_due(d))
		log_error("cannot start a handshake with %s:%u profile \"%s\": out of memory",
			  t->host, t->port, de->p->name);
	sched_done(d->sched, se);
}

/* Starts what is due and re-arms the tick for the next due time. */
static void pump(struct daemon *d)
{
	sched_pop_due(d->sched, mono_now(), run_start, d);
	struct sched_stats ss;
	sched_get_stats(d->sched, &ss);
	uplink_set_overdue(d->uplink, ss.overdue);
	int64_t wait = sched_next_due(d->sched, mono_now());
	if (wait < 0)
		event_del(d->ev_tick);
	else
		arm_ms(d->ev_tick, wait);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	if (d->state == D_RUNNING)
		pump(d);
}

/* ---- periodic ---- */

static void on_sync(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	char err[512];
	if (spool_sync(d->spool, err, sizeof err) != 0) {
		if (!d->sync_failed)
			log_error("spool: fsync failed: %s", err);
		d->sync_failed = true;
	} else if (d->sync_failed) {
		log_info("spool: fsync works again");
		d->sync_failed = false;
	}
}

static void on_summary(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	log_summary(d, "summary");
	stats_write(d);
}

/* ---- stop ---- */

static void stop_now(struct daemon *d)
{
	set_state(d, D_STOPPED);
	event_base_loopexit(d->base, NULL);
}

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	if (uplink_drained(d->uplink)) {
		log_info("stop: the collector acked every spooled record");
		stop_now(d);
		return;
	}
	arm_ms(d->ev_grace_poll, GRACE_POLL_MS);
}

static void enter_grace(struct daemon *d)
{
	set_state(d, D_GRACE);
	event_del(d->ev_drain_end);
	if (uplink_drained(d->uplink)) {
		stop_now(d);
		return;
	}
	struct spool_stats sp;
	spool_get_stats(d->spool, &sp);
	log_info("stop: waiting up to %d ms for the collector to ack %llu spooled records",
		 GRACE_MS, (unsigned long long)sp.records);
	arm_ms(d->ev_grace_end, GRACE_MS);
	arm_ms(d->ev_grace_poll, GRACE_POLL_MS);
}

/* Abandons whatever is still in flight (not written). */
static void abandon_all(struct daemon *d)
{
	if (!d->runs)
		return;
	size_t n = d->nruns, shown = 0;
	char list[1024] = "";
	size_t off = 0;
	while (d->runs) {
		struct drun *run = d->runs;
		if (shown < 8 && off < sizeof list) {
			int w = snprintf(list + off, sizeof list - off, "%s%s:%u/%s", shown ? ", " : "",
					 run->de->t->host, run->de->t->port, run->de->p->name);
			if (w > 0)
				off += (size_t)w;
			shown++;
		}
		hs_free(run->conn);
		run->conn = NULL;
		d->abandoned++;
		run_end(d, run);
	}
	log_warn("stop: abandoned %zu in-flight handshakes (not written): %s%s", n, list,
		 n > shown ? ", ..." : "");
}

static void on_grace_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct spool_stats sp;
	spool_get_stats(d->spool, &sp);
	log_warn("stop: the collector did not ack everything within %d ms; %llu records stay "
		 "spooled for the next start", GRACE_MS, (unsigned long long)sp.records);
	stop_now(d);
}

static void on_drain_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	abandon_all(d);
	enter_grace(d);
}

static void drain_check(struct daemon *d)
{
	if (d->nruns == 0)
		enter_grace(d);
}

static void begin_stop(struct daemon *d, const char *why)
{
	if (d->state == D_RUNNING) {
		unsigned deadline = d->gen->max_timeout_ms;
		if (deadline > DRAIN_MAX_MS)
			deadline = DRAIN_MAX_MS;
		set_state(d, D_DRAINING);
		event_del(d->ev_tick);
		if (d->nruns == 0) {
			log_info("stop (%s): scheduling stopped; no handshakes in flight", why);
			enter_grace(d);
			return;
		}
		log_info("stop (%s): scheduling stopped; %zu handshakes in flight get up to %u ms",
			 why, d->nruns, deadline);
		arm_ms(d->ev_drain_end, deadline);
		return;
	}
	/* a second signal: stop waiting */
	log_info("stop (%s again): not waiting any longer", why);
	if (d->state == D_DRAINING)
		abandon_all(d);
	if (d->state != D_STOPPED)
		stop_now(d);
}

/* ---- reload ---- */

static bool str_changed(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") != 0;
}

static void apply_log(const struct daemon *d, const struct probe_config *cfg)
{
	int level = d->o->log_level >= 0 ? d->o->log_level
		    : cfg->log_level >= 0 ? cfg->log_level : TWLOG_INFO;
	bool json = d->o->log_json >= 0 ? d->o->log_json != 0 : cfg->log_json;
	log_init("tlswatch-probe", (enum log_level)level, json);
}

static void reload(struct daemon *d)
{
	char err[1024];
	struct dgen *g = gen_build(d->o->config_path, d->o->testssl_db, err, sizeof err);
	if (!g) {
		d->reload_failures++;
		log_error("reload failed: %s; keeping the previous configuration", err);
		return;
	}
	struct sched_spec *specs = gen_specs(g);
	struct sched_reload_stats rs;
	if (!specs || sched_reload(d->sched, specs, g->nentries, mono_now(), &rs) != 0) {
		d->reload_failures++;
		log_error("reload failed: %s: %s; keeping the previous configuration",
			  d->o->config_path, errno == EEXIST ? "an entry is listed twice"
			  : "out of memory");
		free(specs);
		gen_free(g);
		return;
	}
	free(specs);
	const struct probe_config *c = g->cfg;
	if (str_changed(c->probe_id, d->probe_id) || str_changed(c->region, d->region) ||
	    str_changed(c->collector_address, d->coll_addr) || str_changed(c->ca_file, d->coll_ca) ||
	    str_changed(c->cert_file, d->coll_cert) || str_changed(c->key_file, d->coll_key) ||
	    c->batch_max_records != d->batch_records || c->batch_max_delay_ms != d->batch_delay ||
	    c->heartbeat_ms != d->heartbeat)
		log_warn("reload: probe identity or collector settings changed; they take effect "
			 "after a restart (still streaming to %s as %s/%s)", d->coll_addr, d->probe_id,
			 d->region);
	if (str_changed(c->spool_path, d->spool_path) || c->spool_max_bytes != d->spool_max)
		log_warn("reload: spool settings changed; they take effect after a restart (still "
			 "using %s)", d->spool_path);
	apply_log(d, c);
	sched_set_concurrency(d->sched, c->concurrency);
	if (c->spool_fsync_ms != d->fsync_ms) {
		d->fsync_ms = c->spool_fsync_ms;
		struct timeval tv = { (time_t)(d->fsync_ms / 1000),
				      (suseconds_t)((d->fsync_ms % 1000) * 1000) };
		event_del(d->ev_sync);
		event_add(d->ev_sync, &tv);
	}
	struct dgen *old = d->gen;
	g->id = ++d->next_gen_id;
	d->gen = g;
	old->next = d->retired;
	d->retired = old;
	gen_release(d, old);
	d->reloads++;
	log_info("reloaded: %zu entries (+%zu -%zu, %zu kept, %zu retimed, %zu removed while in "
		 "flight); %zu TLS contexts; concurrency %u", g->nentries, rs.added, rs.removed,
		 rs.kept, rs.retimed, rs.removed_running, g->nctxs, c->concurrency);
	pump(d);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	switch (sig) {
	case SIGHUP:
		if (d->state == D_RUNNING) {
			log_info("SIGHUP: reloading %s", d->o->config_path);
			reload(d);
		}
		break;
	case SIGUSR1:
		stats_write(d);
		log_summary(d, "SIGUSR1");
		break;
	default:
		begin_stop(d, sig == SIGINT ? "SIGINT" : "SIGTERM");
		break;
	}
}

/* ---- startup ---- */

static int copy_settings(struct daemon *d, const struct probe_config *c)
{
	d->probe_id = strdup(c->probe_id);
	d->region = strdup(c->region);
	d->coll_addr = strdup(c->collector_address);
	d->coll_ca = strdup(c->ca_file);
	d->coll_cert = strdup(c->cert_file);
	d->coll_key = strdup(c->key_file);
	d->spool_path = strdup(c->spool_path);
	d->spool_max = c->spool_max_bytes;
	d->batch_records = c->batch_max_records;
	d->batch_delay = c->batch_max_delay_ms;
	d->heartbeat = c->heartbeat_ms;
	d->fsync_ms = c->spool_fsync_ms;
	return d->probe_id && d->region && d->coll_addr && d->coll_ca && d->coll_cert &&
	       d->coll_key && d->spool_path ? 0 : -1;
}

/* Many handshakes in flight need many descriptors: raise the soft limit. */
static void raise_nofile(unsigned concurrency)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	/* one socket per handshake (two with an OCSP query), plus spool, uplink, dns */
	if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)concurrency * 2 + 64 > rl.rlim_cur)
		log_warn("concurrency %u may exceed the open-file limit %llu; handshakes beyond it "
			 "fail with io_error (raise `ulimit -n` or lower concurrency)", concurrency,
			 (unsigned long long)rl.rlim_cur);
}

static struct event_base *base_new(void)
{
	/* precise timers: the scheduler's due times are in ms */
	struct event_config *ec = event_config_new();
	struct event_base *b = NULL;
	if (ec) {
		event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
		b = event_base_new_with_config(ec);
		event_config_free(ec);
	}
	return b ? b : event_base_new();
}

static void daemon_free(struct daemon *d)
{
	while (d->runs) {
		struct drun *run = d->runs;
		hs_free(run->conn);
		run_end(d, run);
	}
	uplink_free(d->uplink);
	if (d->spool) {
		char err[512];
		if (spool_sync(d->spool, err, sizeof err) != 0)
			log_error("spool: final fsync failed: %s", err);
		spool_close(d->spool);
	}
	struct event *evs[] = { d->ev_tick, d->ev_sync, d->ev_summary, d->ev_drain_end,
				d->ev_grace_poll, d->ev_grace_end, d->ev_sig[0], d->ev_sig[1],
				d->ev_sig[2], d->ev_sig[3] };
	for (size_t i = 0; i < sizeof evs / sizeof evs[0]; i++)
		if (evs[i])
			event_free(evs[i]);
	sched_free(d->sched);
	while (d->retired) {
		struct dgen *g = d->retired;
		d->retired = g->next;
		gen_free(g);
	}
	gen_free(d->gen);
	if (d->dns)
		evdns_base_free(d->dns, 0);
	if (d->base)
		event_base_free(d->base);
	free(d->packbuf);
	free(d->probe_id);
	free(d->region);
	free(d->coll_addr);
	free(d->coll_ca);
	free(d->coll_cert);
	free(d->coll_key);
	free(d->spool_path);
}

int daemon_run(const struct daemon_opts *o)
{
	struct daemon dd = { 0 }, *d = &dd;
	char err[1024];
	int rc = DAEMON_EXIT_CONFIG;

	d->o = o;
	d->started_mono = tw_mono_ms();
	d->gen = gen_build(o->config_path, o->testssl_db, err, sizeof err);
	if (!d->gen) {
		fprintf(stderr, "tlswatch-probe run: %s\n", err);
		goto out;
	}
	d->gen->id = ++d->next_gen_id;
	const struct probe_config *c = d->gen->cfg;
	apply_log(d, c);
	rc = DAEMON_EXIT_RUNTIME;
	if (copy_settings(d, c) != 0) {
		log_error("out of memory");
		goto out;
	}
	raise_nofile(c->concurrency);

	d->base = base_new();
	d->dns = d->base ? evdns_base_new(d->base, EVDNS_BASE_INITIALIZE_NAMESERVERS) : NULL;
	if (!d->dns && d->base) {
		/* no resolv.conf: /etc/hosts and literals still work */
		d->dns = evdns_base_new(d->base, 0);
		if (d->dns)
			evdns_base_load_hosts(d->dns, NULL);
	}
	d->sched = sched_new(c->concurrency, tw_wall_ms() - mono_now());
	if (!d->base || !d->dns || !d->sched) {
		log_error("cannot initialise the event loop, resolver or scheduler");
		goto out;
	}

	struct spool_opts so = { .dir = c->spool_path, .max_bytes = c->spool_max_bytes };
	d->spool = spool_open(&so, err, sizeof err);
	if (!d->spool) {
		log_error("cannot open the spool %s: %s", c->spool_path, err);
		goto out;
	}
	struct uplink_opts uo = {
		.host = c->collector_host, .port = c->collector_port,
		.ca_file = c->ca_file, .cert_file = c->cert_file, .key_file = c->key_file,
		.probe_id = c->probe_id, .region = c->region, .version = TLSWATCH_VERSION,
		.batch_max_records = c->batch_max_records,
		.batch_max_delay_ms = c->batch_max_delay_ms,
		.heartbeat_ms = c->heartbeat_ms,
	};
	d->uplink = uplink_new(d->base, d->dns, d->spool, &uo, err, sizeof err);
	if (!d->uplink) {
		log_error("collector %s: %s", c->collector_address, err);
		rc = DAEMON_EXIT_CONFIG;
		goto out;
	}

	struct sched_spec *specs = gen_specs(d->gen);
	struct sched_reload_stats rs;
	if (!specs || sched_reload(d->sched, specs, d->gen->nentries, mono_now(), &rs) != 0) {
		free(specs);
		log_error("cannot build the schedule: %s", errno == EEXIST ? "an entry is listed twice"
			  : "out of memory");
		goto out;
	}
	free(specs);

	d->ev_tick = evtimer_new(d->base, on_tick, d);
	d->ev_sync = event_new(d->base, -1, EV_PERSIST, on_sync, d);
	d->ev_summary = event_new(d->base, -1, EV_PERSIST, on_summary, d);
	d->ev_drain_end = evtimer_new(d->base, on_drain_deadline, d);
	d->ev_grace_poll = evtimer_new(d->base, on_grace, d);
	d->ev_grace_end = evtimer_new(d->base, on_grace_deadline, d);
	const int sigs[4] = { SIGHUP, SIGTERM, SIGINT, SIGUSR1 };
	bool evs_ok = d->ev_tick && d->ev_sync && d->ev_summary && d->ev_drain_end &&
		      d->ev_grace_poll && d->ev_grace_end;
	for (int i = 0; i < 4; i++) {
		d->ev_sig[i] = evsignal_new(d->base, sigs[i], on_signal, d);
		evs_ok = evs_ok && d->ev_sig[i] && event_add(d->ev_sig[i], NULL) == 0;
	}
	if (!evs_ok) {
		log_error("cannot create events");
		goto out;
	}
	arm_ms(d->ev_sync, d->fsync_ms);
	arm_ms(d->ev_summary, o->summary_ms ? o->summary_ms : 60000);

	struct spool_stats sp;
	spool_get_stats(d->spool, &sp);
	log_info("started: version %s probe %s region %s; %zu entries (%zu targets), %zu TLS "
		 "contexts, concurrency %u; collector %s; spool %s: %llu unacked records recovered "
		 "(%llu bytes, %llu segments), acked_seq %llu, last_seq %llu, %llu torn bytes "
		 "truncated", TLSWATCH_VERSION, d->probe_id, d->region, d->gen->nentries,
		 c->ntargets, d->gen->nctxs, c->concurrency, d->coll_addr, d->spool_path,
		 (unsigned long long)sp.records, (unsigned long long)sp.bytes,
		 (unsigned long long)sp.segments, (unsigned long long)sp.acked_seq,
		 (unsigned long long)sp.last_seq, (unsigned long long)sp.truncated_bytes);
	stats_write(d);
	pump(d);

	if (event_base_dispatch(d->base) < 0) {
		log_error("event loop failed");
		goto out;
	}
	rc = DAEMON_EXIT_OK;
	char err2[512];
	if (spool_sync(d->spool, err2, sizeof err2) != 0) {
		log_error("spool: final fsync failed: %s", err2);
		rc = DAEMON_EXIT_RUNTIME;
	}
	spool_get_stats(d->spool, &sp);
	log_summary(d, "stopped");
	log_info("stopped: %llu results written by this run (seq %llu..%llu), %llu abandoned; "
		 "%llu records remain spooled (acked_seq %llu)", (unsigned long long)d->produced,
		 (unsigned long long)d->first_seq, (unsigned long long)(d->produced ? sp.last_seq : 0),
		 (unsigned long long)d->abandoned, (unsigned long long)sp.records,
		 (unsigned long long)sp.acked_seq);
	stats_write(d);
out:
	daemon_free(d);
	return rc;
}
