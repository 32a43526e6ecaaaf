/*
 * test_ocsp_check.c - probe/ocsp_check.c: the responder query against a
 * real HTTP server on loopback (libevent's evhttp in this process): a
 * normal answer is handed over whole, one over OCSP_MAX_RESPONSE is a
 * responder failure whether it comes with a Content-Length or chunked, and
 * an HTTP error is reported as such.
 *
 * The request needs a leaf and its issuer; one self-signed certificate,
 * made at test time, serves as both.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "ocsp_check.h"

static struct event_base *base;
static struct evhttp *http;
static int port;
static X509 *cert;

/* The body size of each path the server answers. */
static void serve(struct evhttp_request *req, void *arg)
{
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct evbuffer *b = evbuffer_new();
	cr_assert_not_null(b);
	size_t n = 0;
	if (strcmp(path, "/small") == 0)
		n = 1000;
	else if (strcmp(path, "/limit") == 0)
		n = OCSP_MAX_RESPONSE;
	else if (strcmp(path, "/over") == 0)
		n = OCSP_MAX_RESPONSE + 1;
	else if (strcmp(path, "/huge") == 0)
		n = 8u << 20;

	if (strcmp(path, "/chunked") == 0) {
		/* 8 MiB in 64 KiB chunks, no Content-Length */
		static unsigned char chunk[65536];
		memset(chunk, 'C', sizeof chunk);
		evhttp_send_reply_start(req, 200, "OK");
		for (int i = 0; i < 128; i++) {
			cr_assert_eq(evbuffer_add(b, chunk, sizeof chunk), 0);
			evhttp_send_reply_chunk(req, b);
		}
		evhttp_send_reply_end(req);
	} else if (strcmp(path, "/error") == 0) {
		evhttp_send_error(req, 503, "busy");
	} else {
		unsigned char *body = malloc(n ? n : 1);
		cr_assert_not_null(body);
		memset(body, 'B', n);
		cr_assert_eq(evbuffer_add(b, body, n), 0);
		free(body);
		evhttp_send_reply(req, 200, "OK", b);
	}
	evbuffer_free(b);
}

static void setup(void)
{
	base = event_base_new();
	cr_assert_not_null(base);
	http = evhttp_new(base);
	cr_assert_not_null(http);
	evhttp_set_gencb(http, serve, NULL);
	struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
	cr_assert_not_null(bs);
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	cr_assert_eq(getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &len), 0);
	port = ntohs(sa.sin_port);

	EVP_PKEY *k = EVP_EC_gen("P-256");
	cr_assert_not_null(k);
	cert = X509_new();
	cr_assert_not_null(cert);
	cr_assert_eq(ASN1_INTEGER_set(X509_get_serialNumber(cert), 7), 1);
	X509_NAME *n = X509_get_subject_name(cert);
	cr_assert_eq(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
						(const unsigned char *)"ocsp test", -1, -1, 0), 1);
	cr_assert_eq(X509_set_issuer_name(cert, n), 1);
	cr_assert_not_null(X509_gmtime_adj(X509_getm_notBefore(cert), 0));
	cr_assert_not_null(X509_gmtime_adj(X509_getm_notAfter(cert), 3600));
	cr_assert_eq(X509_set_pubkey(cert, k), 1);
	cr_assert_gt(X509_sign(cert, k, EVP_sha256()), 0);
	EVP_PKEY_free(k);
}

static void teardown(void)
{
	X509_free(cert);
	if (http)
		evhttp_free(http);
	if (base)
		event_base_free(base);
}

TestSuite(ocsp_check, .init = setup, .fini = teardown, .timeout = 20);

struct answer {
	bool called;
	bool got_der;
	size_t len;
	char why[160];
};

static void on_answer(const unsigned char *der, size_t len, const char *why, void *arg)
{
	struct answer *a = arg;
	a->called = true;
	a->got_der = der != NULL;
	a->len = len;
	snprintf(a->why, sizeof a->why, "%s", why ? why : "");
	event_base_loopbreak(base);
}

static struct answer ask(const char *path)
{
	struct answer a = { 0 };
	char url[128], err[256] = "";
	snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
	struct ocsp_query *q = ocsp_query_start(base, NULL, url, cert, cert, 10000, on_answer, &a,
						err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	cr_assert_eq(event_base_dispatch(base), 0);
	ocsp_query_free(q);
	cr_assert(a.called, "%s: no answer", path);
	return a;
}

Test(ocsp_check, small_answer_is_handed_over_whole)
{
	struct answer a = ask("/small");
	cr_expect(a.got_der, "%s", a.why);
	cr_expect_eq(a.len, 1000);
}

Test(ocsp_check, answer_at_the_cap_is_accepted)
{
	struct answer a = ask("/limit");
	cr_expect(a.got_der, "%s", a.why);
	cr_expect_eq(a.len, OCSP_MAX_RESPONSE);
}

Test(ocsp_check, one_byte_over_the_cap_is_a_responder_failure)
{
	struct answer a = ask("/over");
	cr_expect_not(a.got_der, "a body of %zu bytes was accepted", a.len);
	cr_expect(strstr(a.why, "larger than 65536 bytes"), "%s", a.why);
}

Test(ocsp_check, huge_answer_is_a_responder_failure)
{
	struct answer a = ask("/huge");
	cr_expect_not(a.got_der, "a body of %zu bytes was accepted", a.len);
	cr_expect(strstr(a.why, "larger than 65536 bytes"), "%s", a.why);
}

Test(ocsp_check, huge_chunked_answer_is_a_responder_failure)
{
	struct answer a = ask("/chunked");
	cr_expect_not(a.got_der, "a body of %zu bytes was accepted", a.len);
	cr_expect(strstr(a.why, "larger than 65536 bytes"), "%s", a.why);
}

Test(ocsp_check, http_error_is_reported)
{
	struct answer a = ask("/error");
	cr_expect_not(a.got_der);
	cr_expect_str_eq(a.why, "HTTP 503");
}
