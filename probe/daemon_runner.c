/*
 * daemon_runner.c - the target runner: a due schedule entry becomes a
 * handshake (struct drun, freed in its done callback, which hs_conn
 * delivers from its own event so hs_free there is allowed); a finished one
 * becomes a Result: classify -> result_fill -> identity, seq, service,
 * labels, interval, mtls -> pack -> spool_append -> uplink_kick.
 *
 * `addresses: all`: the entry first becomes a fan run that looks up the A
 * and AAAA records on the loop (check_addrs.h, the lookup `check
 * --all-addresses` uses), then one child handshake per address, each
 * connecting there with the target's SNI, so each result carries its
 * address. A name that does not resolve gets one handshake on the name,
 * which reports the DNS failure as any target does.
 */
#include "daemon.h"
#include "daemon_int.h"
#include "check_addrs.h"
#include "handshake.h"
#include "log.h"
#include "result.h"
#include "spool.h"
#include "uplink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- results ---- */

static bool err_log_due(struct daemon *d)
{
	double now = twtime_mono_ms();
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

static void fan_release(struct daemon *d, struct drun *fan);

void daemon_runner_end(struct daemon *d, struct drun *run)
{
	struct dgen *g = run->de->gen;
	struct drun *fan = run->parent;
	run_unlink(d, run);
	if (run->se)
		sched_done(d->sched, run->se);
	g->inflight--;
	daemon_gen_release(d, g);
	free(run);
	if (fan)
		fan_release(d, fan);
}

/* A fan is done when its lookup has answered and its last child is. */
static void fan_release(struct daemon *d, struct drun *fan)
{
	if (--fan->pending == 0 && !fan->dnsreq && !fan->resolving)
		daemon_runner_end(d, fan);
}

/* hs_done_cb: classify and write, as check.c does, then free. */
static void run_done(struct hs_conn *c, void *arg)
{
	struct drun *run = arg;
	struct daemon *d = run->d;
	struct dentry *de = run->de;
	struct classification cl;
	struct classify_opts co = { .expiry_warn_days = de->t->expiry_warn_days,
				    .expiry_warn_fraction = de->t->expiry_warn_fraction,
				    .ocsp_slow_ms = OCSP_SLOW_MS, .now = time(NULL) };
	Tlswatch__Result r;

	classify_result(handshake_facts(c), handshake_request(c), handshake_sni_sent(c), &co, &cl);
	if (result_fill(&r, c, &cl) != 0) {
		d->result_errors++;
		if (err_log_due(d))
			log_error("result for %s:%u profile \"%s\" not written: out of memory",
				  de->t->host, de->t->port, de->p->name);
	} else if (write_result(d, de, &r) == 0) {
		d->by_outcome[cl.outcome]++;
		log_debug("result seq=%llu target=%s:%u address=%s profile=\"%s\" outcome=%s total_ms=%.1f",
			  (unsigned long long)r.seq, de->t->host, de->t->port,
			  r.address ? r.address : "", de->p->name,
			  classify_outcome_name(cl.outcome), r.has_total_ms ? r.total_ms : -1.0);
	}
	/* detach what write_result borrowed; result_clear frees the rest */
	r.probe_id = r.region = r.service = NULL;
	r.labels = NULL;
	r.n_labels = 0;
	result_clear(&r);
	handshake_free(c);
	run->conn = NULL;
	daemon_runner_end(d, run);
	if (d->state == D_RUNNING)
		daemon_runner_pump(d);
	else if (d->state == D_DRAINING)
		daemon_drain_check(d);
}

/* A run in the in-flight list, counted in its generation. */
static struct drun *run_new(struct daemon *d, struct dentry *de, struct sched_entry *se,
			    struct drun *parent)
{
	struct drun *run = calloc(1, sizeof *run);
	if (!run)
		return NULL;
	run->d = d;
	run->de = de;
	run->se = se;
	run->parent = parent;
	run->next = d->runs;
	if (d->runs)
		d->runs->prev = run;
	d->runs = run;
	d->nruns++;
	de->gen->inflight++;
	if (parent)
		parent->pending++;
	return run;
}

static void start_failed(struct daemon *d, const struct dentry *de)
{
	d->start_failures++;
	if (err_log_due(d))
		log_error("cannot start a handshake with %s:%u profile \"%s\": out of memory",
			  de->t->host, de->t->port, de->p->name);
}

/* The handshake of a run; address: connect there (a fan's child), else to
 * connect_to or the name. 0, or -1 (the caller ends the run). */
static int run_handshake(struct drun *run, const char *address)
{
	const struct config_target *t = run->de->t;
	struct hs_request req = {
		.host = t->host,
		.port = (uint16_t)t->port,
		.connect_to = address ? address : t->connect_host,
		.connect_port = (uint16_t)t->connect_port,  /* 0: port */
		.sni = t->sni,
		.no_sni = t->no_sni,
		.starttls = t->starttls,
		.revocation = (enum revocation_mode)t->revocation,  /* the same bits */
		.timeout_ms = t->timeout_ms,
		.mtls_wait_ms = MTLS_WAIT_MS,
		.resume = t->resume,
		.tc = run->de->tc,
	};
	run->conn = handshake_start(run->d->base, run->d->dns, &req, run_done, run);
	return run->conn ? 0 : -1;
}

/* One child of fan connecting to address (NULL: the name). */
static void fan_child(struct drun *fan, const char *address)
{
	struct daemon *d = fan->d;
	struct drun *run = run_new(d, fan->de, NULL, fan);
	if (!run) {
		start_failed(d, fan->de);
		return;
	}
	if (run_handshake(run, address) != 0) {
		start_failed(d, fan->de);
		daemon_runner_end(d, run);
	}
}

/* evdns_getaddrinfo_cb of a fan. */
static void fan_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
	if (result == EVUTIL_EAI_CANCEL) {
		/* abandoned at stop: the fan is gone already */
		if (res)
			evutil_freeaddrinfo(res);
		return;
	}
	struct drun *fan = arg;
	struct daemon *d = fan->d;
	char addrs[CHECK_ADDRS_MAX][INET6_ADDRSTRLEN];
	size_t n = 0;
	fan->dnsreq = NULL;
	fan->resolving = false;
	if (result == 0 && res)
		check_addrs_collect(res, addrs, CHECK_ADDRS_MAX, &n);
	if (res)
		evutil_freeaddrinfo(res);
	fan->pending++;  /* held while its children start */
	if (d->state == D_RUNNING) {
		if (n == 0)
			fan_child(fan, NULL);
		for (size_t i = 0; i < n; i++)
			fan_child(fan, addrs[i]);
	}
	fan_release(d, fan);
	if (d->state == D_DRAINING)
		daemon_drain_check(d);
}

void daemon_runner_start(struct sched_entry *se, void *arg)
{
	struct daemon *d = arg;
	struct dentry *de = se->udata;
	const struct config_target *t = de->t;
	struct drun *run = run_new(d, de, se, NULL);
	if (!run) {
		start_failed(d, de);
		sched_done(d->sched, se);
		return;
	}
	if (!t->all_addresses) {
		if (run_handshake(run, NULL) != 0) {
			start_failed(d, de);
			daemon_runner_end(d, run);
		}
		return;
	}
	run->fan = true;
	run->resolving = true;
	run->pending = 1;  /* held: the answer may come before the lookup returns */
	struct evdns_getaddrinfo_request *q =
		check_addrs_lookup(d->dns, t->connect_host ? t->connect_host : t->host,
				   fan_resolved, run);
	if (run->resolving && q)
		run->dnsreq = q;
	else if (run->resolving)
		/* not started and no answer: the handshake on the name reports why */
		fan_resolved(EVUTIL_EAI_FAIL, NULL, run);
	fan_release(d, run);
}

void daemon_runner_pump(struct daemon *d)
{
	sched_pop_due(d->sched, daemon_mono_now(), daemon_runner_start, d);
	struct sched_stats ss;
	sched_get_stats(d->sched, &ss);
	uplink_set_overdue(d->uplink, ss.overdue);
	int64_t wait = sched_next_due(d->sched, daemon_mono_now());
	if (wait < 0)
		event_del(d->ev_tick);
	else
		daemon_arm_ms(d->ev_tick, wait);
}

void daemon_runner_on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	if (d->state == D_RUNNING)
		daemon_runner_pump(d);
}


void daemon_runner_abandon_all(struct daemon *d)
{
	if (!d->runs)
		return;
	size_t n = 0, shown = 0, lookups = 0;
	char list[1024] = "";
	size_t off = 0;
	while (d->runs) {
		/* a fan with children goes with its last child */
		struct drun *run = d->runs;
		while (run && run->fan && run->pending > 0)
			run = run->next;
		if (!run) {
			log_error("stop: %zu runs left that wait for each other", d->nruns);
			break;
		}
		if (run->fan) {
			if (run->dnsreq) {
				evdns_getaddrinfo_cancel(run->dnsreq);
				lookups++;
			}
			run->dnsreq = NULL;
			run->resolving = false;
			daemon_runner_end(d, run);
			continue;
		}
		if (shown < 8 && off < sizeof list) {
			int w = snprintf(list + off, sizeof list - off, "%s%s:%u/%s", shown ? ", " : "",
					 run->de->t->host, run->de->t->port, run->de->p->name);
			if (w > 0)
				off += (size_t)w;
			shown++;
		}
		handshake_free(run->conn);
		run->conn = NULL;
		d->abandoned++;
		n++;
		daemon_runner_end(d, run);
	}
	if (n)
		log_warn("stop: abandoned %zu in-flight handshakes (not written): %s%s", n, list,
			 n > shown ? ", ..." : "");
	if (lookups)
		log_warn("stop: abandoned %zu address lookups of addresses: all targets", lookups);
}
