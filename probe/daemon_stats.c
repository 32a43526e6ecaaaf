/*
 * daemon_stats.c - what the daemon tells about itself: the JSON stats file
 * (--stats-file, written every summary interval, on SIGUSR1 and at stop)
 * and the summary log line.
 */
#include "daemon.h"
#include "daemon_int.h"
#include "tlsctx_keys.h"
#include "bio.h"
#include "log.h"
#include "spool.h"
#include "uplink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

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
		json_object_set_new(outcomes, classify_outcome_name((enum outcome)i),
				    json_integer((json_int_t)d->by_outcome[i]));
		if (i != OUT_OK)
			failed += d->by_outcome[i];
	}
	json_t *root = json_pack("{s:i, s:s, s:I, s:s, s:s, s:s, s:f, s:i, s:I, s:I, s:I,"
			 " s:I, s:I, s:o, s:I, s:I, s:I, s:I, s:I,"
			 " s:{s:f, s:f, s:I, s:I}, s:I, s:I, s:I, s:I,"
			 " s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I},"
			 " s:{s:b, s:I, s:I, s:I, s:I, s:I, s:I}}",
			 "format", 1,
			 "time", twtime_rfc3339_ms(twtime_wall_ms(), ts, sizeof ts),
			 "pid", (json_int_t)getpid(),
			 "probe_id", d->probe_id, "region", d->region,
			 "state", daemon_state_name(d->state),
			 "uptime_s", (twtime_mono_ms() - d->started_mono) / 1000.0,
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
	/* certificates' keys decoded by OpenSSL's built-in methods (tlsctx_keys.h) */
	if (root)
		json_object_set_new(root, "tls_builtin_keys", json_boolean(tlsctx_keys_active()));
	if (root && d->bio) {
		struct bio_stats bs;
		bio_get_stats(d->bio, &bs);
		/* the worker's view: how slow the disk is, how far behind */
		json_object_set_new(root, "durable", json_pack(
			"{s:I, s:I, s:I, s:I, s:f, s:f}",
			"jobs", (json_int_t)bs.done,
			"pending", (json_int_t)sp.durable_pending,
			"errors", (json_int_t)sp.durable_errors,
			"reserve_waits", (json_int_t)sp.reserve_waits,
			"work_max_ms", bs.work_max_ms,
			"work_last_ms", bs.work_last_ms));
	}
	return root;
}

/* The background writer's copy of what to write where. */
struct stats_job {
	struct daemon *d;           /* done() only */
	char *path, *tmp, *text;
	int eno;                    /* 0: written */
};

static void stats_job_free(struct stats_job *j)
{
	free(j->path);
	free(j->tmp);
	free(j->text);
	free(j);
}

/* Worker: PATH.tmp, fsync, rename. No logging here (bio.h). */
static void stats_work(void *arg)
{
	struct stats_job *j = arg;
	FILE *f = fopen(j->tmp, "w");
	bool ok = f && fputs(j->text, f) >= 0 && fputc('\n', f) != EOF && fflush(f) == 0 &&
		  fsync(fileno(f)) == 0;
	int saved = errno;
	if (f && fclose(f) != 0 && ok) {
		ok = false;
		saved = errno;
	}
	if (ok && rename(j->tmp, j->path) != 0) {
		ok = false;
		saved = errno;
	}
	if (!ok) {
		j->eno = saved ? saved : EIO;
		(void)unlink(j->tmp);
	}
}

static int stats_submit(struct daemon *d, char *text);

static void stats_done(void *arg)
{
	struct stats_job *j = arg;
	struct daemon *d = j->d;

	if (j->eno)
		log_error("stats: cannot write %s: %s", j->path, strerror(j->eno));
	stats_job_free(j);
	d->stats_busy = false;
	if (d->stats_next) {
		char *text = d->stats_next;
		d->stats_next = NULL;
		if (stats_submit(d, text) != 0)
			log_error("stats: %s: out of memory", d->o->stats_file);
	}
}

/* Queues text (taken) for the worker. 0 / -1 (text freed). */
static int stats_submit(struct daemon *d, char *text)
{
	struct stats_job *j = calloc(1, sizeof *j);
	size_t n = strlen(d->o->stats_file) + 5;

	if (!j) {
		free(text);
		return -1;
	}
	j->d = d;
	j->text = text;
	j->path = strdup(d->o->stats_file);
	j->tmp = malloc(n);
	if (!j->path || !j->tmp) {
		stats_job_free(j);
		return -1;
	}
	snprintf(j->tmp, n, "%s.tmp", d->o->stats_file);
	if (!d->bio) {
		/* no worker (startup failed before it): write it here */
		d->stats_busy = true;
		stats_work(j);
		stats_done(j);
		return 0;
	}
	if (bio_submit(d->bio, stats_work, stats_done, j) != 0) {
		stats_job_free(j);
		return -1;
	}
	d->stats_busy = true;
	return 0;
}

void daemon_stats_write(struct daemon *d)
{
	if (!d->o->stats_file)
		return;
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
	if (d->stats_busy) {
		/* the queued one is stale by the time it lands; this one follows */
		free(d->stats_next);
		d->stats_next = text;
		return;
	}
	if (stats_submit(d, text) != 0)
		log_error("stats: %s: out of memory", d->o->stats_file);
}

void daemon_stats_log(struct daemon *d, const char *what)
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

