/*
 * test_handshake.c - probe/handshake.c paths that real servers cannot
 * reach: OpenSSL refusing the name to verify, and the BIO callback (handshake_facts.c) called
 * without a connection.
 *
 * curl's UNITTEST idea, done the simple way: this file includes
 * handshake.c itself, so its static functions are callable here, and two
 * OpenSSL calls are routed through wrappers that fail on demand. (The
 * archive's handshake.o is then never pulled in: every symbol it defines
 * is already defined here.)
 *
 * The peer is a loopback socket that listens but never answers, so a
 * connection that gets past start_tls can only time out; one that fails
 * the name fails at once, without a timeout.
 *
 * Then hostile peers a loop must survive: a thread that floods the probe
 * with records OpenSSL skips, alone and next to a healthy TLS server (a
 * thread with a self-signed certificate) on the same loop.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

static bool refuse_host, refuse_ip;

static int wrapped_set1_host(SSL *s, const char *name)
{
	return refuse_host ? 0 : SSL_set1_host(s, name);
}

static int wrapped_set1_ip_asc(X509_VERIFY_PARAM *p, const char *ip)
{
	return refuse_ip ? 0 : X509_VERIFY_PARAM_set1_ip_asc(p, ip);
}

#define SSL_set1_host(s, n) wrapped_set1_host((s), (n))
#define X509_VERIFY_PARAM_set1_ip_asc(p, ip) wrapped_set1_ip_asc((p), (ip))
#include "handshake.c"
#undef SSL_set1_host
#undef X509_VERIFY_PARAM_set1_ip_asc

#include "profile.h"

static struct event_base *base;
static struct evdns_base *dns;
static struct profile_list profiles;
static struct tlsctx *tc;
static int listen_fd = -1;
static uint16_t listen_port;

static void setup(void)
{
	char err[256] = "";
	base = event_base_new();
	cr_assert_not_null(base);
	dns = evdns_base_new(base, 0); /* no name servers: numeric hosts only */
	cr_assert_not_null(dns);
	cr_assert_eq(profile_add_builtins(&profiles), 0);
	const struct profile *p = profile_find(&profiles, "modern");
	cr_assert_not_null(p);
	struct tlsctx_opts o = { 0 };
	tc = tlsctx_new(p, &o, err, sizeof err);
	cr_assert_not_null(tc, "%s", err);

	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(listen_fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	cr_assert_eq(bind(listen_fd, (struct sockaddr *)&a, sizeof a), 0);
	cr_assert_eq(listen(listen_fd, 16), 0);
	cr_assert_eq(getsockname(listen_fd, (struct sockaddr *)&a, &len), 0);
	listen_port = ntohs(a.sin_port);
	refuse_host = refuse_ip = false;
}

static void teardown(void)
{
	if (listen_fd >= 0)
		close(listen_fd);
	tlsctx_free(tc);
	profile_list_free(&profiles);
	if (dns)
		evdns_base_free(dns, 0);
	if (base)
		event_base_free(base);
}

TestSuite(handshake, .init = setup, .fini = teardown, .timeout = 20);

struct outcome {
	bool done;
	struct hs_facts f;
};

static void on_done(struct hs_conn *c, void *arg)
{
	struct outcome *o = arg;
	o->done = true;
	o->f = *handshake_facts(c);
	o->f.peer_chain = o->f.verified_chain = NULL; /* owned by c */
	handshake_free(c);
	event_base_loopbreak(base);
}

static struct outcome run(const char *host, double timeout_ms)
{
	struct outcome o = { 0 };
	struct hs_request req = {
		.host = host, .port = listen_port, .connect_to = "127.0.0.1",
		.timeout_ms = timeout_ms, .mtls_wait_ms = 100, .tc = tc,
	};
	cr_assert_not_null(handshake_start(base, dns, &req, on_done, &o));
	cr_assert_eq(event_base_dispatch(base), 0);
	cr_assert(o.done);
	return o;
}

Test(handshake, silent_peer_times_out_in_the_handshake)
{
	/* the control: with the names accepted, the connection reaches the
	 * handshake and waits there */
	struct outcome o = run("probe.test", 300);
	cr_expect_eq(o.f.failed_phase, PH_HANDSHAKE);
	cr_expect(o.f.timed_out);
}

Test(handshake, refused_host_name_fails_the_connection)
{
	refuse_host = true;
	struct outcome o = run("probe.test", 3000);
	cr_expect_eq(o.f.failed_phase, PH_HANDSHAKE);
	cr_expect_not(o.f.timed_out, "went on without checking the name: %s", o.f.detail);
	cr_expect(strstr(o.f.detail, "cannot set the host name probe.test to verify"), "%s",
		  o.f.detail);
}

Test(handshake, refused_ip_address_fails_the_connection)
{
	refuse_ip = true;
	struct outcome o = run("127.0.0.1", 3000);
	cr_expect_eq(o.f.failed_phase, PH_HANDSHAKE);
	cr_expect_not(o.f.timed_out, "went on without checking the address: %s", o.f.detail);
	cr_expect(strstr(o.f.detail, "cannot set the IP address 127.0.0.1 to verify"), "%s",
		  o.f.detail);
}

Test(handshake, bio_callback_without_a_connection)
{
	BIO *b = BIO_new(BIO_s_mem());
	cr_assert_not_null(b);
	BIO_set_callback_arg(b, NULL);
	size_t processed = 3;
	cr_expect_eq(handshake_bio_read_cb(b, BIO_CB_READ | BIO_CB_RETURN, "abc", 3, 0, 0, 1, &processed), 1);
	BIO_free(b);
}

/* ---- a hostile peer: an endless stream of ignored handshake messages ---- */

/* OpenSSL's client skips a well-formed HelloRequest (type 0, length 0)
 * anywhere in a handshake and goes straight on to the next message: as long
 * as the socket has more, SSL_connect never returns. This peer answers the
 * ClientHello with records of nothing else, for flood_ms (bounded, so
 * that code without a bound fails the test instead of hanging it). */
struct flood {
	pthread_t thread;
	int fd;
	double flood_ms;
	long long sent;
	bool flooding;          /* set (atomically) once the first batch is sent */
};

static void *flood_main(void *arg)
{
	struct flood *fl = arg;
	/* one HelloRequest per record: two reads for OpenSSL per 9 bytes, so
	 * the peer writes far faster than the client can skip */
	static const unsigned char one[9] = { 22, 3, 3, 0, 4, 0, 0, 0, 0 };
	unsigned char buf[9 * 1820];
	char hello[4096];

	for (size_t i = 0; i < sizeof buf; i += sizeof one)
		memcpy(buf + i, one, sizeof one);
	fl->fd = accept(listen_fd, NULL, NULL);
	if (fl->fd < 0)
		return NULL;
	if (recv(fl->fd, hello, sizeof hello, 0) <= 0)
		return NULL;
	double end = twtime_mono_ms() + fl->flood_ms;
	while (twtime_mono_ms() < end) {
		ssize_t n = send(fl->fd, buf, sizeof buf, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		fl->sent += n;
		__atomic_store_n(&fl->flooding, true, __ATOMIC_RELEASE);
	}
	return NULL;
}

struct tick {
	double armed, fired;
};

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct tick *t = arg;
	(void)fd; (void)what;
	t->fired = twtime_mono_ms();
}

static void on_done_noloopbreak(struct hs_conn *c, void *arg)
{
	struct outcome *o = arg;
	o->done = true;
	o->f = *handshake_facts(c);
	o->f.peer_chain = o->f.verified_chain = NULL; /* owned by c */
	handshake_free(c);
}

Test(handshake, endless_ignored_records_neither_blow_the_deadline_nor_stall_the_loop)
{
	struct flood fl = { .fd = -1, .flood_ms = 4000 };
	cr_assert_eq(pthread_create(&fl.thread, NULL, flood_main, &fl), 0);

	struct outcome o = { 0 };
	struct hs_request req = {
		.host = "probe.test", .port = listen_port, .connect_to = "127.0.0.1",
		.timeout_ms = 300, .mtls_wait_ms = 100, .tc = tc,
	};
	cr_assert_not_null(handshake_start(base, dns, &req, on_done_noloopbreak, &o));

	/* another connection's timer on the same loop, due in 100 ms */
	struct tick t = { .armed = twtime_mono_ms(), .fired = 0 };
	struct event *tick = evtimer_new(base, on_tick, &t);
	cr_assert_not_null(tick);
	struct timeval tv = { 0, 100 * 1000 };
	cr_assert_eq(evtimer_add(tick, &tv), 0);

	/* 1: the loop ran out of events, as it should once both are done */
	cr_assert_geq(event_base_dispatch(base), 0);
	event_free(tick);
	pthread_join(fl.thread, NULL);
	if (fl.fd >= 0)
		close(fl.fd);

	cr_assert(o.done);
	cr_log_info("flood: %lld bytes sent; handshake %.0f ms: %s", fl.sent, o.f.total_ms, o.f.detail);
	cr_expect_gt(fl.sent, 1 << 16, "the peer sent only %lld bytes", fl.sent);
	cr_expect_eq(o.f.failed_phase, PH_HANDSHAKE);
	cr_expect(o.f.timed_out, "not a timeout: %s", o.f.detail);
	cr_expect_lt(o.f.total_ms, 300 + 200, "total_ms %.0f against a 300 ms timeout", o.f.total_ms);
	cr_expect_gt(t.fired, 0);
	cr_expect_lt(t.fired - t.armed, 100 + 100, "the 100 ms timer fired after %.0f ms",
		     t.fired - t.armed);
}

/* ---- a healthy peer next to the hostile one ---------------------------- */

/* A TLS server in a thread with a throw-away self-signed certificate: the
 * probe records the untrusted chain and completes the handshake. */
struct healthy {
	pthread_t thread;
	int listen_fd;
	uint16_t port;
	SSL_CTX *ctx;
	struct flood *fl;       /* answers only once this one floods */
	bool accepted;
};

static SSL_CTX *self_signed_ctx(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	cr_assert(key && x && ctx);
	X509_NAME *n = X509_get_subject_name(x);
	cr_assert(X509_set_version(x, 2) && ASN1_INTEGER_set(X509_get_serialNumber(x), 1) &&
		  X509_gmtime_adj(X509_getm_notBefore(x), -3600) &&
		  X509_gmtime_adj(X509_getm_notAfter(x), 3600) &&
		  X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
					     (const unsigned char *)"healthy.test", -1, -1, 0) &&
		  X509_set_issuer_name(x, n) && X509_set_pubkey(x, key) &&
		  X509_sign(x, key, EVP_sha256()));
	cr_assert_eq(SSL_CTX_use_certificate(ctx, x), 1);
	cr_assert_eq(SSL_CTX_use_PrivateKey(ctx, key), 1);
	X509_free(x);
	EVP_PKEY_free(key);
	return ctx;
}

static void *healthy_main(void *arg)
{
	struct healthy *h = arg;
	char b[256];
	int fd = accept(h->listen_fd, NULL, NULL);
	if (fd < 0)
		return NULL;
	/* The ClientHello waits in the socket until the flood runs, so the
	 * handshake needs the loop while the other connection floods it. */
	struct timespec ms = { 0, 1000 * 1000 };
	for (int i = 0; i < 5000 && !__atomic_load_n(&h->fl->flooding, __ATOMIC_ACQUIRE); i++)
		nanosleep(&ms, NULL);
	SSL *ssl = SSL_new(h->ctx);
	if (ssl && SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1) {
		h->accepted = true;
		while (SSL_read(ssl, b, sizeof b) > 0)
			;               /* until the probe closes */
	}
	SSL_free(ssl);
	close(fd);
	return NULL;
}

Test(handshake, a_flooding_peer_does_not_delay_a_healthy_one_on_the_same_loop)
{
	struct flood fl = { .fd = -1, .flood_ms = 4000 };
	struct healthy h = { .ctx = self_signed_ctx(), .fl = &fl };
	/* the healthy server writes with SSL_write: a probe that gave up must
	 * fail this test, not kill it */
	cr_assert_neq(signal(SIGPIPE, SIG_IGN), SIG_ERR);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	h.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(h.listen_fd >= 0);
	cr_assert_eq(bind(h.listen_fd, (struct sockaddr *)&a, sizeof a), 0);
	cr_assert_eq(listen(h.listen_fd, 4), 0);
	cr_assert_eq(getsockname(h.listen_fd, (struct sockaddr *)&a, &len), 0);
	h.port = ntohs(a.sin_port);
	cr_assert_eq(pthread_create(&fl.thread, NULL, flood_main, &fl), 0);
	cr_assert_eq(pthread_create(&h.thread, NULL, healthy_main, &h), 0);

	struct outcome bad = { 0 }, good = { 0 };
	struct hs_request req = {
		.host = "probe.test", .port = listen_port, .connect_to = "127.0.0.1",
		.timeout_ms = 2000, .mtls_wait_ms = 100, .tc = tc,
	};
	cr_assert_not_null(handshake_start(base, dns, &req, on_done_noloopbreak, &bad));
	req.host = "healthy.test";
	req.port = h.port;
	cr_assert_not_null(handshake_start(base, dns, &req, on_done_noloopbreak, &good));

	cr_assert_geq(event_base_dispatch(base), 0);
	pthread_join(fl.thread, NULL);
	pthread_join(h.thread, NULL);
	if (fl.fd >= 0)
		close(fl.fd);
	close(h.listen_fd);
	SSL_CTX_free(h.ctx);

	cr_assert(bad.done && good.done);
	cr_log_info("healthy %.0f ms (%s); flooding %.0f ms (%s)", good.f.total_ms, good.f.detail,
		    bad.f.total_ms, bad.f.detail);
	cr_expect(bad.f.timed_out, "the flooding peer: %s", bad.f.detail);
	cr_expect_lt(bad.f.total_ms, 2000 + 200, "the flooding peer took %.0f ms", bad.f.total_ms);
	cr_expect(h.accepted);
	cr_expect(fl.flooding);
	cr_expect(good.f.handshake_done, "the healthy peer: %s", good.f.detail);
	cr_expect_eq(good.f.failed_phase, PH_NONE, "the healthy peer: %s", good.f.detail);
	cr_expect_lt(good.f.total_ms, 500, "the healthy handshake took %.0f ms", good.f.total_ms);
}
