/*
 * test_load.c - load on one collector (issue 12): 500 concurrent probe
 * connections, each with its own client certificate (CN=load-NNN, OU=load,
 * issued here from the test pipeline CA), stream ResultBatches over mTLS
 * with the real frame code (common/frame.c), one batch in flight per
 * connection, the next sent when its Ack arrives. Measured and printed:
 * connections established, results acked per second (ingest rate), the
 * collector's RSS after warm-up and at the end (growth), rows stored.
 * Asserted: all connections stream, every acked result is stored exactly
 * once, RSS growth stays bounded.
 *
 * Environment: TW_LOAD_CONNS (default 500), TW_LOAD_SECONDS (streaming
 * time, default 12, then as long again with the webhook receiver hung, at
 * most 20 s; `make soak-load` runs 600), TW_LOAD_BATCH (results per
 * batch, default 20).
 *
 * Ownership: the load generator's state (struct load, its connections, the
 * certificates) is freed at the end of the test; connections are closed
 * from the loop, never inside their own callbacks' use of them.
 */
#include <criterion/criterion.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "frame.h"
#include "twtime.h"
#include "probe_run.h"
#include "proc.h"

struct load;

struct lconn {
	struct load *ld;
	int idx;
	char id[32];
	char epoch[33];
	struct bufferevent *bev;
	uint64_t sent_seq, acked_seq;
	bool streaming, dead, refused;
};

struct load {
	struct event_base *base;
	SSL_CTX *ctx;
	EVP_PKEY *key;                 /* one key, every client certificate */
	X509 **certs;
	struct lconn *c;
	int n, batch;
	int port;
	bool sending;
	long long acked_total;
	int opened, streaming, refused, closed;
};

/* Handshakes in flight at once: probes of a fleet do not all connect in
 * the same millisecond, and the collector evicts the oldest unfinished
 * handshake beyond 16 per source address (ingest_listen.c). */
#define LOAD_CONNECTING_MAX 32

static void conn_open(struct load *ld, int i);

static void pump(struct load *ld)
{
	while (ld->opened < ld->n && ld->opened - ld->streaming - ld->closed < LOAD_CONNECTING_MAX)
		conn_open(ld, ld->opened++);
}

static const char *lenv(const char *k)
{
	const char *v = getenv(k);
	cr_assert(v && *v, "%s is not set (run through tests/integration/test_load.sh)", k);
	return v;
}

static long long env_ll(const char *k, long long def)
{
	const char *v = getenv(k);
	return v && *v ? strtoll(v, NULL, 10) : def;
}

/* The collector's resident set, in KiB, from /proc. */
static long rss_kib(pid_t pid)
{
	char *s = tw_read_file(tw_fmt("/proc/%d/status", (int)pid));
	long v = -1;
	char *p = s ? strstr(s, "VmRSS:") : NULL;
	if (p)
		v = strtol(p + 6, NULL, 10);
	free(s);
	return v;
}

/* n client certificates CN=load-NNN OU=load for one fresh P-256 key,
 * signed by the pipeline CA. */
static void issue_certs(struct load *ld, const char *pipe)
{
	FILE *f = fopen(tw_fmt("%s/pipe-ca.pem", pipe), "r");
	cr_assert(f);
	X509 *ca = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	f = fopen(tw_fmt("%s/pipe-ca.key", pipe), "r");
	cr_assert(f);
	EVP_PKEY *cakey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	cr_assert(ca && cakey, "cannot read the pipeline CA");
	ld->key = EVP_EC_gen("P-256");
	cr_assert(ld->key);
	ld->certs = calloc((size_t)ld->n, sizeof *ld->certs);
	cr_assert(ld->certs);
	for (int i = 0; i < ld->n; i++) {
		X509 *x = X509_new();
		cr_assert(x);
		X509_set_version(x, 2);
		ASN1_INTEGER_set(X509_get_serialNumber(x), 100000 + i);
		X509_gmtime_adj(X509_getm_notBefore(x), -3600);
		X509_gmtime_adj(X509_getm_notAfter(x), 86400);
		X509_NAME *nm = X509_get_subject_name(x);
		X509_NAME_add_entry_by_txt(nm, "OU", MBSTRING_ASC, (const unsigned char *)"load", -1, -1, 0);
		X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
					   (const unsigned char *)tw_fmt("load-%03d", i), -1, -1, 0);
		X509_set_issuer_name(x, X509_get_subject_name(ca));
		X509_set_pubkey(x, ld->key);
		X509V3_CTX v3;
		X509V3_set_ctx(&v3, ca, x, NULL, NULL, 0);
		const char *ext[][2] = { { "basicConstraints", "critical,CA:FALSE" },
					 { "keyUsage", "critical,digitalSignature" },
					 { "extendedKeyUsage", "clientAuth" } };
		for (size_t k = 0; k < 3; k++) {
			X509_EXTENSION *e = X509V3_EXT_conf(NULL, &v3, ext[k][0], ext[k][1]);
			cr_assert(e);
			X509_add_ext(x, e, -1);
			X509_EXTENSION_free(e);
		}
		cr_assert(X509_sign(x, cakey, EVP_sha256()) > 0);
		ld->certs[i] = x;
	}
	X509_free(ca);
	EVP_PKEY_free(cakey);
}

static void send_env(struct lconn *c, const Tlswatch__Envelope *e)
{
	if (frame_write_evbuffer(bufferevent_get_output(c->bev), e, FRAME_DEFAULT_MAX) != 0)
		c->dead = true;
}

static void send_hello(struct lconn *c)
{
	Tlswatch__Hello h = TLSWATCH__HELLO__INIT;
	Tlswatch__Envelope e = TLSWATCH__ENVELOPE__INIT;
	h.probe_id = c->id;
	h.region = "load";
	h.version = "load-test";
	h.spool_epoch = c->epoch;
	h.has_heartbeat_ms = true;
	h.heartbeat_ms = 5000;
	h.has_sent_unix_ms = true;
	h.sent_unix_ms = (int64_t)twtime_wall_ms();
	e.msg_case = TLSWATCH__ENVELOPE__MSG_HELLO;
	e.hello = &h;
	send_env(c, &e);
}

static void send_batch(struct lconn *c)
{
	int n = c->ld->batch;
	Tlswatch__Result rs[64], *rp[64];
	int64_t now = (int64_t)twtime_wall_ms();
	for (int i = 0; i < n; i++) {
		Tlswatch__Result *r = &rs[i];
		tlswatch__result__init(r);
		r->has_seq = true;
		r->seq = c->sent_seq + 1 + (uint64_t)i;
		r->has_started_unix_ms = true;
		r->started_unix_ms = now;
		r->target = "load.example.test";
		r->port = (uint32_t)(443 + c->idx % 50);
		r->sni = "load.example.test";
		r->profile = "modern";
		r->outcome = "ok";
		r->tls_version = "TLSv1.3";
		r->has_handshake_ms = true;
		r->handshake_ms = 12.5;
		r->has_total_ms = true;
		r->total_ms = 20.25;
		rp[i] = r;
	}
	Tlswatch__ResultBatch b = TLSWATCH__RESULT_BATCH__INIT;
	Tlswatch__Envelope e = TLSWATCH__ENVELOPE__INIT;
	b.n_results = (size_t)n;
	b.results = rp;
	e.msg_case = TLSWATCH__ENVELOPE__MSG_BATCH;
	e.batch = &b;
	send_env(c, &e);
	c->sent_seq += (uint64_t)n;
}

static void conn_close(struct lconn *c)
{
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
		c->ld->closed++;
		if (c->streaming)
			c->ld->streaming--;
		c->streaming = false;
		pump(c->ld);
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct lconn *c = arg;
	struct load *ld = c->ld;
	char err[160];
	for (;;) {
		Tlswatch__Envelope *e = NULL;
		enum frame_status st = frame_read_evbuffer(bufferevent_get_input(bev), FRAME_DEFAULT_MAX,
							   &e, err, sizeof err);
		if (st == FRAME_INCOMPLETE)
			break;
		if (st != FRAME_OK) {
			fprintf(stderr, "%s: bad frame from the collector: %s\n", c->id, err);
			c->dead = true;
			break;
		}
		if (e->msg_case == TLSWATCH__ENVELOPE__MSG_ERROR) {
			fprintf(stderr, "%s: refused: %s %s\n", c->id, e->error->code,
				e->error->message ? e->error->message : "");
			c->refused = true;
			ld->refused++;
			c->dead = true;
		} else if (e->msg_case == TLSWATCH__ENVELOPE__MSG_ACK) {
			if (!c->streaming) {
				c->streaming = true;
				ld->streaming++;
				pump(ld);
			}
			if (e->ack->seq > c->acked_seq) {
				ld->acked_total += (long long)(e->ack->seq - c->acked_seq);
				c->acked_seq = e->ack->seq;
			}
			if (ld->sending && c->acked_seq == c->sent_seq)
				send_batch(c);
		}
		tlswatch__envelope__free_unpacked(e, NULL);
	}
	if (c->dead)
		conn_close(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct lconn *c = arg;
	(void)bev;
	if (getenv("TW_LOAD_DEBUG"))
		fprintf(stderr, "%s: event 0x%x\n", c->id, what);
	if (what & BEV_EVENT_CONNECTED) {
		/* the collector acks a new spool epoch's first commit, not the
		 * Hello: the first batch goes right after it */
		send_hello(c);
		send_batch(c);
		return;
	}
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		if (e) {
			char b[256];
			ERR_error_string_n(e, b, sizeof b);
			fprintf(stderr, "%s: %s\n", c->id, b);
		}
		conn_close(c);
	}
}

static void conn_open(struct load *ld, int i)
{
	struct lconn *c = &ld->c[i];
	unsigned char rnd[16];
	memset(c, 0, sizeof *c);
	c->ld = ld;
	c->idx = i;
	snprintf(c->id, sizeof c->id, "load-%03d", i);
	cr_assert(RAND_bytes(rnd, sizeof rnd) == 1);
	for (int k = 0; k < 16; k++)
		snprintf(c->epoch + 2 * k, 3, "%02x", rnd[k]);
	SSL *ssl = SSL_new(ld->ctx);
	cr_assert(ssl);
	cr_assert(SSL_use_certificate(ssl, ld->certs[i]) == 1 && SSL_use_PrivateKey(ssl, ld->key) == 1);
	SSL_set_tlsext_host_name(ssl, "localhost");
	cr_assert(SSL_set1_host(ssl, "localhost") == 1);
	/* each probe from its own loopback address, as a fleet would be:
	 * 127.1.X.Y, two connections per address */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(fd >= 0);
	struct sockaddr_in src = { .sin_family = AF_INET };
	src.sin_addr.s_addr = htonl(0x7f010000u | (uint32_t)((i / 2) / 250) << 8 | (uint32_t)(1 + (i / 2) % 250));
	cr_assert(bind(fd, (struct sockaddr *)&src, sizeof src) == 0, "bind 127.1.x.y: %m");
	cr_assert(evutil_make_socket_nonblocking(fd) == 0);
	c->bev = bufferevent_openssl_socket_new(ld->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE);
	cr_assert(c->bev);
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)ld->port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sa, sizeof sa) != 0)
		conn_close(c);
}

static void run_for(struct load *ld, double secs)
{
	struct timeval tv = { (time_t)secs, (suseconds_t)((secs - (double)(time_t)secs) * 1e6) };
	event_base_loopexit(ld->base, &tv);
	event_base_dispatch(ld->base);
}

/* Streams for secs; returns the results acked meanwhile. */
static long long stream_for(struct load *ld, double secs)
{
	long long a0 = ld->acked_total;
	run_for(ld, secs);
	return ld->acked_total - a0;
}

Test(load, five_hundred_probes_stream_to_one_collector, .timeout = 1800)
{
	struct load ld;
	int nconn = (int)env_ll("TW_LOAD_CONNS", 500);
	double secs = (double)env_ll("TW_LOAD_SECONDS", 12);
	const char *pipe = lenv("TW_PIPE");
	const char *work = lenv("TW_WORK");

	memset(&ld, 0, sizeof ld);
	ld.n = nconn;
	ld.batch = (int)env_ll("TW_LOAD_BATCH", 20);
	cr_assert(ld.batch >= 1 && ld.batch <= 64);
	ld.port = (int)strtol(lenv("TW_PORT_COLLECTOR"), NULL, 10);
	signal(SIGPIPE, SIG_IGN);
	struct rlimit rl;
	cr_assert(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	cr_assert(rl.rlim_cur > (rlim_t)nconn + 64, "RLIMIT_NOFILE %lu is too low for %d connections",
		  (unsigned long)rl.rlim_cur, nconn);

	/* the database and the collector */
	char db[64] = "load", conninfo[1024], yaml[600], log[600];
	PGconn *admin = tw_pg(NULL);
	cr_assert(admin);
	cr_assert(tw_pg_exec(admin, tw_fmt("CREATE DATABASE %s", db)) == 0);
	PQfinish(admin);
	snprintf(conninfo, sizeof conninfo, "%s dbname=%s", lenv("TW_PG_CONNINFO"), db);
	snprintf(yaml, sizeof yaml, "%s/collector.yaml", work);
	/* one webhook sink whose receiver accepts and never answers (hung) */
	const char *notify = tw_fmt("%s/notify.yaml", work);
	cr_assert(tw_write_file(notify, tw_fmt(
		"sinks:\n  - name: hung\n    type: webhook\n    url: http://127.0.0.1:%s/hook\n"
		"    secret: whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n    timeout: 5m\n"
		"routes:\n  - sinks: [hung]\n", lenv("TW_PORT_HOOK"))) == 0);
	snprintf(log, sizeof log, "%s/logs/collector.log", work);
	cr_assert(tw_write_file(yaml, tw_fmt(
		"listen: 127.0.0.1:%d\n"
		"tls:\n  ca_file: %s/pipe-ca.pem\n  cert_file: %s/collector.pem\n  key_file: %s/collector.key\n"
		"http:\n  listen: 127.0.0.1:%s\n"
		"database:\n  conninfo: \"%s\"\n  connections: 4\n"
		"alerting:\n  notify_file: %s\n"
		"log:\n  level: warn\n",
		ld.port, pipe, pipe, pipe, lenv("TW_PORT_HTTP"), conninfo, notify)) == 0);
	struct probe_run r;
	char *margv[] = { (char *)tw_fmt("%s/tlswatch-collector", lenv("TW_BUILD")), "migrate", "-c",
			  yaml, NULL };
	cr_assert(probe_run_argv(&r, margv, 60) == 0);
	cr_assert(r.exit_code == 0, "migrate failed:\n%s", probe_describe(&r));
	probe_run_free(&r);
	char *argv[] = { (char *)tw_fmt("%s/tlswatch-collector", lenv("TW_BUILD")), "run", "-c", yaml,
			 NULL };
	pid_t coll = tw_spawn(argv, log);
	cr_assert(coll > 0);
	cr_assert(tw_wait_port(ld.port, 15000), "collector did not listen");

	/* the load generator */
	double t = tw_now_ms();
	issue_certs(&ld, pipe);
	printf("load: %d client certificates issued in %.1f s\n", nconn, (tw_now_ms() - t) / 1000);
	ld.base = event_base_new();
	ld.ctx = SSL_CTX_new(TLS_client_method());
	cr_assert(ld.base && ld.ctx);
	cr_assert(SSL_CTX_load_verify_locations(ld.ctx, tw_fmt("%s/pipe-ca.pem", pipe), NULL) == 1);
	SSL_CTX_set_verify(ld.ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_min_proto_version(ld.ctx, TLS1_2_VERSION);
	ld.c = calloc((size_t)nconn, sizeof *ld.c);
	cr_assert(ld.c);
	long rss0 = rss_kib(coll);
	t = tw_now_ms();
	ld.sending = true;
	pump(&ld);
	/* every connection says Hello, sends a batch and gets its Ack */
	for (int k = 0; k < 300 && ld.streaming + ld.closed < nconn; k++)
		run_for(&ld, 0.1);
	double t_conn = (tw_now_ms() - t) / 1000;
	printf("load: %d of %d connections streaming after %.1f s (%d refused, %d closed)\n",
	       ld.streaming, nconn, t_conn, ld.refused, ld.closed);
	cr_assert_eq(ld.streaming, nconn, "only %d of %d connections stream", ld.streaming, nconn);

	/* warm up, then measure */
	stream_for(&ld, 3);
	long rss_warm = rss_kib(coll);
	double t_meas = tw_now_ms();
	long long acked = 0;
	long rss_mid = -1;
	for (double done = 0; done < secs; ) {
		double step = secs - done < 10 ? secs - done : 10;
		acked += stream_for(&ld, step);
		done += step;
		if (rss_mid < 0 && done >= secs / 2)
			rss_mid = rss_kib(coll);
	}
	double meas_s = (tw_now_ms() - t_meas) / 1000;
	long rss_end = rss_kib(coll);
	double rate = (double)acked / meas_s;
	printf("load: %d connections, %.0f s: %lld results acked, %.0f results/s; streaming at the end %d\n",
	       nconn, meas_s, acked, rate, ld.streaming);

	/* the same with the notifier stuck on a receiver that never answers:
	 * 200 alerts to deliver, each delivery hanging for its 5 min timeout */
	PGconn *pg = PQconnectdb(conninfo);
	cr_assert(PQstatus(pg) == CONNECTION_OK);
	cr_assert(tw_pg_exec(pg,
		"INSERT INTO alerts (dedup_key, rule, severity, state, subject, summary, created_at, "
		"pending_since, firing_since, last_eval_at) SELECT 'load-' || g, 'load_rule', 'page', "
		"'firing', 'load-' || g, 'load test', now(), now(), now(), now() "
		"FROM generate_series(1, 200) g") == 0);
	cr_assert(tw_pg_exec(pg, "INSERT INTO alert_events (alert_id, at, to_state) SELECT id, now(), "
				 "'firing' FROM alerts WHERE rule = 'load_rule'") == 0);
	cr_assert(tw_pg_exec(pg,
		"INSERT INTO notification_outbox (alert_id, event_id, action, severity, dedup_key, payload) "
		"SELECT a.id, e.id, 'trigger', 'page', a.dedup_key, jsonb_build_object('rule', a.rule, "
		"'severity', 'page', 'state', 'firing', 'summary', a.summary, 'subject', a.subject, "
		"'dedup_key', a.dedup_key, 'starts_at', now()) "
		"FROM alerts a JOIN alert_events e ON e.alert_id = a.id WHERE a.rule = 'load_rule'") == 0);
	stream_for(&ld, 3);
	long long hung_deliveries = tw_pg_ll(pg, "SELECT count(*) FROM notification_deliveries");
	double t_hung = tw_now_ms();
	double hung_secs = secs < 20 ? secs : 20;
	long long acked_hung = stream_for(&ld, hung_secs);
	double hung_s = (tw_now_ms() - t_hung) / 1000;
	double rate_hung = (double)acked_hung / hung_s;
	long long delivered = tw_pg_ll(pg, "SELECT count(*) FROM notification_deliveries "
					   "WHERE state = 'delivered'");
	long rss_hung = rss_kib(coll);
	ld.sending = false;
	stream_for(&ld, 2);   /* the batches in flight are acked */
	printf("load: collector RSS after the hung-webhook phase %ld KiB\n", rss_hung);
	printf("load: with the webhook receiver hung (%lld deliveries made, %lld delivered): "
	       "%lld results in %.0f s, %.0f results/s (%.0f%% of the rate without)\n",
	       hung_deliveries, delivered, acked_hung, hung_s, rate_hung, 100 * rate_hung / rate);
	cr_expect_gt(hung_deliveries, 0, "the notifier made no delivery: the hung receiver was not tried");
	cr_expect_eq(delivered, 0, "a delivery to a receiver that never answers counted as delivered");
	/* ingest does not wait for webhooks; the margin is for a loaded machine */
	cr_expect_gt(rate_hung, rate * 0.5, "ingest slowed from %.0f to %.0f results/s with the "
		     "webhook receiver hung", rate, rate_hung);
	printf("load: collector RSS idle %ld KiB, after warm-up %ld KiB, half-way %ld KiB, end %ld KiB "
	       "(growth over the measured %.0f s: %+ld KiB)\n", rss0, rss_warm, rss_mid, rss_end,
	       meas_s, rss_end - rss_warm);
	cr_expect_eq(ld.streaming, nconn, "%d connections dropped while streaming",
		     nconn - ld.streaming);
	cr_expect_gt(acked, 0);

	/* every acked result is stored once */
	long long rows = tw_pg_ll(pg, "SELECT count(*) FROM results");
	long long distinct = tw_pg_ll(pg, "SELECT count(*) FROM (SELECT DISTINCT probe_id, seq FROM results) d");
	printf("load: rows stored %lld (distinct %lld), acked in total %lld\n", rows, distinct,
	       ld.acked_total);
	cr_expect_eq(rows, distinct, "duplicate rows");
	cr_expect_geq(rows, ld.acked_total, "acked %lld but stored %lld", ld.acked_total, rows);
	PQfinish(pg);
	/* memory stable: the second half grows less than the warm-up took, and
	 * under 64 MiB in all */
	cr_expect_lt(rss_end - rss_warm, 64 * 1024, "RSS grew %ld KiB while streaming",
		     rss_end - rss_warm);

	ld.opened = ld.n;   /* nothing more to open */
	for (int i = 0; i < nconn; i++)
		conn_close(&ld.c[i]);
	int st = tw_stop(coll, SIGTERM, 30000);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "collector did not exit 0 on SIGTERM (%d)", st);
	cr_expect_eq(tw_file_count(log, "Sanitizer"), 0, "sanitizer report in %s", log);
	for (int i = 0; i < nconn; i++)
		X509_free(ld.certs[i]);
	free(ld.certs);
	free(ld.c);
	EVP_PKEY_free(ld.key);
	SSL_CTX_free(ld.ctx);
	event_base_free(ld.base);
}
