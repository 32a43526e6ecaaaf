/*
 * bench_ingest - K synthetic probes streaming N Results to a collector.
 *
 *   bench_ingest HOST PORT PKI_DIR N BATCH WINDOW ID:REGION [ID:REGION ...]
 *
 * One mutual-TLS connection per ID:REGION (client certificate
 * PKI_DIR/ID.pem + .key, collector verified against PKI_DIR/pipe-ca.pem and
 * the address HOST), all on one event_base. Each connection speaks exactly
 * the probe's uplink protocol (probe/uplink.c, DESIGN 5): Hello
 * {probe_id, region, version, last_acked_seq = 0, sent_unix_ms}, then
 * ResultBatch frames of BATCH results with at most WINDOW unacked batches in
 * flight; every Ack(seq) releases the batches up to seq and the window is
 * refilled, until the collector has acked the probe's last seq. N is split
 * evenly over the K probes; seqs are 1..N/K per probe (a fresh database is
 * expected).
 *
 * The Results look like a real probe's (bench_ingest_data.h): BENCH_INGEST_TARGETS (1000)
 * targets x 4 profiles per probe. BENCH_INGEST_MODE=adversarial (default):
 * every entry every 60 s, started_unix_ms spread evenly (15 ms apart for
 * 4000 entries), so every result is a series-minute of its own;
 * =deploy: half the targets every 30 s, half every 60 s, each entry at a
 * phase of its own (1.5 results per series-minute). Seqs cover whole
 * minutes back from now. Mostly ok with sticky per-target defects (hostname mismatch,
 * expired, untrusted, refused) and transient failures (timeouts, alerts),
 * certificate fields, findings, labels and timings filled as the probe
 * fills them. They are generated on the fly (cheap: all strings are
 * prebuilt per target) and packed with protobuf-c like the probe does.
 *
 * Prints one key=value line (results, wall_s, results_per_s, client CPU,
 * batch ack latency p50/p99, ...). Exit 0 when every probe was fully acked,
 * 1 on a stream failure or BENCH_INGEST_TIMEOUT (seconds, default 1800),
 * 2 on a setup error. Figures are printed, not asserted.
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "frame.h"
#include "tlsutil.h"
#include "tlswatch.pb-c.h"

#include "bench_ingest_data.h"

#define MAX_WINDOW 64
#define MAX_BATCH 100000

/* ------------------------------------------------------------ one Result */

/* Everything a Result points to that is not static or per target. */
struct rscratch {
	Tlswatch__Result r;
	Tlswatch__VerifyError ve;
	Tlswatch__VerifyError *ves[1];
	char *findings[3];
};

static char s_hostname_mismatch[] = "hostname mismatch";
static char s_expired[] = "certificate has expired";
static char s_untrusted[] = "unable to get local issuer certificate";

static double urand(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(mix64(*s) >> 11) / 9007199254740992.0;
}

/* Fills rs->r for seq (1-based) of probe p: occurrence o, started at
 * started_ms. */
static void result_fill(struct rscratch *rs, const char *probe_id, char *region, unsigned pidx,
			uint64_t seq, const struct occ *o, int64_t started_ms)
{
	Tlswatch__Result *r = &rs->r;
	*r = (Tlswatch__Result)TLSWATCH__RESULT__INIT;
	unsigned entry = o->entry;
	unsigned t = entry / NPROFILES, pr = entry % NPROFILES;
	struct target *g = &targets[t];
	uint64_t rng = mix64(((uint64_t)pidx << 40) ^ seq);
	double u = urand(&rng);
	double region_rtt = 2.0 + 30.0 * (double)(pidx % 4);

	r->probe_id = (char *)probe_id;
	r->has_seq = 1;
	r->seq = seq;
	r->region = region;
	r->has_started_unix_ms = 1;
	r->started_unix_ms = started_ms;
	r->target = g->host;
	r->port = g->port;
	r->sni = g->has_sni ? g->sni : NULL;
	r->address = g->address;
	r->profile = (char *)profiles[pr];
	r->starttls = (char *)g->starttls;
	r->service = g->service;
	r->n_labels = 2;
	r->labels = g->labels;
	r->has_interval_ms = 1;
	r->interval_ms = o->interval_ms;
	r->has_mtls = 1;
	r->mtls = false;
	r->has_dns_ms = 1;
	r->dns_ms = g->has_sni ? 0.3 + 4.0 * urand(&rng) : 0.0;
	r->has_total_ms = 1;

	/* outcome: sticky target defects, then transient failures */
	const char *outcome = "ok";
	bool tls_done = true, cert = true;
	if (g->defect == D_REFUSED) {
		outcome = "connect_refused";
		tls_done = cert = false;
	} else if (u < 0.012) {
		outcome = "connect_timeout";
		tls_done = cert = false;
	} else if (u < 0.018) {
		outcome = "handshake_timeout";
		tls_done = cert = false;
	} else if (u < 0.022) {
		outcome = "tls_alert";
		tls_done = cert = false;
		r->alert = "sslv3 alert handshake failure";
	} else if (g->defect == D_MISMATCH) {
		outcome = "hostname_mismatch";
	} else if (g->defect == D_EXPIRED) {
		outcome = "cert_expired";
	} else if (g->defect == D_UNTRUSTED) {
		outcome = "untrusted_root";
	}
	r->outcome = (char *)outcome;

	double connect_ms = region_rtt * (0.9 + 0.3 * urand(&rng));
	if (!strcmp(outcome, "connect_timeout")) {
		r->has_total_ms = 1;
		r->total_ms = 10000.0 + urand(&rng);
		return;
	}
	r->has_connect_ms = 1;
	r->connect_ms = connect_ms;
	if (g->defect == D_REFUSED) {
		r->total_ms = r->dns_ms + connect_ms;
		return;
	}
	double hs = g->base_hs_ms + 2.0 * region_rtt + 40.0 * urand(&rng) * urand(&rng);
	if (!strcmp(outcome, "handshake_timeout"))
		hs = 10000.0 - connect_ms;
	r->has_handshake_ms = 1;
	r->handshake_ms = hs;
	r->total_ms = r->dns_ms + connect_ms + hs + 0.2;
	if (!tls_done)
		return;

	bool legacy = pr == 2;
	r->tls_version = legacy ? "TLSv1.2" : (g->port == 587 ? "TLSv1.2" : "TLSv1.3");
	if (!strcmp(r->tls_version, "TLSv1.3")) {
		r->cipher = "TLS_AES_256_GCM_SHA384";
		r->cipher_iana = "TLS_AES_256_GCM_SHA384";
	} else if (!strcmp(g->key, "EC-P-256")) {
		r->cipher = "ECDHE-ECDSA-AES128-GCM-SHA256";
		r->cipher_iana = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256";
	} else {
		r->cipher = "ECDHE-RSA-AES128-GCM-SHA256";
		r->cipher_iana = "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256";
	}
	r->group = pr == 3 ? "X25519" : "secp256r1";
	r->alpn = g->starttls ? NULL : "h2";
	r->has_resumed = 1;
	r->resumed = false;
	r->has_ocsp_stapled = 1;
	r->ocsp_stapled = (t % 3) != 0;
	r->ocsp_status = r->ocsp_stapled ? "good" : "none";
	r->ocsp_source = r->ocsp_stapled ? "staple" : NULL;
	if (!cert)
		return;
	r->has_sni_match = 1;
	r->sni_match = g->defect != D_MISMATCH;
	r->has_cert_not_before = 1;
	r->cert_not_before = g->not_before;
	r->has_cert_not_after = 1;
	r->cert_not_after = g->not_after;
	r->has_days_to_expiry = 1;
	r->days_to_expiry = (double)(g->not_after * 1000 - started_ms) / 86400000.0;
	r->has_chain_not_after_min = 1;
	r->chain_not_after_min = g->chain_min;
	r->has_chain_not_after_min_depth = 1;
	r->chain_not_after_min_depth = 0;
	r->has_chain_len = 1;
	r->chain_len = g->chain_len;
	r->leaf_subject = g->subject;
	r->n_leaf_sans = 2;
	r->leaf_sans = g->sans;
	r->leaf_issuer = (char *)g->issuer;
	r->leaf_key = (char *)g->key;
	r->leaf_sig_alg = (char *)g->sig_alg;
	r->fingerprint_sha256 = g->fp;

	size_t nf = 0;
	if (r->days_to_expiry < 30 && r->days_to_expiry >= 0)
		rs->findings[nf++] = "expiring_soon";
	if (!r->ocsp_stapled)
		rs->findings[nf++] = "no_ocsp_staple";
	if (legacy && t % 7 == 0)
		rs->findings[nf++] = "cipher_fallback";
	r->n_findings = nf;
	r->findings = rs->findings;

	if (g->defect != D_NONE) {
		rs->ve = (Tlswatch__VerifyError)TLSWATCH__VERIFY_ERROR__INIT;
		rs->ve.depth = g->defect == D_UNTRUSTED ? 1 : 0;
		rs->ve.code = g->defect == D_MISMATCH ? 62 : g->defect == D_EXPIRED ? 10 : 20;
		rs->ve.reason = g->defect == D_MISMATCH ? s_hostname_mismatch
			      : g->defect == D_EXPIRED ? s_expired : s_untrusted;
		rs->ves[0] = &rs->ve;
		r->n_verify_errors = 1;
		r->verify_errors = rs->ves;
		r->has_outcome_depth = 1;
		r->outcome_depth = rs->ve.depth;
	}
}

/* ------------------------------------------------------------ the probes */

struct bench;

struct probe {
	struct bench *b;
	unsigned idx;
	char id[64], region[64];
	SSL_CTX *ctx;
	struct bufferevent *bev;
	uint64_t total;           /* results of this probe: seqs 1..total */
	uint64_t sent;            /* highest seq sent */
	uint64_t acked;           /* highest seq acked */
	uint64_t inflight[MAX_WINDOW];
	double inflight_t[MAX_WINDOW];
	unsigned ninflight;
	int64_t start_ms;         /* start of the first schedule cycle */
	bool streaming, done;
	double done_at;
	uint64_t batches, acks;
};

struct bench {
	struct event_base *base;
	struct probe *p;
	unsigned k;
	const char *host;
	unsigned port;
	size_t batch, window;
	unsigned ndone;
	int failed;
	double t0;
	struct rscratch *scratch;      /* batch of them */
	Tlswatch__Result **rptrs;
	double *ack_lat;               /* ms per batch, send -> ack */
	size_t nlat, caplat;
	uint64_t bytes_out;
	struct event *deadline;
};

static double mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void probe_fail(struct probe *p, const char *why)
{
	struct bench *b = p->b;
	fprintf(stderr, "bench_ingest: probe %s: %s (acked %" PRIu64 " of %" PRIu64 ")\n", p->id,
		why, p->acked, p->total);
	b->failed = 1;
	event_base_loopexit(b->base, NULL);
}

static int send_batch(struct probe *p)
{
	struct bench *b = p->b;
	size_t n = b->batch;
	if (p->total - p->sent < n)
		n = (size_t)(p->total - p->sent);
	for (size_t i = 0; i < n; i++) {
		uint64_t seq = p->sent + 1 + i;
		const struct occ *o = &occs[(seq - 1) % nocc];
		int64_t started = p->start_ms + (int64_t)((seq - 1) / nocc) * CYCLE_MS + o->off_ms;
		result_fill(&b->scratch[i], p->id, p->region, p->idx, seq, o, started);
		b->rptrs[i] = &b->scratch[i].r;
	}
	Tlswatch__ResultBatch rb = TLSWATCH__RESULT_BATCH__INIT;
	Tlswatch__Envelope env = TLSWATCH__ENVELOPE__INIT;
	rb.n_results = n;
	rb.results = b->rptrs;
	env.msg_case = TLSWATCH__ENVELOPE__MSG_BATCH;
	env.batch = &rb;
	struct evbuffer *out = bufferevent_get_output(p->bev);
	size_t before = evbuffer_get_length(out);
	if (frame_write_evbuffer(out, &env, FRAME_DEFAULT_MAX) != 0) {
		probe_fail(p, "cannot encode a batch (larger than the max frame?)");
		return -1;
	}
	b->bytes_out += evbuffer_get_length(out) - before;
	p->sent += n;
	p->inflight[p->ninflight] = p->sent;
	p->inflight_t[p->ninflight] = mono_ms();
	p->ninflight++;
	p->batches++;
	return 0;
}

static void fill_window(struct probe *p)
{
	while (p->streaming && p->ninflight < p->b->window && p->sent < p->total)
		if (send_batch(p) != 0)
			return;
}

static void probe_done(struct probe *p)
{
	struct bench *b = p->b;
	p->done = true;
	p->done_at = mono_ms();
	p->streaming = false;
	/* a clean close_notify, so the collector logs a normal disconnect */
	SSL_shutdown(bufferevent_openssl_get_ssl(p->bev));
	bufferevent_free(p->bev);
	p->bev = NULL;
	if (++b->ndone == b->k)
		event_base_loopexit(b->base, NULL);
}

static void on_ack(struct probe *p, uint64_t seq)
{
	struct bench *b = p->b;
	double now = mono_ms();
	unsigned k = 0;
	p->acks++;
	while (k < p->ninflight && p->inflight[k] <= seq) {
		if (b->nlat == b->caplat) {
			size_t cap = b->caplat ? b->caplat * 2 : 4096;
			double *q = realloc(b->ack_lat, cap * sizeof *q);
			if (q) {
				b->ack_lat = q;
				b->caplat = cap;
			}
		}
		if (b->nlat < b->caplat)
			b->ack_lat[b->nlat++] = now - p->inflight_t[k];
		k++;
	}
	if (k) {
		memmove(p->inflight, p->inflight + k, (p->ninflight - k) * sizeof p->inflight[0]);
		memmove(p->inflight_t, p->inflight_t + k, (p->ninflight - k) * sizeof p->inflight_t[0]);
		p->ninflight -= k;
	}
	if (seq > p->acked)
		p->acked = seq;
	if (seq > p->sent) {
		/* the collector already has rows we have not sent: not a fresh db */
		char why[160];
		snprintf(why, sizeof why, "collector acked seq %" PRIu64 " beyond what was sent (%" PRIu64
			 "): the database is not empty", seq, p->sent);
		probe_fail(p, why);
		return;
	}
	if (p->acked >= p->total) {
		probe_done(p);
		return;
	}
	fill_window(p);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct probe *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char err[256];
	for (;;) {
		Tlswatch__Envelope *env = NULL;
		enum frame_status fs = frame_read_evbuffer(in, FRAME_DEFAULT_MAX, &env, err, sizeof err);
		if (fs == FRAME_INCOMPLETE)
			return;
		if (fs != FRAME_OK) {
			char why[320];
			snprintf(why, sizeof why, "bad frame from the collector (%s): %s",
				 frame_status_str(fs), err);
			probe_fail(p, why);
			return;
		}
		bool ack = env->msg_case == TLSWATCH__ENVELOPE__MSG_ACK;
		uint64_t seq = ack ? env->ack->seq : 0;
		tlswatch__envelope__free_unpacked(env, NULL);
		if (ack) {
			on_ack(p, seq);
			if (p->done || p->b->failed)
				return;
		}
	}
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct probe *p = arg;
	if (what & BEV_EVENT_CONNECTED) {
		int fd = bufferevent_getfd(bev);
		int one = 1;
		if (fd >= 0)
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		Tlswatch__Envelope env = TLSWATCH__ENVELOPE__INIT;
		Tlswatch__Hello h = TLSWATCH__HELLO__INIT;
		h.probe_id = p->id;
		h.region = p->region;
		h.version = "bench_ingest";
		h.has_last_acked_seq = 1;
		h.last_acked_seq = 0;
		h.has_sent_unix_ms = 1;
		h.sent_unix_ms = wall_ms();
		env.msg_case = TLSWATCH__ENVELOPE__MSG_HELLO;
		env.hello = &h;
		if (frame_write_evbuffer(bufferevent_get_output(bev), &env, FRAME_DEFAULT_MAX) != 0) {
			probe_fail(p, "cannot encode Hello");
			return;
		}
		p->streaming = true;
		fill_window(p);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		char why[300];
		unsigned long e = bufferevent_get_openssl_error(bev);
		if (e) {
			char tmp[200];
			ERR_error_string_n(e, tmp, sizeof tmp);
			snprintf(why, sizeof why, "connection failed: TLS: %s", tmp);
		} else {
			snprintf(why, sizeof why, "connection %s%s%s",
				 (what & BEV_EVENT_EOF) ? "closed by the collector" : "error",
				 errno ? ": " : "", errno ? strerror(errno) : "");
		}
		probe_fail(p, why);
	}
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench *b = arg;
	fprintf(stderr, "bench_ingest: BENCH_INGEST_TIMEOUT reached\n");
	for (unsigned i = 0; i < b->k; i++)
		if (!b->p[i].done)
			fprintf(stderr, "bench_ingest:   probe %s acked %" PRIu64 " of %" PRIu64
				" (sent %" PRIu64 ", %u batches in flight)\n", b->p[i].id,
				b->p[i].acked, b->p[i].total, b->p[i].sent, b->p[i].ninflight);
	b->failed = 1;
	event_base_loopexit(b->base, NULL);
}

static SSL_CTX *ctx_new(const char *dir, const char *id)
{
	char ca[1024], cert[1024], key[1024], err[1024];
	snprintf(ca, sizeof ca, "%s/pipe-ca.pem", dir);
	snprintf(cert, sizeof cert, "%s/%s.pem", dir, id);
	snprintf(key, sizeof key, "%s/%s.key", dir, id);
	struct tlsutil_identity tid = { .ca_file = ca, .cert_file = cert, .key_file = key };
	SSL_CTX *ctx = tlsutil_ctx_new(TLSUTIL_CLIENT, &tid, err, sizeof err);
	if (!ctx)
		fprintf(stderr, "bench_ingest: TLS material for %s: %s\n", id, err);
	return ctx;
}

static int probe_connect(struct bench *b, struct probe *p)
{
	SSL *ssl = SSL_new(p->ctx);
	if (!ssl)
		return -1;
	char err[512];
	if (tlsutil_set_peer_name(ssl, b->host, err, sizeof err) != 0) {
		fprintf(stderr, "bench_ingest: %s\n", err);
		SSL_free(ssl);
		return -1;
	}
	p->bev = bufferevent_openssl_socket_new(b->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!p->bev) {
		SSL_free(ssl);
		return -1;
	}
	bufferevent_setcb(p->bev, read_cb, NULL, event_cb, p);
	bufferevent_enable(p->bev, EV_READ | EV_WRITE);
	struct sockaddr_storage ss;
	int sslen = (int)sizeof ss;
	char hp[300];
	snprintf(hp, sizeof hp, strchr(b->host, ':') ? "[%s]:%u" : "%s:%u", b->host, b->port);
	if (evutil_parse_sockaddr_port(hp, (struct sockaddr *)&ss, &sslen) != 0) {
		fprintf(stderr, "bench_ingest: HOST must be an IP address: %s\n", b->host);
		return -1;
	}
	if (bufferevent_socket_connect(p->bev, (struct sockaddr *)&ss, sslen) != 0)
		return -1;
	return 0;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double q)
{
	if (!n)
		return 0;
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long parse_pos(const char *s, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v <= 0) {
		fprintf(stderr, "bench_ingest: bad %s \"%s\"\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	if (argc < 8) {
		fprintf(stderr, "usage: %s HOST PORT PKI_DIR N BATCH WINDOW ID:REGION [ID:REGION ...]\n",
			argv[0]);
		return 2;
	}
	struct bench b;
	memset(&b, 0, sizeof b);
	b.host = argv[1];
	long port = parse_pos(argv[2], "PORT");
	const char *dir = argv[3];
	long n = parse_pos(argv[4], "N");
	b.batch = (size_t)parse_pos(argv[5], "BATCH");
	b.window = (size_t)parse_pos(argv[6], "WINDOW");
	if (port > 65535 || b.batch > MAX_BATCH || b.window > MAX_WINDOW) {
		fprintf(stderr, "bench_ingest: PORT <= 65535, BATCH <= %d, WINDOW <= %d\n", MAX_BATCH,
			MAX_WINDOW);
		return 2;
	}
	b.port = (unsigned)port;
	b.k = (unsigned)(argc - 7);
	long timeout_s = 1800;
	const char *ts = getenv("BENCH_INGEST_TIMEOUT");
	if (ts && *ts)
		timeout_s = parse_pos(ts, "BENCH_INGEST_TIMEOUT");

	int64_t now = wall_ms();
	const char *mode = getenv("BENCH_INGEST_MODE");
	bool deploy = mode && strcmp(mode, "deploy") == 0;
	if (mode && *mode && !deploy && strcmp(mode, "adversarial") != 0) {
		fprintf(stderr, "bench_ingest: BENCH_INGEST_MODE is deploy or adversarial, not \"%s\"\n",
			mode);
		return 2;
	}
	const char *nt = getenv("BENCH_INGEST_TARGETS");
	if (nt && *nt) {
		long v = parse_pos(nt, "BENCH_INGEST_TARGETS");
		if (v > MAX_TARGETS || v * NPROFILES > CYCLE_MS) {
			fprintf(stderr, "bench_ingest: BENCH_INGEST_TARGETS at most %d\n", MAX_TARGETS);
			return 2;
		}
		ntargets = (unsigned)v;
	}
	targets_init(now / 1000);
	if (schedule_init(deploy) != 0) {
		fprintf(stderr, "bench_ingest: out of memory\n");
		return 2;
	}
	b.p = calloc(b.k, sizeof *b.p);
	b.scratch = calloc(b.batch, sizeof *b.scratch);
	b.rptrs = calloc(b.batch, sizeof *b.rptrs);
	b.base = event_base_new();
	if (!b.p || !b.scratch || !b.rptrs || !b.base) {
		fprintf(stderr, "bench_ingest: out of memory\n");
		return 2;
	}
	for (unsigned i = 0; i < b.k; i++) {
		struct probe *p = &b.p[i];
		const char *spec = argv[7 + i], *colon = strchr(spec, ':');
		if (!colon || colon == spec || !colon[1] || (size_t)(colon - spec) >= sizeof p->id ||
		    strlen(colon + 1) >= sizeof p->region) {
			fprintf(stderr, "bench_ingest: bad ID:REGION \"%s\"\n", spec);
			return 2;
		}
		memcpy(p->id, spec, (size_t)(colon - spec));
		snprintf(p->region, sizeof p->region, "%s", colon + 1);
		p->b = &b;
		p->idx = i;
		p->total = (uint64_t)n / b.k + (i < (uint64_t)n % b.k ? 1 : 0);
		/* the last result starts no later than now */
		p->start_ms = now - (int64_t)((p->total + nocc - 1) / (nocc ? nocc : 1)) * CYCLE_MS;
		p->ctx = ctx_new(dir, p->id);
		if (!p->ctx)
			return 2;
		if (p->total == 0) {
			p->done = true;
			b.ndone++;
		}
	}

	double c0 = cpu_s();
	b.t0 = mono_ms();
	for (unsigned i = 0; i < b.k; i++)
		if (!b.p[i].done && probe_connect(&b, &b.p[i]) != 0) {
			fprintf(stderr, "bench_ingest: cannot start a connection for %s\n", b.p[i].id);
			return 2;
		}
	b.deadline = evtimer_new(b.base, deadline_cb, &b);
	struct timeval tv = { timeout_s, 0 };
	evtimer_add(b.deadline, &tv);
	if (b.ndone < b.k)
		event_base_dispatch(b.base);
	double t1 = mono_ms(), c1 = cpu_s();

	uint64_t acked = 0, batches = 0, acks = 0;
	double last_done = b.t0, first_done = 0;
	for (unsigned i = 0; i < b.k; i++) {
		acked += b.p[i].acked;
		batches += b.p[i].batches;
		acks += b.p[i].acks;
		if (b.p[i].done && b.p[i].done_at > last_done)
			last_done = b.p[i].done_at;
		if (b.p[i].done && (first_done == 0 || b.p[i].done_at < first_done))
			first_done = b.p[i].done_at;
	}
	qsort(b.ack_lat, b.nlat, sizeof *b.ack_lat, cmp_dbl);
	double wall = (b.failed ? t1 : last_done) - b.t0;
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("mode=%s series=%zu results_per_cycle=%zu ", deploy ? "deploy" : "adversarial",
	       (size_t)ntargets * NPROFILES * b.k, nocc * b.k);
	printf("results=%ld acked=%" PRIu64 " probes=%u batch=%zu window=%zu batches=%" PRIu64
	       " acks=%" PRIu64 " wall_s=%.3f results_per_s=%.0f first_probe_done_s=%.3f"
	       " ack_latency_ms_p50=%.1f ack_latency_ms_p99=%.1f ack_latency_ms_max=%.1f"
	       " bytes_out=%" PRIu64 " bytes_per_result=%.0f client_cpu_s=%.2f client_maxrss_kb=%ld"
	       " status=%s\n",
	       n, acked, b.k, b.batch, b.window, batches, acks, wall / 1000.0,
	       wall > 0 ? (double)acked / (wall / 1000.0) : 0.0,
	       first_done ? (first_done - b.t0) / 1000.0 : 0.0,
	       pct(b.ack_lat, b.nlat, 0.5), pct(b.ack_lat, b.nlat, 0.99),
	       b.nlat ? b.ack_lat[b.nlat - 1] : 0.0, b.bytes_out,
	       acked ? (double)b.bytes_out / (double)acked : 0.0, c1 - c0, ru.ru_maxrss,
	       b.failed ? "failed" : "ok");
	for (unsigned i = 0; i < b.k; i++) {
		if (b.p[i].bev)
			bufferevent_free(b.p[i].bev);
		SSL_CTX_free(b.p[i].ctx);
	}
	event_free(b.deadline);
	event_base_free(b.base);
	free(b.p);
	free(b.scratch);
	free(b.rptrs);
	free(b.ack_lat);
	free(occs);
	return b.failed ? 1 : 0;
}
