/*
 * daemon_gen.c - configuration generations (daemon.h): a loaded
 * probe.yaml, its profiles, the TLS contexts its entries share and the
 * proto Labels of its targets; built completely before a reload swaps it
 * in, and freed once the last handshake started from it is done.
 */
#include "daemon.h"
#include "daemon_int.h"
#include "log.h"
#include "profile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

void daemon_gen_free(struct dgen *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->nctxs; i++) {
		tlsctx_free(g->ctxs[i].tc);
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
static struct tlsctx *gen_ctx(struct dgen *g, size_t *tab, size_t cap,
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
	struct tlsctx_opts to = { t->ca_file, t->client_cert, t->client_key, NULL };
	struct tlsctx *tc = tlsctx_new(p, &to, why, sizeof why);
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
struct dgen *daemon_gen_build(const char *path, const char *db, char *err, size_t errlen)
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
	daemon_gen_free(g);
	return NULL;
}

/* The scheduler's view of a generation. Caller frees the array. */
struct sched_spec *daemon_gen_specs(const struct dgen *g)
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
void daemon_gen_release(struct daemon *d, struct dgen *g)
{
	if (g == d->gen || g->inflight > 0)
		return;
	for (struct dgen **pp = &d->retired; *pp; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			log_debug("daemon: configuration generation %u released", g->id);
			daemon_gen_free(g);
			return;
		}
	}
}


/* ---- reload ---- */

static bool str_changed(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") != 0;
}

void daemon_gen_apply_log(const struct daemon *d, const struct probe_config *cfg)
{
	int level = d->o->log_level >= 0 ? d->o->log_level
		    : cfg->log_level >= 0 ? cfg->log_level : TWLOG_INFO;
	bool json = d->o->log_json >= 0 ? d->o->log_json != 0 : cfg->log_json;
	log_init("tlswatch-probe", (enum log_level)level, json);
}

void daemon_gen_reload(struct daemon *d)
{
	char err[1024];
	struct dgen *g = daemon_gen_build(d->o->config_path, d->o->testssl_db, err, sizeof err);
	if (!g) {
		d->reload_failures++;
		log_error("reload failed: %s; keeping the previous configuration", err);
		return;
	}
	struct sched_spec *specs = daemon_gen_specs(g);
	struct sched_reload_stats rs;
	if (!specs || sched_reload(d->sched, specs, g->nentries, daemon_mono_now(), &rs) != 0) {
		d->reload_failures++;
		log_error("reload failed: %s: %s; keeping the previous configuration",
			  d->o->config_path, errno == EEXIST ? "an entry is listed twice"
			  : "out of memory");
		free(specs);
		daemon_gen_free(g);
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
	daemon_gen_apply_log(d, c);
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
	daemon_gen_release(d, old);
	d->reloads++;
	log_info("reloaded: %zu entries (+%zu -%zu, %zu kept, %zu retimed, %zu removed while in "
		 "flight); %zu TLS contexts; concurrency %u", g->nentries, rs.added, rs.removed,
		 rs.kept, rs.retimed, rs.removed_running, g->nctxs, c->concurrency);
	daemon_runner_pump(d);
}

