/*
 * test_handshake.c - probe/handshake.c paths that real servers cannot
 * reach: OpenSSL refusing the name to verify, and the BIO callback called
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
 */
#include <criterion/criterion.h>
#include <pthread.h>
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
	cr_expect_eq(bio_read_cb(b, BIO_CB_READ | BIO_CB_RETURN, "abc", 3, 0, 0, 1, &processed), 1);
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
