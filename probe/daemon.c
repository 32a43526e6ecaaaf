/*
 * daemon.c - the scheduling daemon's loop; see daemon.h for the model and
 * daemon_int.h for its objects and files.
 *
 * States of the daemon (d->state, changed only by daemon_set_state())):
 *   RUNNING   scheduling and writing results
 *   DRAINING  stop requested: nothing new starts; in-flight handshakes
 *             finish (and are written) until the drain deadline
 *   GRACE     everything finished or abandoned; the uplink gets a short
 *             grace to have the spool acked
 *   STOPPED   the loop is told to exit; daemon_run syncs and closes
 */
#include "daemon.h"
#include "daemon_int.h"
#include "bio.h"
#include "log.h"
#include "sdnotify.h"
#include "handshake.h"
#include "spool.h"
#include "uplink.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#ifndef TLSWATCH_VERSION
#define TLSWATCH_VERSION "0.1.0"    /* keep in step with probe/main.c */
#endif

const char *daemon_state_name(enum daemon_state s)
{
	switch (s) {
	case D_RUNNING: return "running";
	case D_DRAINING: return "draining";
	case D_GRACE: return "grace";
	case D_STOPPED: return "stopped";
	}
	return "?";
}

void daemon_set_state(struct daemon *d, enum daemon_state s)
{
	log_debug("daemon: %s -> %s", daemon_state_name(d->state), daemon_state_name(s));
	d->state = s;
}


/* ---- periodic ---- */

static void on_sync(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	char err[512];
	/* queued on the worker; its failures are logged by the spool */
	if (spool_sync_start(d->spool, err, sizeof err) != 0)
		log_error("spool: %s", err);
}

static void on_summary(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	daemon_stats_log(d, "summary");
	daemon_stats_write(d);
}


/* ---- stop ---- */

static void stop_now(struct daemon *d)
{
	daemon_set_state(d, D_STOPPED);
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
	daemon_arm_ms(d->ev_grace_poll, GRACE_POLL_MS);
}

static void enter_grace(struct daemon *d)
{
	daemon_set_state(d, D_GRACE);
	event_del(d->ev_drain_end);
	if (uplink_drained(d->uplink)) {
		stop_now(d);
		return;
	}
	struct spool_stats sp;
	spool_get_stats(d->spool, &sp);
	log_info("stop: waiting up to %d ms for the collector to ack %llu spooled records",
		 GRACE_MS, (unsigned long long)sp.records);
	daemon_arm_ms(d->ev_grace_end, GRACE_MS);
	daemon_arm_ms(d->ev_grace_poll, GRACE_POLL_MS);
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
	daemon_runner_abandon_all(d);
	enter_grace(d);
}

void daemon_drain_check(struct daemon *d)
{
	if (d->nruns == 0)
		enter_grace(d);
}

/* systemd (Type=notify) is told; a failure to tell it is logged, never fatal. */
static void tell_systemd(int r, const char *what)
{
	if (r < 0)
		log_warn("systemd notify (%s): %s", what, strerror(errno));
}

static void begin_stop(struct daemon *d, const char *why)
{
	if (d->state == D_RUNNING) {
		tell_systemd(sdnotify_stopping(), "STOPPING");
		unsigned deadline = d->gen->max_timeout_ms;
		if (deadline > DRAIN_MAX_MS)
			deadline = DRAIN_MAX_MS;
		daemon_set_state(d, D_DRAINING);
		event_del(d->ev_tick);
		if (d->nruns == 0) {
			log_info("stop (%s): scheduling stopped; no handshakes in flight", why);
			enter_grace(d);
			return;
		}
		log_info("stop (%s): scheduling stopped; %zu handshakes in flight get up to %u ms",
			 why, d->nruns, deadline);
		daemon_arm_ms(d->ev_drain_end, deadline);
		return;
	}
	/* a second signal: stop waiting */
	log_info("stop (%s again): not waiting any longer", why);
	if (d->state == D_DRAINING)
		daemon_runner_abandon_all(d);
	if (d->state != D_STOPPED)
		stop_now(d);
}


static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	switch (sig) {
	case SIGHUP:
		if (d->state == D_RUNNING) {
			log_info("SIGHUP: reloading %s", d->o->config_path);
			tell_systemd(sdnotify_reloading(), "RELOADING");
			daemon_gen_reload(d);
			tell_systemd(sdnotify_ready(NULL), "READY");
		}
		break;
	case SIGUSR1:
		daemon_stats_write(d);
		daemon_stats_log(d, "SIGUSR1");
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
	daemon_runner_abandon_all(d);
	uplink_free(d->uplink);
	if (d->spool) {
		char err[512];
		if (spool_sync(d->spool, err, sizeof err) != 0)
			log_error("spool: final fsync failed: %s", err);
		spool_close(d->spool);
	}
	bio_free(d->bio);       /* after its users: it finishes their jobs */
	sdnotify_watchdog_free(d->watchdog);
	free(d->stats_next);
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
		daemon_gen_free(g);
	}
	daemon_gen_free(d->gen);
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
	d->started_mono = twtime_mono_ms();
	d->gen = daemon_gen_build(o->config_path, o->testssl_db, err, sizeof err);
	if (!d->gen) {
		fprintf(stderr, "tlswatch-probe run: %s\n", err);
		goto out;
	}
	d->gen->id = ++d->next_gen_id;
	const struct probe_config *c = d->gen->cfg;
	daemon_gen_apply_log(d, c);
	rc = DAEMON_EXIT_RUNTIME;
	if (copy_settings(d, c) != 0) {
		log_error("out of memory");
		goto out;
	}
	raise_nofile(c->concurrency);

	d->base = base_new();
	if (o->nameserver && d->base) {
		/* as check --nameserver: only that server (tests: a fixed zone) */
		d->dns = evdns_base_new(d->base, 0);
		if (d->dns && evdns_base_nameserver_ip_add(d->dns, o->nameserver) != 0) {
			log_error("bad --nameserver \"%s\": IP[:PORT] expected", o->nameserver);
			rc = DAEMON_EXIT_CONFIG;
			goto out;
		}
	} else if (d->base)
		d->dns = evdns_base_new(d->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (!d->dns && d->base && !o->nameserver) {
		/* no resolv.conf: /etc/hosts and literals still work */
		d->dns = evdns_base_new(d->base, 0);
		if (d->dns)
			evdns_base_load_hosts(d->dns, NULL);
	}
	d->sched = sched_new(c->concurrency, twtime_wall_ms() - daemon_mono_now());
	if (!d->base || !d->dns || !d->sched) {
		log_error("cannot initialise the event loop, resolver or scheduler");
		goto out;
	}
	d->bio = bio_new(d->base, err, sizeof err);
	if (!d->bio) {
		log_error("%s", err);
		goto out;
	}

	struct spool_opts so = { .dir = c->spool_path, .max_bytes = c->spool_max_bytes,
				 .bio = d->bio };
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

	struct sched_spec *specs = daemon_gen_specs(d->gen);
	struct sched_reload_stats rs;
	if (!specs || sched_reload(d->sched, specs, d->gen->nentries, daemon_mono_now(), &rs) != 0) {
		free(specs);
		log_error("cannot build the schedule: %s", errno == EEXIST ? "an entry is listed twice"
			  : "out of memory");
		goto out;
	}
	free(specs);

	d->ev_tick = evtimer_new(d->base, daemon_runner_on_tick, d);
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
	daemon_arm_ms(d->ev_sync, d->fsync_ms);
	daemon_arm_ms(d->ev_summary, o->summary_ms ? o->summary_ms : 60000);

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
	daemon_stats_write(d);
	daemon_runner_pump(d);

	/* systemd: ready once scheduling; watchdog pings come from the loop */
	const char *werr = NULL;
	if (!(d->watchdog = sdnotify_watchdog_start(d->base, &werr)) && werr)
		log_warn("systemd watchdog: %s", werr);
	tell_systemd(sdnotify_ready("probing"), "READY");

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
	daemon_stats_log(d, "stopped");
	log_info("stopped: %llu results written by this run (seq %llu..%llu), %llu abandoned; "
		 "%llu records remain spooled (acked_seq %llu)", (unsigned long long)d->produced,
		 (unsigned long long)d->first_seq, (unsigned long long)(d->produced ? sp.last_seq : 0),
		 (unsigned long long)d->abandoned, (unsigned long long)sp.records,
		 (unsigned long long)sp.acked_seq);
	daemon_stats_write(d);
out:
	daemon_free(d);
	return rc;
}

