/*
 * test_ingest.c - the collector's probe server against a real
 * `tlswatch-collector run` and a real PostgreSQL (tests/integration/
 * test_ingest.sh starts both). The test plays the probes with a small
 * blocking OpenSSL client: Hello and ResultBatch frames in, Acks out, rows
 * checked with libpq, refusals checked in the collector's log (with the
 * peer's address) and in /metrics.
 *
 * Graceful shutdown and a missing database, which need a collector of
 * their own, are in test_ingest_daemon.c.
 *
 * Criterion runs tests in parallel: every test that streams uses its own
 * probe identity, and every refusal reason is produced by one test only,
 * so per-reason metric deltas are exact.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "ingest_env.h"

TestSuite(ingest, .timeout = 60);

/* A refused client is told why before the close: the next frame is an
 * Error with code (the refusal's metrics name) and a message containing
 * sentence, then the connection closes. */
static void expect_error_frame(struct tw_probe *c, const char *code, const char *sentence)
{
	Tlswatch__Envelope *e = NULL;
	int r = tc_read_env(c, &e);
	cr_assert_eq(r, 1, "no Error frame before the close (%s)", r == 0 ? "closed" : "timeout");
	cr_assert_eq(e->msg_case, TLSWATCH__ENVELOPE__MSG_ERROR, "expected an Error, got case %d",
		     e->msg_case);
	cr_expect_str_eq(e->error->code, code);
	cr_expect(e->error->message && strstr(e->error->message, sentence),
		  "Error message \"%s\" does not say \"%s\"",
		  e->error->message ? e->error->message : "(none)", sentence);
	tlswatch__envelope__free_unpacked(e, NULL);
	cr_expect(tw_probe_closed_by_peer(c), "still open after the Error frame");
}

/* ---- the collector's log ---- */

static bool log_has(const char *a, const char *b)
{
	FILE *f = fopen(env("TW_COLLECTOR_LOG"), "r");
	if (!f)
		return false;
	char line[4096];
	bool found = false;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, a) && (!b || strstr(line, b));
	fclose(f);
	return found;
}

/* Waits up to 5 s for one log line containing both a and b. */
static void expect_log(const char *a, const char *b)
{
	for (int i = 0; i < 100; i++) {
		if (log_has(a, b))
			return;
		sleep_ms(50);
	}
	cr_assert_fail("the collector log has no line with \"%s\"%s%s%s", a, b ? " and \"" : "",
		       b ? b : "", b ? "\"" : "");
}

static int http_get(const char *method, const char *path, char **body)
{
	return http_get_port(env_port("TW_HTTP_PORT"), method, path, body);
}

static double metric(const char *series)
{
	return metric_port(env_port("TW_HTTP_PORT"), series);
}

static double refused(const char *reason)
{
	char s[160];
	snprintf(s, sizeof s, "tlswatch_collector_connections_refused_total{reason=\"%s\"}", reason);
	return metric(s);
}

/* Waits until refused(reason) reaches want (the close and the counter race
 * the client's read by a few microseconds). */
static void expect_refused(const char *reason, double want)
{
	double v = -1;
	for (int i = 0; i < 100 && (v = refused(reason)) < want; i++)
		sleep_ms(50);
	cr_expect_eq(v, want, "refused{reason=%s} = %g, expected %g", reason, v, want);
}

/* `promtool check metrics` on an exposition: its exit status, its output in
 * out (promtool comes with the prometheus package that make deps installs). */
static int promtool_check(const char *body, char *out, size_t cap)
{
	cr_assert(access("/usr/bin/promtool", X_OK) == 0, "promtool missing: make deps installs prometheus");
	char path[512];
	snprintf(path, sizeof path, "%s/metrics-%d.txt", getenv("TW_WORK") ? getenv("TW_WORK") : "/tmp",
		 (int)getpid());
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs(body, f);
	fclose(f);
	char cmd[1100];
	snprintf(cmd, sizeof cmd, "promtool check metrics < %s > %s.out 2>&1", path, path);
	int rc = system(cmd);
	out[0] = '\0';
	snprintf(cmd, sizeof cmd, "%s.out", path);
	FILE *o = fopen(cmd, "r");
	if (o) {
		size_t n = fread(out, 1, cap - 1, o);
		out[n] = '\0';
		fclose(o);
	}
	return rc;
}

/* ---- good probes ---- */

Test(ingest, good_probe_rows_stored_with_cert_region)
{
	PGconn *db = pg();
	struct tw_probe *c = tc_connect("probe-a");
	cr_assert(c->handshake_ok, "handshake failed");
	send_hello(c, "probe-a", "eu-west");
	send_batch(c, 1, 5, NULL, NULL);
	cr_expect_eq(tc_read_ack(c), 5);
	/* results that name themselves correctly are fine too */
	send_batch(c, 6, 8, "probe-a", "eu-west");
	cr_expect_eq(tc_read_ack(c), 8);
	cr_expect_eq(rows_of(db, "probe-a"), 8);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM results WHERE probe_id = $1 AND region = 'eu-west'",
			   "probe-a"), 8);
	cr_expect_eq(q_int(db, "SELECT max(seq) FROM results WHERE probe_id = $1", "probe-a"), 8);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM results WHERE probe_id = $1 "
			   "AND probe_version = 'test-probe 1.0' AND outcome = 'ok' "
			   "AND target = 'www.example.test' AND profile = 'modern'", "probe-a"), 8);
	cr_expect_eq(q_int(db, "SELECT count(*) FROM probes WHERE probe_id = $1 AND region = 'eu-west'",
			   "probe-a"), 1);
	expect_log("probe=probe-a region=eu-west hello version=test-probe 1.0", NULL);
	tw_probe_free(c);
	PQfinish(db);
}

Test(ingest, replayed_batch_acked_again_no_new_rows)
{
	PGconn *db = pg();
	double dup0 = metric("tlswatch_collector_rows_duplicate_total");
	struct tw_probe *c = tc_connect("probe-c");
	cr_assert(c->handshake_ok);
	send_hello(c, "probe-c", "ap-south");
	send_batch(c, 1, 3, NULL, NULL);
	cr_expect_eq(tc_read_ack(c), 3);
	send_batch(c, 1, 3, NULL, NULL);
	cr_expect_eq(tc_read_ack(c), 3);
	cr_expect_eq(rows_of(db, "probe-c"), 3);
	tw_probe_free(c);

	/* a new connection: the Ack after Hello says what is committed */
	c = tc_connect("probe-c");
	cr_assert(c->handshake_ok);
	send_hello(c, "probe-c", NULL);
	cr_expect_eq(tc_read_ack(c), 3);
	send_batch(c, 2, 4, NULL, NULL);  /* two replays and one new */
	cr_expect_eq(tc_read_ack(c), 4);
	cr_expect_eq(rows_of(db, "probe-c"), 4);
	cr_expect_geq(metric("tlswatch_collector_rows_duplicate_total") - dup0, 5);
	tw_probe_free(c);
	PQfinish(db);
}

/* A reconnect replaces a connection that has gone silent - here past two of
 * the heartbeat periods its Hello announced (250 ms); a live one is not
 * replaced (test_epoch: probe_conflict). */
Test(ingest, reconnect_supersedes_older_connection)
{
	PGconn *db = pg();
	struct tw_probe *old = tc_connect("probe-f");
	cr_assert(old->handshake_ok);
	Tlswatch__Hello h = TLSWATCH__HELLO__INIT;
	Tlswatch__Envelope he = TLSWATCH__ENVELOPE__INIT;
	h.probe_id = "probe-f";
	h.region = "eu-west";
	h.has_heartbeat_ms = true;
	h.heartbeat_ms = 250;
	he.msg_case = TLSWATCH__ENVELOPE__MSG_HELLO;
	he.hello = &h;
	cr_assert_eq(tw_probe_send(old, &he), 0);
	send_batch(old, 1, 2, NULL, NULL);
	cr_expect_eq(tc_read_ack(old), 2);
	sleep_ms(700);  /* silent past 2 x 250 ms: taken for dead */

	struct tw_probe *c = tc_connect("probe-f");
	cr_assert(c->handshake_ok);
	send_hello(c, "probe-f", "eu-west");
	cr_expect_eq(tc_read_ack(c), 2);
	cr_expect(tw_probe_closed_by_peer(old), "the older connection stayed open");
	expect_log(old->peer, "closed (superseded): the probe connected again from 127.0.0.1:");
	send_batch(c, 3, 3, NULL, NULL);
	cr_expect_eq(tc_read_ack(c), 3);
	cr_expect_eq(rows_of(db, "probe-f"), 3);
	tw_probe_free(old);
	tw_probe_free(c);
	PQfinish(db);
}

Test(ingest, heartbeat_updates_probe_and_gets_no_reply)
{
	PGconn *db = pg();
	struct tw_probe *c = tc_connect("probe-h");
	cr_assert(c->handshake_ok);
	send_hello(c, "probe-h", "us-east");
	send_heartbeat(c);
	cr_expect(tw_probe_quiet_for(c, 500), "the collector answered a heartbeat or closed");
	send_batch(c, 10, 11, NULL, NULL);
	cr_expect_eq(tc_read_ack(c), 11);
	long long n = -1;
	for (int i = 0; i < 50 && n != 1; i++) {
		n = q_int(db, "SELECT count(*) FROM probes WHERE probe_id = $1 "
			  "AND clock_offset_ms IS NOT NULL AND abs(clock_offset_ms) < 60000", "probe-h");
		if (n != 1)
			sleep_ms(100);
	}
	cr_expect_eq(n, 1, "probes row of probe-h with a clock offset");

	/* the spool counters of a heartbeat: stored, and on /metrics while the
	 * probe streams here (a full spool is the one way results are lost) */
	Tlswatch__Heartbeat h = TLSWATCH__HEARTBEAT__INIT;
	Tlswatch__Envelope e = TLSWATCH__ENVELOPE__INIT;
	h.has_spool_records = h.has_spool_bytes = h.has_dropped = h.has_overdue = true;
	h.spool_records = 7;
	h.spool_bytes = 900;
	h.dropped = 4;
	h.overdue = 1;
	e.msg_case = TLSWATCH__ENVELOPE__MSG_HEARTBEAT;
	e.heartbeat = &h;
	/* this heartbeat carries no clock: the known offset must stay */
	cr_assert_eq(q_int(db, "WITH u AS (UPDATE probes SET clock_offset_ms = 1234 WHERE probe_id = $1 "
			   "RETURNING 1) SELECT count(*) FROM u", "probe-h"), 1);
	cr_assert_eq(tw_probe_send(c, &e), 0);
	n = -1;
	for (int i = 0; i < 50 && n != 1; i++) {
		n = q_int(db, "SELECT count(*) FROM probes WHERE probe_id = $1 AND spool_records = 7 "
			  "AND spool_bytes = 900 AND dropped_total = 4 AND overdue_total = 1 "
			  "AND dropped_at IS NOT NULL AND clock_offset_ms = 1234", "probe-h");
		if (n != 1)
			sleep_ms(100);
	}
	cr_expect_eq(n, 1, "the heartbeat's spool counters in probes");
	cr_expect_eq(metric("tlswatch_probe_dropped_results_total{probe=\"probe-h\",region=\"us-east\"}"), 4);
	cr_expect_eq(metric("tlswatch_probe_spool_records{probe=\"probe-h\",region=\"us-east\"}"), 7);
	cr_expect_eq(metric("tlswatch_probe_spool_bytes{probe=\"probe-h\",region=\"us-east\"}"), 900);
	cr_expect_eq(metric("tlswatch_probe_overdue_slots_total{probe=\"probe-h\",region=\"us-east\"}"), 1);
	char *body;
	cr_assert_eq(http_get("GET", "/metrics", &body), 200);
	char out[1024];
	cr_expect_eq(promtool_check(body, out, sizeof out), 0,
		     "promtool check metrics with per-probe series:\n%s", out);
	free(body);
	tw_probe_free(c);
	expect_log("probe=probe-h", "the probe's spool was full: dropped=4");
	/* a closed stream's series go with it */
	bool gone = false;
	for (int i = 0; i < 50 && !gone; i++) {
		cr_assert_eq(http_get("GET", "/metrics", &body), 200);
		gone = !strstr(body, "probe=\"probe-h\"");
		free(body);
		if (!gone)
			sleep_ms(100);
	}
	cr_expect(gone, "probe-h's series outlived its connection");
	PQfinish(db);
}

/* ---- refusals: certificates ---- */

Test(ingest, no_client_certificate_refused)
{
	double r0 = refused("no_client_cert");
	struct tw_probe *c = tc_connect(NULL);
	/* TLS 1.3: the client's handshake completes, the refusal comes after */
	cr_expect(!c->handshake_ok || tw_probe_closed_by_peer(c), "connection without a certificate served");
	expect_log(c->peer, "refused (no_client_cert): no client certificate");
	expect_refused("no_client_cert", r0 + 1);
	tw_probe_free(c);
}

Test(ingest, no_client_certificate_refused_tls12)
{
	/* TLS 1.2: the handshake itself fails; same reason */
	struct tw_probe *c = tc_connect_v(NULL, TLS1_2_VERSION);
	cr_expect(!c->handshake_ok, "TLS 1.2 handshake without a certificate succeeded");
	expect_log(c->peer, "refused (no_client_cert): no client certificate");
	tw_probe_free(c);
}

Test(ingest, rogue_ca_certificate_refused)
{
	double r0 = refused("cert_verify_failed");
	struct tw_probe *c = tc_connect("rogue-probe-a");
	cr_expect(!c->handshake_ok || tw_probe_closed_by_peer(c), "a rogue CA's certificate was served");
	expect_log(c->peer, "refused (cert_verify_failed): certificate verify failed: "
		   "unable to get local issuer certificate");
	expect_refused("cert_verify_failed", r0 + 1);
	tw_probe_free(c);
}

Test(ingest, certificate_without_region_refused)
{
	double r0 = refused("cert_identity");
	struct tw_probe *c = tc_connect("probe-noregion");
	cr_assert(c->handshake_ok);
	send_hello(c, "probe-x", "eu-west");
	expect_error_frame(c, "cert_identity", "certificate has no OU (region)");
	expect_log(c->peer, "refused (cert_identity): certificate has no OU (region)");
	expect_refused("cert_identity", r0 + 1);
	tw_probe_free(c);
}

Test(ingest, not_tls_refused)
{
	double r0 = refused("tls_handshake_failed");
	int fd = tcp_connect(env_port("TW_COL_PORT"), 5000);
	struct sockaddr_in me;
	socklen_t sl = sizeof me;
	getsockname(fd, (struct sockaddr *)&me, &sl);
	const char junk[] = "GET / HTTP/1.0\r\n\r\n";
	cr_assert_eq(write(fd, junk, sizeof junk - 1), (ssize_t)(sizeof junk - 1));
	char b[64];
	ssize_t n;
	while ((n = read(fd, b, sizeof b)) > 0)
		;
	cr_expect(n == 0 || (n < 0 && errno == ECONNRESET), "not closed: %s", strerror(errno));
	close(fd);
	char peer[64];
	snprintf(peer, sizeof peer, "peer=127.0.0.1:%u", ntohs(me.sin_port));
	expect_log(peer, "refused (tls_handshake_failed): TLS handshake failed: ");
	expect_refused("tls_handshake_failed", r0 + 1);
}

/* ---- refusals: identity claims ---- */

Test(ingest, hello_claiming_another_identity_refused)
{
	PGconn *db = pg();
	double r0 = refused("hello_mismatch");
	struct tw_probe *c = tc_connect("probe-g");
	cr_assert(c->handshake_ok);
	send_hello(c, "probe-a", "ap-south");
	expect_error_frame(c, "hello_mismatch", "hello probe_id probe-a does not match "
			   "certificate CN probe-g");
	expect_log(c->peer, "refused (hello_mismatch): hello probe_id probe-a does not match "
		   "certificate CN probe-g");
	tw_probe_free(c);

	c = tc_connect("probe-g");
	cr_assert(c->handshake_ok);
	/* as a real probe does: the batches follow the Hello at once, so the
	 * collector has unread input when it refuses - the Error still arrives */
	send_hello(c, "probe-g", "us-east");
	send_batch(c, 1, 50, NULL, NULL);
	send_batch(c, 51, 100, NULL, NULL);
	expect_error_frame(c, "hello_mismatch", "hello region us-east does not match "
			   "certificate OU ap-south");
	expect_log(c->peer, "refused (hello_mismatch): hello region us-east does not match "
		   "certificate OU ap-south");
	tw_probe_free(c);
	expect_refused("hello_mismatch", r0 + 2);
	cr_expect_eq(rows_of(db, "probe-g"), 0);
	PQfinish(db);
}

Test(ingest, result_claiming_another_identity_refused)
{
	PGconn *db = pg();
	double r0 = refused("identity_mismatch");
	struct tw_probe *c = tc_connect("probe-d");
	cr_assert(c->handshake_ok);
	send_hello(c, "probe-d", "eu-west");
	send_batch(c, 1, 2, NULL, "us-east");
	expect_error_frame(c, "identity_mismatch", "result seq 1 claims region us-east");
	expect_log(c->peer, "refused (identity_mismatch): result seq 1 claims region us-east but "
		   "certificate says eu-west");
	tw_probe_free(c);

	c = tc_connect("probe-d");
	cr_assert(c->handshake_ok);
	send_hello(c, "probe-d", "eu-west");
	send_batch(c, 1, 2, "probe-b", NULL);
	cr_expect(tw_probe_closed_by_peer(c));
	expect_log(c->peer, "refused (identity_mismatch): result seq 1 claims probe_id probe-b but "
		   "certificate CN is probe-d");
	tw_probe_free(c);
	expect_refused("identity_mismatch", r0 + 2);
	cr_expect_eq(rows_of(db, "probe-d"), 0);
	PQfinish(db);
}

/* ---- refusals: frames ---- */

Test(ingest, oversized_frame_refused)
{
	double r0 = refused("frame_too_large");
	struct tw_probe *c = tc_connect("probe-e");
	cr_assert(c->handshake_ok);
	const uint8_t hdr[4] = { 0x7f, 0xff, 0xff, 0xff };
	tw_probe_write(c, hdr, sizeof hdr);
	expect_error_frame(c, "frame_too_large", "frame too large: 2147483647 > ");
	char want[128];
	snprintf(want, sizeof want, "refused (frame_too_large): frame too large: 2147483647 > %s bytes",
		 env("TW_MAX_FRAME"));
	expect_log(c->peer, want);
	expect_refused("frame_too_large", r0 + 1);
	tw_probe_free(c);
}

Test(ingest, garbage_after_tls_refused)
{
	double r0 = refused("malformed_frame");
	struct tw_probe *c = tc_connect("probe-e");
	cr_assert(c->handshake_ok);
	uint8_t junk[20] = { 0, 0, 0, 16 };
	memset(junk + 4, 0xff, 16);
	tw_probe_write(c, junk, sizeof junk);
	expect_error_frame(c, "malformed_frame", "malformed frame: ");
	expect_log(c->peer, "refused (malformed_frame): malformed frame: ");
	expect_refused("malformed_frame", r0 + 1);
	tw_probe_free(c);
}

Test(ingest, hello_timeout_refused)
{
	double r0 = refused("hello_timeout");
	struct tw_probe *c = tc_connect("probe-e");
	cr_assert(c->handshake_ok);
	tw_probe_set_timeout(c, 6000);
	expect_error_frame(c, "hello_timeout", "no Hello within 2000 ms");  /* hello_timeout: 2s */
	expect_log(c->peer, "refused (hello_timeout): no Hello within 2000 ms");
	expect_refused("hello_timeout", r0 + 1);
	tw_probe_free(c);
}

Test(ingest, idle_stream_closed)
{
	struct tw_probe *c = tc_connect("probe-e");
	cr_assert(c->handshake_ok);
	send_hello(c, "probe-e", "us-east");
	tw_probe_set_timeout(c, 8000);
	cr_expect(tw_probe_closed_by_peer(c), "idle stream still open");  /* idle_timeout: 4s */
	expect_log(c->peer, "closed (idle_timeout): no frame for 4000 ms");
	tw_probe_free(c);
}

/* A bad client is refused while a good probe on another connection goes on. */
Test(ingest, good_probe_unaffected_by_bad_client)
{
	PGconn *db = pg();
	double r0 = refused("protocol");
	struct tw_probe *good = tc_connect("probe-b");
	cr_assert(good->handshake_ok);
	send_hello(good, "probe-b", "us-east");
	send_batch(good, 1, 2, NULL, NULL);
	cr_expect_eq(tc_read_ack(good), 2);

	struct tw_probe *bad = tc_connect("probe-e");
	cr_assert(bad->handshake_ok);
	/* half a frame from the bad client, then the good one streams */
	Tlswatch__Heartbeat h = TLSWATCH__HEARTBEAT__INIT;
	Tlswatch__Envelope e = TLSWATCH__ENVELOPE__INIT;
	e.msg_case = TLSWATCH__ENVELOPE__MSG_HEARTBEAT;
	e.heartbeat = &h;
	h.has_last_seq = true;
	h.last_seq = 1;
	uint8_t *buf;
	size_t len;
	cr_assert_eq(frame_encode(&e, &buf, &len, FRAME_DEFAULT_MAX), 0);
	tw_probe_write(bad, buf, 2);
	send_batch(good, 3, 4, NULL, NULL);
	cr_expect_eq(tc_read_ack(good), 4);
	/* the rest: a Heartbeat before any Hello is refused */
	tw_probe_write(bad, buf + 2, len - 2);
	free(buf);
	send_batch(good, 5, 6, NULL, NULL);
	expect_error_frame(bad, "protocol", "first frame must be Hello, got Heartbeat");
	cr_expect_eq(tc_read_ack(good), 6);
	expect_log(bad->peer, "refused (protocol): first frame must be Hello, got Heartbeat");
	/* and once more after the refusal */
	send_batch(good, 7, 8, NULL, NULL);
	cr_expect_eq(tc_read_ack(good), 8);
	cr_expect_eq(rows_of(db, "probe-b"), 8);
	expect_refused("protocol", r0 + 1);
	tw_probe_free(bad);
	tw_probe_free(good);
	PQfinish(db);
}

/* ---- HTTP ---- */

Test(ingest, healthz_and_readyz)
{
	char *body;
	cr_expect_eq(http_get("GET", "/healthz", &body), 200);
	cr_expect_str_eq(body, "ok\n");
	free(body);
	cr_expect_eq(http_get("GET", "/readyz", &body), 200, "readyz: %s", body);
	cr_expect_str_eq(body, "ready\n");
	free(body);
	cr_expect_eq(http_get("GET", "/nope", &body), 404);
	free(body);
	cr_expect_eq(http_get("POST", "/healthz", &body), 405);
	free(body);
	cr_expect_eq(metric("tlswatch_collector_ready"), 1);
	cr_expect_eq(metric("tlswatch_collector_listening"), 1);
}

/* Every sample belongs to a family declared with HELP and TYPE before it;
 * names and values are well formed; no family is declared twice. */
Test(ingest, metrics_exposition_format)
{
	char *body;
	cr_assert_eq(http_get("GET", "/metrics", &body), 200);
	char help[64][96], type[64][96];
	int nhelp = 0, ntype = 0, samples = 0;
	char *save = NULL;
	for (char *line = strtok_r(body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char name[96], kind[32];
		if (sscanf(line, "# HELP %95s", name) == 1) {
			for (int i = 0; i < nhelp; i++)
				cr_expect_str_neq(help[i], name, "HELP %s twice", name);
			cr_assert_lt(nhelp, 64);
			snprintf(help[nhelp++], sizeof help[0], "%s", name);
			continue;
		}
		if (sscanf(line, "# TYPE %95s %31s", name, kind) == 2) {
			cr_expect(!strcmp(kind, "counter") || !strcmp(kind, "gauge"), "%s", line);
			cr_expect(nhelp > 0 && !strcmp(help[nhelp - 1], name), "TYPE without HELP: %s", line);
			if (!strcmp(kind, "counter"))
				cr_expect(strlen(name) > 6 && !strcmp(name + strlen(name) - 6, "_total"),
					  "counter %s without _total", name);
			cr_assert_lt(ntype, 64);
			snprintf(type[ntype++], sizeof type[0], "%s", name);
			continue;
		}
		cr_assert(line[0] != '#', "unexpected comment: %s", line);
		size_t k = strspn(line, "abcdefghijklmnopqrstuvwxyz_0123456789");
		cr_assert(k > 0 && (line[k] == ' ' || line[k] == '{'), "bad sample: %s", line);
		memcpy(name, line, k);
		name[k] = '\0';
		cr_expect(ntype > 0 && !strcmp(type[ntype - 1], name),
			  "sample %s outside its family", line);
		const char *v = strrchr(line, ' ');
		char *end;
		strtod(v + 1, &end);
		cr_expect(*end == '\0', "bad value: %s", line);
		samples++;
	}
	free(body);
	cr_expect_gt(samples, 20);
	/* every refusal reason is exported, even at zero */
	const char *reasons[] = { "max_connections", "no_client_cert", "cert_verify_failed",
				  "tls_handshake_failed", "handshake_timeout", "cert_identity",
				  "hello_timeout", "hello_mismatch", "identity_mismatch",
				  "frame_too_large", "malformed_frame", "protocol" };
	for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
		cr_expect_geq(refused(reasons[i]), 0);
	cr_expect_geq(metric("tlswatch_collector_db_connections_up"), 1);
	cr_expect_geq(metric("tlswatch_collector_connections_accepted_total"), 1);
}

/* Prometheus' own linter accepts the exposition (DESIGN 6: /metrics passes
 * `promtool check metrics`; promtool comes with the prometheus package). */
Test(ingest, metrics_pass_promtool)
{
	char *body;
	cr_assert_eq(http_get("GET", "/metrics", &body), 200);
	char out[1024];
	int rc = promtool_check(body, out, sizeof out);
	free(body);
	cr_expect_eq(rc, 0, "promtool check metrics failed:\n%s", out);
}

/* Counters move with a stream (other tests run in parallel: only lower
 * bounds are exact here). */
Test(ingest, metrics_count_streams)
{
	PGconn *db = pg();
	double frames0 = metric("tlswatch_collector_frames_received_total");
	double results0 = metric("tlswatch_collector_results_received_total");
	double rows0 = metric("tlswatch_collector_rows_inserted_total");
	double acks0 = metric("tlswatch_collector_acks_sent_total");
	struct tw_probe *c = tc_connect("probe-i");
	cr_assert(c->handshake_ok);
	send_hello(c, "probe-i", "ap-south");
	send_batch(c, 100, 109, NULL, NULL);
	uint64_t ack = tc_read_ack(c);
	if (ack != 109)  /* an Ack after Hello came first */
		ack = tc_read_ack(c);
	cr_expect_eq(ack, 109);
	cr_expect_geq(metric("tlswatch_collector_frames_received_total") - frames0, 2);
	cr_expect_geq(metric("tlswatch_collector_results_received_total") - results0, 10);
	cr_expect_geq(metric("tlswatch_collector_rows_inserted_total") - rows0, 10);
	cr_expect_geq(metric("tlswatch_collector_acks_sent_total") - acks0, 1);
	tw_probe_free(c);
	PQfinish(db);
}
