/*
 * test_frame.c - common/frame.c: length-prefixed Envelope framing (DESIGN 5).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "frame.h"

TestSuite(frame);

/* ---- helpers ---- */

/* Encodes env with the default max; the caller free()s the result. */
static uint8_t *enc(const Tlswatch__Envelope *env, size_t *len)
{
	uint8_t *out = NULL;

	cr_assert_eq(frame_encode(env, &out, len, FRAME_DEFAULT_MAX), 0);
	cr_assert_not_null(out);
	cr_assert_gt(*len, FRAME_HEADER_LEN);
	return out;
}

/* Encodes then decodes; asserts OK and consumed == whole frame. */
static Tlswatch__Envelope *round_trip(const Tlswatch__Envelope *env)
{
	Tlswatch__Envelope *got = NULL;
	size_t len, consumed = 99;
	char err[128];
	uint8_t *buf = enc(env, &len);
	uint32_t announced = ((uint32_t)buf[0] << 24) | ((uint32_t)buf[1] << 16) |
			     ((uint32_t)buf[2] << 8) | buf[3];

	cr_assert_eq(announced, len - 4, "header is big-endian payload length");
	cr_assert_eq(frame_decode(buf, len, FRAME_DEFAULT_MAX, &got, &consumed,
				  err, sizeof err), FRAME_OK, "err=%s", err);
	cr_assert_eq(consumed, len);
	cr_assert_not_null(got);
	free(buf);
	return got;
}

/* Wraps a raw payload in a 4-byte big-endian header; caller free()s. */
static uint8_t *wrap(const uint8_t *payload, size_t n, size_t *len)
{
	uint8_t *b = malloc(n + 4);

	cr_assert_not_null(b);
	b[0] = (uint8_t)(n >> 24);
	b[1] = (uint8_t)(n >> 16);
	b[2] = (uint8_t)(n >> 8);
	b[3] = (uint8_t)n;
	if (n)
		memcpy(b + 4, payload, n);
	*len = n + 4;
	return b;
}

static enum frame_status decode_raw(const uint8_t *payload, size_t n, char *err, size_t errlen)
{
	Tlswatch__Envelope *got = (Tlswatch__Envelope *)1;
	size_t len, consumed = 99;
	uint8_t *b = wrap(payload, n, &len);
	enum frame_status st = frame_decode(b, len, FRAME_DEFAULT_MAX, &got,
					    &consumed, err, errlen);

	if (st == FRAME_OK) {
		tlswatch__envelope__free_unpacked(got, NULL);
	} else {
		cr_assert_null(got);
		cr_assert_eq(consumed, 0);
	}
	free(b);
	return st;
}

static void init_hello(Tlswatch__Envelope *env, Tlswatch__Hello *h, char *probe_id)
{
	tlswatch__envelope__init(env);
	tlswatch__hello__init(h);
	h->probe_id = probe_id;
	env->msg_case = TLSWATCH__ENVELOPE__MSG_HELLO;
	env->hello = h;
}

/* ---- round trips ---- */

Test(frame, round_trip_hello)
{
	Tlswatch__Envelope env, *got;
	Tlswatch__Hello h;

	init_hello(&env, &h, "probe-a");
	h.region = "eu-west";
	h.version = "0.1.0";
	h.has_last_acked_seq = 1;
	h.last_acked_seq = UINT64_C(1) << 40;
	h.has_sent_unix_ms = 1;
	h.sent_unix_ms = 1700000000123;
	got = round_trip(&env);
	cr_assert_eq(got->msg_case, TLSWATCH__ENVELOPE__MSG_HELLO);
	cr_assert_str_eq(got->hello->probe_id, "probe-a");
	cr_assert_str_eq(got->hello->region, "eu-west");
	cr_assert_str_eq(got->hello->version, "0.1.0");
	cr_assert(got->hello->has_last_acked_seq);
	cr_assert_eq(got->hello->last_acked_seq, UINT64_C(1) << 40);
	cr_assert_eq(got->hello->sent_unix_ms, 1700000000123);
	tlswatch__envelope__free_unpacked(got, NULL);
}

Test(frame, round_trip_batch_with_full_result)
{
	Tlswatch__Envelope env, *got;
	Tlswatch__ResultBatch batch;
	Tlswatch__Result r0, r1, *rs[2] = { &r0, &r1 };
	Tlswatch__VerifyError ve0, ve1, *ves[2] = { &ve0, &ve1 };
	char *findings[3] = { "weak-cipher", "no-ocsp-staple", "expiring-soon" };
	Tlswatch__Result *g;

	tlswatch__envelope__init(&env);
	tlswatch__result_batch__init(&batch);
	tlswatch__result__init(&r0);
	tlswatch__result__init(&r1);
	tlswatch__verify_error__init(&ve0);
	tlswatch__verify_error__init(&ve1);
	ve0.depth = 0; ve0.code = 10; ve0.reason = "certificate has expired";
	ve1.depth = 2; ve1.code = 19; ve1.reason = "self-signed certificate in certificate chain";

	r0.probe_id = "probe-a";
	r0.has_seq = 1; r0.seq = 42;
	r0.target = "example.com"; r0.port = 443; r0.profile = "modern";
	r0.sni = "example.com";
	r0.outcome = "cert_expired";
	r0.n_findings = 3; r0.findings = findings;
	r0.n_verify_errors = 2; r0.verify_errors = ves;
	r0.tls_version = "TLSv1.3";
	r0.has_resumed = 1; r0.resumed = 0;   /* present-and-false must survive */
	r0.has_handshake_ms = 1; r0.handshake_ms = 12.625;
	r0.has_cert_not_after = 1; r0.cert_not_after = -5;

	r1.target = "mail.example.org"; r1.port = 25; r1.profile = "compat";
	r1.outcome = "ok"; r1.starttls = "smtp";

	batch.n_results = 2; batch.results = rs;
	env.msg_case = TLSWATCH__ENVELOPE__MSG_BATCH;
	env.batch = &batch;

	got = round_trip(&env);
	cr_assert_eq(got->msg_case, TLSWATCH__ENVELOPE__MSG_BATCH);
	cr_assert_eq(got->batch->n_results, 2);
	g = got->batch->results[0];
	cr_assert_str_eq(g->probe_id, "probe-a");
	cr_assert(g->has_seq);
	cr_assert_eq(g->seq, 42);
	cr_assert_str_eq(g->target, "example.com");
	cr_assert_eq(g->port, 443);
	cr_assert_str_eq(g->profile, "modern");
	cr_assert_str_eq(g->outcome, "cert_expired");
	cr_assert_eq(g->n_findings, 3);
	cr_assert_str_eq(g->findings[0], "weak-cipher");
	cr_assert_str_eq(g->findings[2], "expiring-soon");
	cr_assert_eq(g->n_verify_errors, 2);
	cr_assert_eq(g->verify_errors[1]->depth, 2);
	cr_assert_eq(g->verify_errors[1]->code, 19);
	cr_assert_str_eq(g->verify_errors[0]->reason, "certificate has expired");
	cr_assert_str_eq(g->tls_version, "TLSv1.3");
	cr_assert(g->has_resumed);
	cr_assert_not(g->resumed);
	cr_assert_float_eq(g->handshake_ms, 12.625, 1e-12);
	cr_assert_eq(g->cert_not_after, -5);
	cr_assert_not(g->has_total_ms, "absent stays absent");
	cr_assert_null(g->alert);
	g = got->batch->results[1];
	cr_assert_str_eq(g->target, "mail.example.org");
	cr_assert_eq(g->port, 25);
	cr_assert_str_eq(g->starttls, "smtp");
	cr_assert_not(g->has_seq);
	cr_assert_eq(g->n_findings, 0);
	tlswatch__envelope__free_unpacked(got, NULL);
}

Test(frame, round_trip_ack)
{
	Tlswatch__Envelope env, *got;
	Tlswatch__Ack a;

	tlswatch__envelope__init(&env);
	tlswatch__ack__init(&a);
	a.seq = UINT64_MAX;
	env.msg_case = TLSWATCH__ENVELOPE__MSG_ACK;
	env.ack = &a;
	got = round_trip(&env);
	cr_assert_eq(got->msg_case, TLSWATCH__ENVELOPE__MSG_ACK);
	cr_assert_eq(got->ack->seq, UINT64_MAX);
	tlswatch__envelope__free_unpacked(got, NULL);
}

Test(frame, round_trip_heartbeat_empty_and_set)
{
	Tlswatch__Envelope env, *got;
	Tlswatch__Heartbeat hb;

	tlswatch__envelope__init(&env);
	tlswatch__heartbeat__init(&hb);
	env.msg_case = TLSWATCH__ENVELOPE__MSG_HEARTBEAT;
	env.heartbeat = &hb;
	got = round_trip(&env);   /* an empty Heartbeat is still a message */
	cr_assert_eq(got->msg_case, TLSWATCH__ENVELOPE__MSG_HEARTBEAT);
	cr_assert_not(got->heartbeat->has_sent_unix_ms);
	tlswatch__envelope__free_unpacked(got, NULL);

	hb.has_sent_unix_ms = 1;
	hb.sent_unix_ms = 99;
	got = round_trip(&env);
	cr_assert_eq(got->heartbeat->sent_unix_ms, 99);
	tlswatch__envelope__free_unpacked(got, NULL);
}

/* ---- stream behaviour ---- */

Test(frame, two_frames_back_to_back)
{
	Tlswatch__Envelope e1, e2, *got;
	Tlswatch__Hello h;
	Tlswatch__Ack a;
	uint8_t *f1, *f2, *both;
	size_t l1, l2, consumed;
	char err[128];

	init_hello(&e1, &h, "p1");
	tlswatch__envelope__init(&e2);
	tlswatch__ack__init(&a);
	a.seq = 7;
	e2.msg_case = TLSWATCH__ENVELOPE__MSG_ACK;
	e2.ack = &a;
	f1 = enc(&e1, &l1);
	f2 = enc(&e2, &l2);
	both = malloc(l1 + l2);
	memcpy(both, f1, l1);
	memcpy(both + l1, f2, l2);

	cr_assert_eq(frame_decode(both, l1 + l2, FRAME_DEFAULT_MAX, &got, &consumed,
				  err, sizeof err), FRAME_OK);
	cr_assert_eq(consumed, l1);
	cr_assert_eq(got->msg_case, TLSWATCH__ENVELOPE__MSG_HELLO);
	cr_assert_str_eq(got->hello->probe_id, "p1");
	tlswatch__envelope__free_unpacked(got, NULL);

	cr_assert_eq(frame_decode(both + l1, l2, FRAME_DEFAULT_MAX, &got, &consumed,
				  err, sizeof err), FRAME_OK);
	cr_assert_eq(consumed, l2);
	cr_assert_eq(got->msg_case, TLSWATCH__ENVELOPE__MSG_ACK);
	cr_assert_eq(got->ack->seq, 7);
	tlswatch__envelope__free_unpacked(got, NULL);

	free(f1); free(f2); free(both);
}

Test(frame, byte_by_byte_incomplete_until_last)
{
	Tlswatch__Envelope env, *got;
	Tlswatch__Hello h;
	uint8_t *f;
	size_t len, i, consumed;
	char err[128];

	init_hello(&env, &h, "byte-by-byte-probe");
	h.region = "ap-south";
	f = enc(&env, &len);
	for (i = 0; i < len; i++) {
		/* heap copy of exactly i bytes so ASan catches any over-read */
		uint8_t *part = malloc(i ? i : 1);

		memcpy(part, f, i);
		got = (Tlswatch__Envelope *)1;
		consumed = 99;
		cr_assert_eq(frame_decode(part, i, FRAME_DEFAULT_MAX, &got, &consumed,
					  err, sizeof err), FRAME_INCOMPLETE, "at %zu", i);
		cr_assert_null(got);
		cr_assert_eq(consumed, 0);
		free(part);
	}
	cr_assert_eq(frame_decode(f, len, FRAME_DEFAULT_MAX, &got, &consumed,
				  err, sizeof err), FRAME_OK);
	cr_assert_eq(consumed, len);
	cr_assert_str_eq(got->hello->region, "ap-south");
	tlswatch__envelope__free_unpacked(got, NULL);
	free(f);
}

Test(frame, too_large_from_header_alone)
{
	uint8_t hdr[4] = { 0x00, 0x00, 0x04, 0x01 };   /* 1025 */
	Tlswatch__Envelope *got = (Tlswatch__Envelope *)1;
	size_t consumed = 99;
	char err[128];

	cr_assert_eq(frame_decode(hdr, 4, 1024, &got, &consumed, err, sizeof err),
		     FRAME_TOO_LARGE);
	cr_assert_null(got);
	cr_assert_eq(consumed, 0);
	cr_assert(strstr(err, "1025") && strstr(err, "1024"), "err=%s", err);

	/* exactly max with only the header present is merely incomplete */
	hdr[3] = 0x00;
	cr_assert_eq(frame_decode(hdr, 4, 1024, &got, &consumed, err, sizeof err),
		     FRAME_INCOMPLETE);

	/* 0xFFFFFFFF against the default max */
	memset(hdr, 0xff, 4);
	cr_assert_eq(frame_decode(hdr, 4, FRAME_DEFAULT_MAX, &got, &consumed,
				  err, sizeof err), FRAME_TOO_LARGE);
	cr_assert(strstr(err, "4294967295"), "err=%s", err);
}

/* ---- malformed input ---- */

Test(frame, zero_length_is_malformed)
{
	char err[128];

	cr_assert_eq(decode_raw(NULL, 0, err, sizeof err), FRAME_MALFORMED);
	cr_assert(strstr(err, "zero"), "err=%s", err);
}

Test(frame, garbage_is_malformed)
{
	static const uint8_t ff[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	/* field 1 (hello), LEN 200 but only 2 bytes follow */
	static const uint8_t trunc[] = { 0x0a, 0xc8, 0x01, 0x0a, 0x00 };
	/* wire type 7 does not exist */
	static const uint8_t badwt[] = { 0x0f, 0x00 };
	char err[128];
	uint32_t x = 12345;
	int i, ok = 0;

	cr_assert_eq(decode_raw(ff, sizeof ff, err, sizeof err), FRAME_MALFORMED);
	cr_assert(err[0] != '\0');
	cr_assert_eq(decode_raw(trunc, sizeof trunc, err, sizeof err), FRAME_MALFORMED);
	cr_assert_eq(decode_raw(badwt, sizeof badwt, err, sizeof err), FRAME_MALFORMED);

	/* random payloads: never a crash, only OK (with a oneof) or MALFORMED */
	for (i = 0; i < 5000; i++) {
		uint8_t p[64];
		size_t n = 1 + (size_t)(i % 64), k;

		for (k = 0; k < n; k++) {
			x = x * 1103515245u + 12345u;
			p[k] = (uint8_t)(x >> 16);
		}
		enum frame_status st = decode_raw(p, n, err, sizeof err);
		cr_assert(st == FRAME_OK || st == FRAME_MALFORMED, "st=%d", st);
		ok += st == FRAME_OK;
	}
	cr_assert_lt(ok, 5000);
}

Test(frame, envelope_without_oneof_is_malformed)
{
	/* only an unknown field 15 (varint 1): unpacks, but msg_case NOT_SET */
	static const uint8_t unknown_only[] = { 0x78, 0x01 };
	char err[128];

	cr_assert_eq(decode_raw(unknown_only, sizeof unknown_only, err, sizeof err),
		     FRAME_MALFORMED);
	cr_assert(strstr(err, "no message"), "err=%s", err);
}

Test(frame, missing_required_fields_are_malformed)
{
	/* Envelope{batch{results{port=443 profile="x" outcome="ok"}}}: no target */
	static const uint8_t no_target[] = {
		0x12, 13, 0x0a, 11,
		0x58, 0xbb, 0x03,             /* 11: port = 443 */
		0x72, 1, 'x',                 /* 14: profile */
		0xa2, 0x01, 2, 'o', 'k',      /* 20: outcome */
	};
	/* the same plus 10: target = "h" - must be OK, proving the bytes above
	 * fail only because of the missing field */
	static const uint8_t with_target[] = {
		0x12, 16, 0x0a, 14,
		0x52, 1, 'h',
		0x58, 0xbb, 0x03,
		0x72, 1, 'x',
		0xa2, 0x01, 2, 'o', 'k',
	};
	/* Envelope{hello{}}: Hello.probe_id is required */
	static const uint8_t empty_hello[] = { 0x0a, 0x00 };
	/* Envelope{ack{}}: Ack.seq is required */
	static const uint8_t empty_ack[] = { 0x1a, 0x00 };
	/* a valid Result with a VerifyError lacking reason (24: {depth=0 code=10}) */
	static const uint8_t ve_no_reason[] = {
		0x12, 22, 0x0a, 20,
		0x52, 1, 'h',
		0x58, 0xbb, 0x03,
		0x72, 1, 'x',
		0xa2, 0x01, 2, 'o', 'k',
		0xc2, 0x01, 4, 0x08, 0x00, 0x10, 0x0a,
	};
	char err[128];

	cr_assert_eq(decode_raw(with_target, sizeof with_target, err, sizeof err),
		     FRAME_OK, "err=%s", err);
	cr_assert_eq(decode_raw(no_target, sizeof no_target, err, sizeof err),
		     FRAME_MALFORMED);
	cr_assert_eq(decode_raw(empty_hello, sizeof empty_hello, err, sizeof err),
		     FRAME_MALFORMED);
	cr_assert_eq(decode_raw(empty_ack, sizeof empty_ack, err, sizeof err),
		     FRAME_MALFORMED);
	cr_assert_eq(decode_raw(ve_no_reason, sizeof ve_no_reason, err, sizeof err),
		     FRAME_MALFORMED);
}

Test(frame, relabelled_hello_as_result_is_malformed)
{
	/* Encode a Hello, then relabel the oneof tag from hello (1) to batch (2):
	 * the Hello's field 1 becomes ResultBatch.results, whose bytes "p" are
	 * not a Result with target/port/profile/outcome. */
	Tlswatch__Envelope env;
	Tlswatch__Hello h;
	size_t len;
	char err[128];
	uint8_t *f;

	init_hello(&env, &h, "p");
	f = enc(&env, &len);
	cr_assert_eq(f[4], 0x0a);
	f[4] = 0x12;
	cr_assert_eq(decode_raw(f + 4, len - 4, err, sizeof err), FRAME_MALFORMED);
	free(f);
}

/* ---- encode limits ---- */

Test(frame, encode_refuses_oversize_and_empty)
{
	Tlswatch__Envelope env;
	Tlswatch__Hello h;
	char big[2048];
	uint8_t *out = (uint8_t *)1;
	size_t len = 99, packed;
	struct evbuffer *eb = evbuffer_new();

	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	init_hello(&env, &h, big);
	packed = tlswatch__envelope__get_packed_size(&env);

	cr_assert_eq(frame_encode(&env, &out, &len, 1024), -1);
	cr_assert_null(out);
	cr_assert_eq(len, 0);
	cr_assert_eq(frame_write_evbuffer(eb, &env, 1024), -1);
	cr_assert_eq(evbuffer_get_length(eb), 0);

	/* the limit is inclusive and applies to the payload, not the header */
	cr_assert_eq(frame_encode(&env, &out, &len, packed - 1), -1);
	cr_assert_eq(frame_encode(&env, &out, &len, packed), 0);
	cr_assert_eq(len, packed + 4);
	free(out);

	/* an envelope with no oneof would be a zero-length frame: refused */
	tlswatch__envelope__init(&env);
	cr_assert_eq(frame_encode(&env, &out, &len, FRAME_DEFAULT_MAX), -1);
	cr_assert_eq(frame_write_evbuffer(eb, &env, FRAME_DEFAULT_MAX), -1);
	cr_assert_eq(evbuffer_get_length(eb), 0);
	evbuffer_free(eb);
}

/* ---- evbuffer helpers ---- */

Test(frame, evbuffer_partial_then_complete_drains_one)
{
	Tlswatch__Envelope e1, e2, *got = NULL;
	Tlswatch__Hello h;
	Tlswatch__Ack a;
	struct evbuffer *w = evbuffer_new(), *in = evbuffer_new();
	size_t l1, l2;
	uint8_t *all;
	char err[128];

	init_hello(&e1, &h, "ev-probe");
	tlswatch__envelope__init(&e2);
	tlswatch__ack__init(&a);
	a.seq = 1234;
	e2.msg_case = TLSWATCH__ENVELOPE__MSG_ACK;
	e2.ack = &a;

	cr_assert_eq(frame_write_evbuffer(w, &e1, FRAME_DEFAULT_MAX), 0);
	l1 = evbuffer_get_length(w);
	cr_assert_eq(frame_write_evbuffer(w, &e2, FRAME_DEFAULT_MAX), 0);
	l2 = evbuffer_get_length(w) - l1;
	all = malloc(l1 + l2);
	cr_assert_eq(evbuffer_remove(w, all, l1 + l2), (int)(l1 + l2));
	/* write_evbuffer produces exactly what frame_encode produces */
	{
		uint8_t *f;
		size_t fl;

		cr_assert_eq(frame_encode(&e1, &f, &fl, FRAME_DEFAULT_MAX), 0);
		cr_assert_eq(fl, l1);
		cr_assert_arr_eq(f, all, fl);
		free(f);
	}

	/* 2 bytes: not even a header */
	evbuffer_add(in, all, 2);
	cr_assert_eq(frame_read_evbuffer(in, FRAME_DEFAULT_MAX, &got, err, sizeof err),
		     FRAME_INCOMPLETE);
	cr_assert_null(got);
	cr_assert_eq(evbuffer_get_length(in), 2);

	/* all of frame 1 but its last byte, as separate chains */
	evbuffer_add(in, all + 2, l1 - 3);
	cr_assert_eq(frame_read_evbuffer(in, FRAME_DEFAULT_MAX, &got, err, sizeof err),
		     FRAME_INCOMPLETE);
	cr_assert_eq(evbuffer_get_length(in), l1 - 1, "partial frame left untouched");

	/* last byte of frame 1 + first 3 bytes of frame 2 */
	evbuffer_add(in, all + l1 - 1, 4);
	cr_assert_eq(frame_read_evbuffer(in, FRAME_DEFAULT_MAX, &got, err, sizeof err),
		     FRAME_OK, "err=%s", err);
	cr_assert_eq(got->msg_case, TLSWATCH__ENVELOPE__MSG_HELLO);
	cr_assert_str_eq(got->hello->probe_id, "ev-probe");
	tlswatch__envelope__free_unpacked(got, NULL);
	cr_assert_eq(evbuffer_get_length(in), 3, "drained exactly one frame");

	cr_assert_eq(frame_read_evbuffer(in, FRAME_DEFAULT_MAX, &got, err, sizeof err),
		     FRAME_INCOMPLETE);
	cr_assert_eq(evbuffer_get_length(in), 3);
	evbuffer_add(in, all + l1 + 3, l2 - 3);
	cr_assert_eq(frame_read_evbuffer(in, FRAME_DEFAULT_MAX, &got, err, sizeof err),
		     FRAME_OK);
	cr_assert_eq(got->ack->seq, 1234);
	tlswatch__envelope__free_unpacked(got, NULL);
	cr_assert_eq(evbuffer_get_length(in), 0);

	free(all);
	evbuffer_free(w);
	evbuffer_free(in);
}

Test(frame, evbuffer_too_large_and_malformed_leave_buffer)
{
	static const uint8_t big_hdr[4] = { 0x7f, 0x00, 0x00, 0x00 };
	static const uint8_t no_oneof[6] = { 0, 0, 0, 2, 0x78, 0x01 };
	struct evbuffer *in = evbuffer_new();
	Tlswatch__Envelope *got = (Tlswatch__Envelope *)1;
	char err[128];

	evbuffer_add(in, big_hdr, 4);
	cr_assert_eq(frame_read_evbuffer(in, FRAME_DEFAULT_MAX, &got, err, sizeof err),
		     FRAME_TOO_LARGE);
	cr_assert_null(got);
	cr_assert(strstr(err, "2130706432") && strstr(err, "4194304"), "err=%s", err);
	cr_assert_eq(evbuffer_get_length(in), 4);

	evbuffer_drain(in, 4);
	evbuffer_add(in, no_oneof, sizeof no_oneof);
	cr_assert_eq(frame_read_evbuffer(in, FRAME_DEFAULT_MAX, &got, err, sizeof err),
		     FRAME_MALFORMED);
	cr_assert_eq(evbuffer_get_length(in), sizeof no_oneof);
	evbuffer_free(in);
}
