/*
 * test_ingest_bounds.c - a probe connection's memory is bounded in bytes
 * (issue 12, defect 3), against a real collector (test_ingest_bounds.sh,
 * max_frame 4 MiB):
 *
 *   - the frame of the issue: one Result with ~1.4M empty repeated strings,
 *     just under max_frame, sent again and again. Before: each decoded into
 *     ~60 MB and was queued (the row limit counts rows), RSS 60 MB -> 2.1 GB.
 *     Now: refused (Error memory_limit) at the first, RSS stays within
 *     the per-frame budget, counted and logged, other probes unaffected;
 *   - the caps on a Result (findings, verify_errors, labels, string
 *     lengths): one past them is refused (result_limits), one at them is
 *     stored.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest_env.h"

TestSuite(bounds, .timeout = 120);

static long vm_rss_kb(void)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%s/status", env("TW_COLLECTOR_PID"));
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	long kb = -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	cr_assert_gt(kb, 0, "no VmRSS in %s", path);
	return kb;
}

static double refused(const char *reason)
{
	char series[160];
	snprintf(series, sizeof series,
		 "tlswatch_collector_connections_refused_total{reason=\"%s\"}", reason);
	return metric_port(env_port("TW_HTTP_PORT"), series);
}

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

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* The frame of the issue, by hand: Envelope{batch{results: [Result{seq,
 * target, port, profile, outcome, findings: n x ""}]}} with its 4-byte
 * length, as large as fits in max_frame. *len set; the caller frees. */
static uint8_t *hostile_frame(size_t max_frame, size_t *len, size_t *strings)
{
	static const uint8_t head[] = {
		0x10, 0x01,                     /* seq = 1 */
		0x52, 0x01, 't',                /* target */
		0x58, 0xbb, 0x03,               /* port 443 */
		0x72, 0x01, 'm',                /* profile */
		0xa2, 0x01, 0x02, 'o', 'k',     /* outcome */
	};
	size_t n = (max_frame - 64 - sizeof head) / 3;
	size_t result_len = sizeof head + 3 * n;
	uint8_t *buf = malloc(result_len + 64);
	cr_assert_not_null(buf);
	uint8_t lens[2][10];
	size_t l_result = put_varint(lens[0], result_len);
	size_t batch_len = 1 + l_result + result_len;
	size_t l_batch = put_varint(lens[1], batch_len);
	size_t env_len = 1 + l_batch + batch_len;
	size_t o = 0;
	buf[o++] = (uint8_t)(env_len >> 24);
	buf[o++] = (uint8_t)(env_len >> 16);
	buf[o++] = (uint8_t)(env_len >> 8);
	buf[o++] = (uint8_t)env_len;
	buf[o++] = 0x12;                        /* Envelope.batch */
	memcpy(buf + o, lens[1], l_batch);
	o += l_batch;
	buf[o++] = 0x0a;                        /* ResultBatch.results */
	memcpy(buf + o, lens[0], l_result);
	o += l_result;
	memcpy(buf + o, head, sizeof head);
	o += sizeof head;
	for (size_t i = 0; i < n; i++) {        /* findings (21): "" */
		buf[o++] = 0xaa;
		buf[o++] = 0x01;
		buf[o++] = 0x00;
	}
	cr_assert_leq(o - 4, max_frame, "the frame must pass the frame size cap");
	*len = o;
	*strings = n;
	return buf;
}

Test(bounds, repeated_empty_strings_frame_bounded_and_refused)
{
	size_t max_frame = (size_t)strtoull(env("TW_MAX_FRAME"), NULL, 10);
	size_t len, strings;
	uint8_t *frame = hostile_frame(max_frame, &len, &strings);

	/* a well-behaved probe streaming alongside */
	struct tw_probe *good = tc_connect("probe-b");
	cr_assert(good->handshake_ok);
	send_hello(good, "probe-b", "us-east");
	send_batch(good, 1, 10, NULL, NULL);
	cr_assert_eq(tc_read_ack(good), 10);

	long rss0 = vm_rss_kb();
	struct tw_probe *bad = tc_connect("probe-a");
	cr_assert(bad->handshake_ok);
	send_hello(bad, "probe-a", "eu-west");
	tw_probe_set_timeout(bad, 20000);
	long peak = rss0;
	int sent = 0;
	/* up to 16 of them (before: ~60 MB each, kept) */
	for (; sent < 16 && !log_has(bad->peer, "refused (memory_limit)"); sent++) {
		tw_probe_write(bad, frame, len);
		long now = vm_rss_kb();
		peak = now > peak ? now : peak;
	}
	long rss1 = vm_rss_kb();
	peak = rss1 > peak ? rss1 : peak;
	fprintf(stderr, "bounds: frame %zu bytes, %zu empty strings, %d sent; collector VmRSS "
		"%ld kB before, %ld kB peak, %ld kB after\n", len, strings, sent, rss0, peak, rss1);
	/* the decoding budget is 16 x max_frame / 2 = 32 MiB; allow the
	 * allocator's slack on top, far below one kept frame per send. Under
	 * AddressSanitizer every block carries redzones and freed blocks sit in
	 * its quarantine, so the same work shows ~56 MB; the defect (~60 MB kept
	 * per frame, 738 MB after 16) still stands far above the wider bound. */
#if defined(__SANITIZE_ADDRESS__)
	const long bound_kb = 160 * 1024;
#else
	const long bound_kb = 48 * 1024;
#endif
	cr_expect_lt(peak - rss0, bound_kb, "RSS grew by %ld kB", peak - rss0);
	Tlswatch__Envelope *e = NULL;
	int r = tc_read_env(bad, &e);
	cr_assert_eq(r, 1, "no Error frame for the hostile connection (%s)",
		     r == 0 ? "closed" : "timeout");
	cr_assert_eq(e->msg_case, TLSWATCH__ENVELOPE__MSG_ERROR, "got case %d", e->msg_case);
	cr_expect_str_eq(e->error->code, "memory_limit");
	tlswatch__envelope__free_unpacked(e, NULL);
	cr_expect(tw_probe_closed_by_peer(bad), "the hostile connection stayed open");
	cr_expect_eq(refused("memory_limit"), 1, "one refusal counted (fresh collector)");
	cr_expect(log_has(bad->peer, "decoding the"), "no log line naming the reason");

	/* the other probe never noticed */
	send_batch(good, 11, 20, NULL, NULL);
	cr_expect_eq(tc_read_ack(good), 20);
	PGconn *db = pg();
	cr_expect_eq(rows_of(db, "probe-a"), 0);
	cr_expect_eq(rows_of(db, "probe-b"), 20);
	PQfinish(db);
	tw_probe_free(bad);
	tw_probe_free(good);
	free(frame);
}

/* One Result with n findings, a label count, a string of slen bytes. */
static void send_result(struct tw_probe *c, uint64_t seq, size_t findings, size_t labels,
			size_t verify_errors, size_t slen)
{
	Tlswatch__Result r = TLSWATCH__RESULT__INIT;
	Tlswatch__ResultBatch rb = TLSWATCH__RESULT_BATCH__INIT;
	Tlswatch__Envelope e = TLSWATCH__ENVELOPE__INIT;
	char **f = calloc(findings + 1, sizeof *f);
	Tlswatch__Label *lv = calloc(labels + 1, sizeof *lv), **lp = calloc(labels + 1, sizeof *lp);
	Tlswatch__VerifyError *vv = calloc(verify_errors + 1, sizeof *vv);
	Tlswatch__VerifyError **vp = calloc(verify_errors + 1, sizeof *vp);
	char *big = malloc(slen + 1);
	cr_assert(f && lv && lp && vv && vp && big);
	memset(big, 'x', slen);
	big[slen] = '\0';
	for (size_t i = 0; i < findings; i++)
		f[i] = "expiring_soon";
	for (size_t i = 0; i < labels; i++) {
		tlswatch__label__init(&lv[i]);
		lv[i].key = "k";
		lv[i].value = "v";
		lp[i] = &lv[i];
	}
	for (size_t i = 0; i < verify_errors; i++) {
		tlswatch__verify_error__init(&vv[i]);
		vv[i].reason = "certificate has expired";
		vp[i] = &vv[i];
	}
	r.has_seq = true;
	r.seq = seq;
	r.has_started_unix_ms = true;
	r.started_unix_ms = started_base() + (int64_t)seq * 1000;
	r.target = "caps.example.test";
	r.port = 443;
	r.profile = "modern";
	r.outcome = "ok";
	r.leaf_subject = big;
	r.n_findings = findings;
	r.findings = f;
	r.n_labels = labels;
	r.labels = lp;
	r.n_verify_errors = verify_errors;
	r.verify_errors = vp;
	Tlswatch__Result *rp = &r;
	rb.n_results = 1;
	rb.results = &rp;
	e.msg_case = TLSWATCH__ENVELOPE__MSG_BATCH;
	e.batch = &rb;
	cr_assert_eq(tw_probe_send(c, &e), 0);
	free(f);
	free(lv);
	free(lp);
	free(vv);
	free(vp);
	free(big);
}

static void expect_refused(size_t findings, size_t labels, size_t verify_errors, size_t slen,
			   const char *why)
{
	struct tw_probe *c = tc_connect("probe-c");
	cr_assert(c->handshake_ok);
	send_hello(c, "probe-c", "ap-south");
	send_result(c, 100, findings, labels, verify_errors, slen);
	Tlswatch__Envelope *e = NULL;
	int r;
	/* the Ack after Hello may come first */
	while ((r = tc_read_env(c, &e)) == 1 && e->msg_case == TLSWATCH__ENVELOPE__MSG_ACK)
		tlswatch__envelope__free_unpacked(e, NULL);
	cr_assert_eq(r, 1, "no Error frame for %s", why);
	cr_assert_eq(e->msg_case, TLSWATCH__ENVELOPE__MSG_ERROR, "got case %d", e->msg_case);
	cr_expect_str_eq(e->error->code, "result_limits");
	cr_expect(strstr(e->error->message, why), "message \"%s\" does not say \"%s\"",
		  e->error->message, why);
	tlswatch__envelope__free_unpacked(e, NULL);
	tw_probe_free(c);
}

Test(bounds, result_caps)
{
	double before = refused("result_limits");
	expect_refused(65, 0, 0, 10, "findings has 65 elements (at most 64)");
	expect_refused(0, 65, 0, 10, "labels has 65 elements (at most 64)");
	expect_refused(0, 0, 33, 10, "verify_errors has 33 elements (at most 32)");
	expect_refused(0, 0, 0, 4097, "leaf_subject is longer than 4096 bytes");
	cr_expect_eq(refused("result_limits") - before, 4);

	/* at the caps: stored */
	struct tw_probe *c = tc_connect("probe-c");
	cr_assert(c->handshake_ok);
	send_hello(c, "probe-c", "ap-south");
	send_result(c, 1, 64, 64, 32, 4096);
	cr_expect_eq(tc_read_ack(c), 1);
	tw_probe_free(c);
	PGconn *db = pg();
	cr_expect_eq(q_int(db, "SELECT count(*) FROM results WHERE probe_id = $1 AND "
			   "cardinality(findings) = 64 AND length(leaf_subject) = 4096", "probe-c"), 1);
	PQfinish(db);
}
