/*
 * standin.c - the collector stand-in; see standin.h.
 *
 * One thread, blocking OpenSSL I/O, one connection at a time (a probe has
 * one stream). standin_stop() sets `stop` and shuts the sockets down so a
 * blocked accept/read returns.
 */
#include "standin.h"
#include "frame.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

struct standin {
	SSL_CTX *ctx;
	int lfd, port;
	int cfd;                    /* the connection being served, or -1 */
	pthread_t th;
	pthread_mutex_t mu;
	bool stop;
	const char *refuse_code, *refuse_message;
	uint64_t conns, hellos, batches, records, acked, errors;
};

static void die(const char *what)
{
	fprintf(stderr, "standin: %s: %s\n", what, strerror(errno));
	ERR_print_errors_fp(stderr);
	abort();
}

static int read_full(SSL *ssl, uint8_t *p, size_t n)
{
	while (n > 0) {
		int r = SSL_read(ssl, p, n > 65536 ? 65536 : (int)n);
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int write_env(SSL *ssl, const Tlswatch__Envelope *env)
{
	uint8_t *buf;
	size_t len;
	if (frame_encode(env, &buf, &len, FRAME_DEFAULT_MAX) != 0)
		return -1;
	int rc = SSL_write(ssl, buf, (int)len) == (int)len ? 0 : -1;
	free(buf);
	return rc;
}

#define BUMP(s, field, v) __atomic_store_n(&(s)->field, (v), __ATOMIC_RELAXED)
#define ADD(s, field, v) __atomic_add_fetch(&(s)->field, (v), __ATOMIC_RELAXED)

/* Serves one connection until it closes. */
static void serve(struct standin *s, SSL *ssl)
{
	for (;;) {
		uint8_t hdr[4];
		if (read_full(ssl, hdr, 4) != 0)
			return;
		size_t len = ((size_t)hdr[0] << 24) | ((size_t)hdr[1] << 16) |
			     ((size_t)hdr[2] << 8) | hdr[3];
		if (len == 0 || len > FRAME_DEFAULT_MAX)
			return;
		uint8_t *buf = malloc(4 + len);
		if (!buf)
			return;
		memcpy(buf, hdr, 4);
		if (read_full(ssl, buf + 4, len) != 0) {
			free(buf);
			return;
		}
		Tlswatch__Envelope *env = NULL;
		size_t used;
		char err[256];
		enum frame_status fs = frame_decode(buf, 4 + len, FRAME_DEFAULT_MAX, &env, &used,
						    err, sizeof err);
		free(buf);
		if (fs != FRAME_OK)
			return;
		Tlswatch__Envelope out = TLSWATCH__ENVELOPE__INIT;
		int rc = 0;
		if (env->msg_case == TLSWATCH__ENVELOPE__MSG_HELLO) {
			ADD(s, hellos, 1);
			if (s->refuse_code) {
				Tlswatch__Error e = TLSWATCH__ERROR__INIT;
				e.code = (char *)s->refuse_code;
				e.message = (char *)s->refuse_message;
				out.msg_case = TLSWATCH__ENVELOPE__MSG_ERROR;
				out.error = &e;
				rc = write_env(ssl, &out);
				if (rc == 0)
					ADD(s, errors, 1);
				tlswatch__envelope__free_unpacked(env, NULL);
				return;   /* and close, as the collector does */
			}
		} else if (env->msg_case == TLSWATCH__ENVELOPE__MSG_BATCH) {
			uint64_t max = 0;
			for (size_t i = 0; i < env->batch->n_results; i++)
				if (env->batch->results[i]->seq > max)
					max = env->batch->results[i]->seq;
			ADD(s, batches, 1);
			ADD(s, records, env->batch->n_results);
			Tlswatch__Ack a = TLSWATCH__ACK__INIT;
			a.seq = max;
			out.msg_case = TLSWATCH__ENVELOPE__MSG_ACK;
			out.ack = &a;
			rc = write_env(ssl, &out);
			if (rc == 0)
				BUMP(s, acked, max);
		}
		tlswatch__envelope__free_unpacked(env, NULL);
		if (rc != 0)
			return;
	}
}

static void *standin_main(void *arg)
{
	struct standin *s = arg;
	for (;;) {
		int fd = accept(s->lfd, NULL, NULL);
		pthread_mutex_lock(&s->mu);
		bool stop = s->stop;
		if (!stop)
			s->cfd = fd;
		pthread_mutex_unlock(&s->mu);
		if (stop) {
			if (fd >= 0)
				close(fd);
			return NULL;
		}
		if (fd < 0)
			continue;
		SSL *ssl = SSL_new(s->ctx);
		if (ssl && SSL_set_fd(ssl, fd) == 1 && SSL_accept(ssl) == 1) {
			ADD(s, conns, 1);
			serve(s, ssl);
			SSL_shutdown(ssl);
		}
		ERR_clear_error();
		SSL_free(ssl);
		pthread_mutex_lock(&s->mu);
		s->cfd = -1;
		pthread_mutex_unlock(&s->mu);
		close(fd);
	}
}

struct standin *standin_start(const struct standin_opts *o)
{
	struct standin *s = calloc(1, sizeof *s);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	int one = 1;

	if (!s)
		die("calloc");
	/* a probe that hangs up must not kill the test with SIGPIPE */
	signal(SIGPIPE, SIG_IGN);
	s->cfd = -1;
	s->refuse_code = o->refuse_code;
	s->refuse_message = o->refuse_message;
	pthread_mutex_init(&s->mu, NULL);
	s->ctx = SSL_CTX_new(TLS_server_method());
	if (!s->ctx || SSL_CTX_use_certificate_chain_file(s->ctx, o->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(s->ctx, o->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_load_verify_locations(s->ctx, o->ca, NULL) != 1)
		die("TLS identity");
	SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0 || setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(s->lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(s->lfd, 8) != 0 ||
	    getsockname(s->lfd, (struct sockaddr *)&a, &alen) != 0)
		die("listen");
	s->port = ntohs(a.sin_port);
	if (pthread_create(&s->th, NULL, standin_main, s) != 0)
		die("pthread_create");
	return s;
}

int standin_port(const struct standin *s)
{
	return s->port;
}

uint64_t standin_count(const struct standin *s, const char *what)
{
	const uint64_t *p = !strcmp(what, "conns") ? &s->conns : !strcmp(what, "hellos") ? &s->hellos
			    : !strcmp(what, "batches") ? &s->batches
			    : !strcmp(what, "records") ? &s->records
			    : !strcmp(what, "acked") ? &s->acked
			    : !strcmp(what, "errors") ? &s->errors : NULL;
	return p ? __atomic_load_n(p, __ATOMIC_RELAXED) : 0;
}

void standin_stop(struct standin *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	if (s->cfd >= 0)
		shutdown(s->cfd, SHUT_RDWR);
	pthread_mutex_unlock(&s->mu);
	shutdown(s->lfd, SHUT_RDWR);
	pthread_join(s->th, NULL);
	close(s->lfd);
	SSL_CTX_free(s->ctx);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
