/*
 * tlsprobe.c - the blocking probe client of integration tests (see
 * tlsprobe.h).
 */
#include "tlsprobe.h"
#include "frame.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static void set_timeouts(int fd, unsigned ms)
{
	struct timeval tv = { ms / 1000, (long)(ms % 1000) * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int tcp_connect(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	set_timeouts(fd, 5000);
	return fd;
}

struct tw_probe *tw_probe_connect(const char *pki_dir, const char *name, int maxver, int port)
{
	char cert[512], key[512], ca[512];
	struct tw_probe *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->fd = -1;
	signal(SIGPIPE, SIG_IGN);  /* writes to a refused connection fail, not kill */
	snprintf(ca, sizeof ca, "%s/pipe-ca.pem", pki_dir);
	if (!(c->ctx = SSL_CTX_new(TLS_client_method())))
		goto fail;
	if (maxver)
		SSL_CTX_set_max_proto_version(c->ctx, maxver);
	if (SSL_CTX_load_verify_locations(c->ctx, ca, NULL) != 1)
		goto fail;
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	if (name) {
		snprintf(cert, sizeof cert, "%s/%s.pem", pki_dir, name);
		snprintf(key, sizeof key, "%s/%s.key", pki_dir, name);
		if (SSL_CTX_use_certificate_chain_file(c->ctx, cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(c->ctx, key, SSL_FILETYPE_PEM) != 1)
			goto fail;
	}
	if ((c->fd = tcp_connect(port)) < 0)
		goto fail;
	struct sockaddr_in me;
	socklen_t sl = sizeof me;
	if (getsockname(c->fd, (struct sockaddr *)&me, &sl) != 0)
		goto fail;
	c->local_port = ntohs(me.sin_port);
	snprintf(c->peer, sizeof c->peer, "peer=127.0.0.1:%u", c->local_port);
	if (!(c->ssl = SSL_new(c->ctx)) || SSL_set_fd(c->ssl, c->fd) != 1 ||
	    SSL_set1_host(c->ssl, "localhost") != 1)
		goto fail;
	c->handshake_ok = SSL_connect(c->ssl) == 1;
	ERR_clear_error();
	return c;
fail:
	ERR_clear_error();
	tw_probe_free(c);
	return NULL;
}

void tw_probe_free(struct tw_probe *c)
{
	if (!c)
		return;
	SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

void tw_probe_set_timeout(struct tw_probe *c, unsigned ms)
{
	struct timeval tv = { ms / 1000, (long)(ms % 1000) * 1000 };
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

void tw_probe_write(struct tw_probe *c, const void *buf, size_t len)
{
	if (SSL_write(c->ssl, buf, (int)len) <= 0)
		ERR_clear_error();
}

/* SO_RCVTIMEO expired: OpenSSL reports EAGAIN as want-read. */
static bool timed_out(int sslerr)
{
	return sslerr == SSL_ERROR_WANT_READ ||
	       (sslerr == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK));
}

int tw_probe_send(struct tw_probe *c, const Tlswatch__Envelope *e)
{
	uint8_t *buf;
	size_t len;
	if (frame_encode(e, &buf, &len, FRAME_DEFAULT_MAX) != 0)
		return -1;
	tw_probe_write(c, buf, len);
	free(buf);
	return 0;
}

/* Reads exactly len bytes: 1 ok, 0 closed/error, -1 timeout. */
static int read_full(struct tw_probe *c, uint8_t *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		int n = SSL_read(c->ssl, buf + got, (int)(len - got));
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		int e = SSL_get_error(c->ssl, n);
		ERR_clear_error();
		return timed_out(e) ? -1 : 0;
	}
	return 1;
}

int tw_probe_read_env(struct tw_probe *c, Tlswatch__Envelope **out)
{
	uint8_t hdr[4];
	*out = NULL;
	int r = read_full(c, hdr, 4);
	if (r != 1)
		return r;
	uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
	if (n > (1u << 20))
		return -2;
	uint8_t *buf = malloc(4 + (size_t)n);
	if (!buf)
		return -2;
	memcpy(buf, hdr, 4);
	r = read_full(c, buf + 4, n);
	if (r != 1) {
		free(buf);
		return r;
	}
	size_t used;
	enum frame_status st = frame_decode(buf, 4 + (size_t)n, FRAME_DEFAULT_MAX, out, &used,
					    NULL, 0);
	free(buf);
	return st == FRAME_OK ? 1 : -2;
}

bool tw_probe_closed_by_peer(struct tw_probe *c)
{
	for (int i = 0; i < 50; i++) {
		uint8_t b[256];
		int n = SSL_read(c->ssl, b, sizeof b);
		if (n > 0)
			continue;
		int e = SSL_get_error(c->ssl, n);
		ERR_clear_error();
		return !timed_out(e);
	}
	return false;
}

bool tw_probe_quiet_for(struct tw_probe *c, unsigned ms)
{
	tw_probe_set_timeout(c, ms);
	uint8_t b[1];
	int n = SSL_read(c->ssl, b, 1);
	int e = SSL_get_error(c->ssl, n);
	ERR_clear_error();
	tw_probe_set_timeout(c, 5000);
	return n <= 0 && timed_out(e);
}

static int64_t wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int tw_probe_send_hello(struct tw_probe *c, const char *probe_id, const char *region)
{
	Tlswatch__Hello h = TLSWATCH__HELLO__INIT;
	Tlswatch__Envelope e = TLSWATCH__ENVELOPE__INIT;
	h.probe_id = (char *)probe_id;
	h.region = (char *)region;
	h.version = "test-probe 1.0";
	h.has_sent_unix_ms = true;
	h.sent_unix_ms = wall_ms();
	e.msg_case = TLSWATCH__ENVELOPE__MSG_HELLO;
	e.hello = &h;
	return tw_probe_send(c, &e);
}

int tw_probe_send_heartbeat(struct tw_probe *c)
{
	Tlswatch__Heartbeat h = TLSWATCH__HEARTBEAT__INIT;
	Tlswatch__Envelope e = TLSWATCH__ENVELOPE__INIT;
	h.has_sent_unix_ms = true;
	h.sent_unix_ms = wall_ms();
	e.msg_case = TLSWATCH__ENVELOPE__MSG_HEARTBEAT;
	e.heartbeat = &h;
	return tw_probe_send(c, &e);
}

int tw_probe_send_batch(struct tw_probe *c, uint64_t first, uint64_t last,
			const char *claim_probe, const char *claim_region, int64_t started_base_ms)
{
	size_t n = (size_t)(last - first + 1);
	Tlswatch__Result *rs = calloc(n, sizeof *rs);
	Tlswatch__Result **rp = calloc(n, sizeof *rp);
	int rc = -1;
	if (!rs || !rp)
		goto out;
	for (size_t i = 0; i < n; i++) {
		Tlswatch__Result *r = &rs[i];
		tlswatch__result__init(r);
		r->probe_id = (char *)claim_probe;
		r->region = (char *)claim_region;
		r->has_seq = true;
		r->seq = first + i;
		r->has_started_unix_ms = true;
		r->started_unix_ms = started_base_ms + (int64_t)(first + i) * 1000;
		r->target = "www.example.test";
		r->port = 443;
		r->sni = "www.example.test";
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
	b.n_results = n;
	b.results = rp;
	e.msg_case = TLSWATCH__ENVELOPE__MSG_BATCH;
	e.batch = &b;
	rc = tw_probe_send(c, &e);
out:
	free(rp);
	free(rs);
	return rc;
}
