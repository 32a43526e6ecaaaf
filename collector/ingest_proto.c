/*
 * ingest_proto.c - what a probe's frames mean to the server (DESIGN 5):
 * the Hello that must name the certificate's probe, the ResultBatches whose
 * results may not claim another identity, the Heartbeats that keep the
 * probe's last_seen. The connection machinery is ingest_conn.c's; this file
 * decides, ingest_conn.c does.
 */
#include "ingest_int.h"
#include "db.h"
#include "twtime.h"

#include <math.h>

#include <stdlib.h>
#include <string.h>

/* A peer-supplied string made safe for one log line: printable ASCII,
 * at most 64 characters. */
static const char *printable(const char *s, char *buf, size_t cap)
{
	size_t o = 0;
	if (!s)
		s = "(none)";
	for (; *s && o + 4 < cap && o < 64; s++)
		buf[o++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	if (*s && o + 4 < cap) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

/* The probe's clock minus ours; NAN when the frame carries no clock (the
 * stored offset then keeps its last known value instead of becoming 0). */
static double clock_offset(bool has, int64_t sent_ms)
{
	return has ? (double)(sent_ms - twtime_wall_ms()) : NAN;
}

static const char *msg_name(const Tlswatch__Envelope *env)
{
	switch (env->msg_case) {
	case TLSWATCH__ENVELOPE__MSG_HELLO: return "Hello";
	case TLSWATCH__ENVELOPE__MSG_BATCH: return "ResultBatch";
	case TLSWATCH__ENVELOPE__MSG_ACK: return "Ack";
	case TLSWATCH__ENVELOPE__MSG_HEARTBEAT: return "Heartbeat";
	case TLSWATCH__ENVELOPE__MSG_ERROR: return "Error";
	default: return "unknown message";
	}
}

/*
 * One identity, one stream. When a Hello names a probe that already has a
 * streaming connection, the older one is judged alive or dead:
 *
 *   alive  it is being read (not held back by backpressure) and a frame
 *          came within two of its probe's heartbeat periods (Hello says the
 *          period; the uplink sends a batch or a Heartbeat at least once per
 *          period), at most idle_timeout. The newcomer is then refused
 *          (probe_conflict, logged at error with both peers): two live
 *          processes with one certificate are a deployment error that must
 *          be seen, and letting each take over from the other would store
 *          both spools' rows interleaved. The first keeps streaming.
 *   dead   anything else: silent past that window (its host died without a
 *          FIN), or not being read, so that its silence proves nothing. It
 *          is replaced (superseded) as before, so a probe that reconnects
 *          after its connection died is never locked out for longer than
 *          two heartbeats.
 */
static double alive_window_ms(const struct ingest_conn *o)
{
	double w = 2.0 * (o->heartbeat_ms ? o->heartbeat_ms : INGEST_HEARTBEAT_DEFAULT_MS);
	return w < o->ing->o.idle_timeout_ms ? w : o->ing->o.idle_timeout_ms;
}

/* The older connection of c's probe that is alive (see above), if any. */
static struct ingest_conn *live_twin(const struct ingest_conn *c)
{
	double now = twtime_mono_ms();
	for (struct ingest_conn *o = c->ing->live; o; o = o->next) {
		if (o == c || o->state != CONN_STREAMING || strcmp(o->probe_id, c->probe_id) != 0)
			continue;
		if (ingest_conn_is_reading(o) && now - o->heard_ms < alive_window_ms(o))
			return o;
	}
	return NULL;
}

/* Another (dead) connection of the same probe is replaced by c. One with a
 * job in flight retires (c waits for that job); the others close now. */
static void supersede_older(struct ingest_conn *c)
{
	struct ingest *ing = c->ing;
	struct ingest_conn *o = ing->live, *next;
	for (; o; o = next) {
		next = o->next;
		if (o == c || o->state != CONN_STREAMING || strcmp(o->probe_id, c->probe_id) != 0)
			continue;
		ing->st.closed[CLOSE_SUPERSEDED]++;
		ingest_conn_log(o, TWLOG_WARN, "closed (superseded): the probe connected again "
				"from %s (spool epoch %s) after %.0f ms without a frame here%s",
				c->peer, c->epoch[0] ? c->epoch : "none",
				twtime_mono_ms() - o->heard_ms, o->db == CDB_JOB
				? "; its batch in flight finishes first" : "");
		if (o->db == CDB_JOB) {
			size_t bytes = o->q.held_bytes;
			ing->st.pending_rows -= ingest_batchq_drop_pending(&o->q);
			ingest_bytes_sub(ing, bytes - o->q.held_bytes);
			ingest_conn_set_state(o, CONN_RETIRING);
			o->successor = c;
			c->predecessor = o;
		} else {
			if (o->predecessor) {  /* still waiting on an older one: inherit it */
				c->predecessor = o->predecessor;
				c->predecessor->successor = c;
				o->predecessor = NULL;
			}
			ingest_conn_close(o);
		}
	}
}

/* c streams afterwards, or was refused or closed. */
static void on_hello(struct ingest_conn *c, const Tlswatch__Hello *h)
{
	char a[80];
	if (strcmp(h->probe_id, c->probe_id) != 0) {
		ingest_conn_refuse(c, REFUSE_HELLO_MISMATCH,
				   "hello probe_id %s does not match certificate CN %s",
				   printable(h->probe_id, a, sizeof a), c->probe_id);
		return;
	}
	if (h->region && strcmp(h->region, c->region) != 0) {
		ingest_conn_refuse(c, REFUSE_HELLO_MISMATCH,
				   "hello region %s does not match certificate OU %s",
				   printable(h->region, a, sizeof a), c->region);
		return;
	}
	if (h->version) {
		/* stored and logged: printable ASCII, at most INGEST_VERSION_MAX */
		size_t n = strnlen(h->version, INGEST_VERSION_MAX);
		free(c->version);
		if (!(c->version = malloc(n + 1))) {
			ingest_conn_log(c, TWLOG_ERROR, "out of memory");
			ingest_conn_close(c);
			return;
		}
		for (size_t i = 0; i < n; i++) {
			char ch = h->version[i];
			c->version[i] = (ch >= 0x20 && ch < 0x7f) ? ch : '?';
		}
		c->version[n] = '\0';
	}
	if (h->spool_epoch && h->spool_epoch[0]) {
		size_t n = strspn(h->spool_epoch, "0123456789abcdef");
		if (n != INGEST_EPOCH_MAX || h->spool_epoch[n] != '\0') {
			ingest_conn_refuse(c, REFUSE_PROTOCOL, "hello spool_epoch %s is not %d "
					   "lowercase hex digits",
					   printable(h->spool_epoch, a, sizeof a), INGEST_EPOCH_MAX);
			return;
		}
		memcpy(c->epoch, h->spool_epoch, INGEST_EPOCH_MAX + 1);
	}
	if (h->has_heartbeat_ms)
		c->heartbeat_ms = h->heartbeat_ms;
	struct ingest_conn *twin = live_twin(c);
	if (twin) {
		ingest_conn_refuse_at(c, TWLOG_ERROR, REFUSE_PROBE_CONFLICT,
				      "probe %s is streaming from %s (spool epoch %s, last frame "
				      "%.0f ms ago); refusing this second connection from %s (spool "
				      "epoch %s): two live processes use one certificate",
				      c->probe_id, twin->peer, twin->epoch[0] ? twin->epoch : "none",
				      twtime_mono_ms() - twin->heard_ms, c->peer,
				      c->epoch[0] ? c->epoch : "none");
		return;
	}
	double off = clock_offset(h->has_sent_unix_ms, h->sent_unix_ms);
	c->ing->st.hellos++;
	ingest_conn_log(c, TWLOG_INFO, "hello version=%s spool_epoch=%s last_acked_seq=%s%llu "
			"clock_offset_ms=%.0f", c->version ? c->version : "-",
			c->epoch[0] ? c->epoch : "none", h->has_last_acked_seq ? "" : "none/",
			(unsigned long long)h->last_acked_seq, off);
	db_probe_seen(c->ing->db, c->probe_id, c->region, c->version, off, NULL);
	supersede_older(c);
	ingest_conn_set_state(c, CONN_STREAMING);  /* c->db is CDB_LOOKUP_DUE */
}

/* Every result must carry a seq in range and may name only c's identity.
 * 0, or -1 when c was refused. */
static int check_batch(struct ingest_conn *c, const Tlswatch__ResultBatch *rb)
{
	char a[80];
	for (size_t i = 0; i < rb->n_results; i++) {
		const Tlswatch__Result *r = rb->results[i];
		if (!r->has_seq) {
			ingest_conn_refuse(c, REFUSE_PROTOCOL, "result %zu of a batch has no seq", i);
			return -1;
		}
		if (r->seq > (uint64_t)INT64_MAX || r->port > 65535) {
			ingest_conn_refuse(c, REFUSE_PROTOCOL, "result seq %llu port %u is out of range",
					   (unsigned long long)r->seq, r->port);
			return -1;
		}
		if (r->probe_id && strcmp(r->probe_id, c->probe_id) != 0) {
			ingest_conn_refuse(c, REFUSE_IDENTITY_MISMATCH,
					   "result seq %llu claims probe_id %s but certificate CN is %s",
					   (unsigned long long)r->seq,
					   printable(r->probe_id, a, sizeof a), c->probe_id);
			return -1;
		}
		if (r->region && strcmp(r->region, c->region) != 0) {
			ingest_conn_refuse(c, REFUSE_IDENTITY_MISMATCH,
					   "result seq %llu claims region %s but certificate says %s",
					   (unsigned long long)r->seq,
					   printable(r->region, a, sizeof a), c->region);
			return -1;
		}
		char why[160];
		if (ingest_frame_check_result(r, why, sizeof why) != 0) {
			ingest_conn_refuse(c, REFUSE_RESULT_LIMITS, "result seq %llu: %s",
					   (unsigned long long)r->seq, why);
			return -1;
		}
	}
	return 0;
}

/* Takes env: queued for the database (the drive submits it), holding cost
 * bytes against the connection's and the server's bounds until freed. */
static void on_batch(struct ingest_conn *c, Tlswatch__Envelope *env, size_t cost)
{
	struct ingest *ing = c->ing;
	const Tlswatch__ResultBatch *rb = env->batch;
	size_t n = rb->n_results;
	if (check_batch(c, rb) < 0) {
		tlswatch__envelope__free_unpacked(env, NULL);
		return;
	}
	ing->st.batches++;
	ing->st.results += n;
	if (n == 0) {
		tlswatch__envelope__free_unpacked(env, NULL);
		return;
	}
	if (ingest_batchq_push_sized(&c->q, env, twtime_wall_ms(), cost) != 0) {
		ingest_conn_log(c, TWLOG_ERROR, "out of memory buffering a batch");
		ingest_conn_close(c);
		return;
	}
	ing->st.pending_rows += n;
	ingest_bytes_add(ing, cost);
	ingest_conn_idle_restart(c);  /* a frame: the idle clock starts again */
}

void ingest_proto_on_frame(struct ingest_conn *c, Tlswatch__Envelope *env, size_t cost)
{
	c->ing->st.frames++;
	if (c->state == CONN_AWAIT_HELLO) {
		if (env->msg_case != TLSWATCH__ENVELOPE__MSG_HELLO)
			ingest_conn_refuse(c, REFUSE_PROTOCOL, "first frame must be Hello, got %s",
					   msg_name(env));
		else
			on_hello(c, env->hello);
		tlswatch__envelope__free_unpacked(env, NULL);
		return;
	}
	switch (env->msg_case) {
	case TLSWATCH__ENVELOPE__MSG_BATCH:
		on_batch(c, env, cost);
		return;
	case TLSWATCH__ENVELOPE__MSG_HEARTBEAT: {
		const Tlswatch__Heartbeat *hb = env->heartbeat;
		c->ing->st.heartbeats++;
		/* the spool counters: stored (probes), on /metrics, and the
		 * probe_dropping rule reads them - a full spool is the one place
		 * results are lost, and only the probe knows it happened */
		uint64_t dropped_before = c->beat.dropped;
		c->beat = (struct db_probe_counters){
			.has_spool_records = hb->has_spool_records, .spool_records = hb->spool_records,
			.has_spool_bytes = hb->has_spool_bytes, .spool_bytes = hb->spool_bytes,
			.has_dropped = hb->has_dropped, .dropped = hb->dropped,
			.has_overdue = hb->has_overdue, .overdue = hb->overdue,
		};
		c->beat_at_ms = twtime_wall_ms();
		if (hb->has_dropped && hb->dropped > dropped_before)
			ingest_conn_log(c, TWLOG_WARN, "heartbeat: the probe's spool was full: "
					"dropped=%llu results lost so far (spool_records=%llu "
					"spool_bytes=%llu)",
					(unsigned long long)hb->dropped,
					(unsigned long long)hb->spool_records,
					(unsigned long long)hb->spool_bytes);
		db_probe_seen(c->ing->db, c->probe_id, c->region, c->version,
			      clock_offset(hb->has_sent_unix_ms, hb->sent_unix_ms), &c->beat);
		/* No reply: the probe only expects Acks for batches it sent (an Ack
		 * here would also mask a stuck database from its liveness check). */
		ingest_conn_idle_restart(c);
		break;
	}
	default:
		ingest_conn_refuse(c, REFUSE_PROTOCOL, "unexpected %s from a probe", msg_name(env));
		break;
	}
	tlswatch__envelope__free_unpacked(env, NULL);
}
