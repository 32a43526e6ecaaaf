/*
 * bench_ingest_data.h - the synthetic deployment of bench_ingest.c: its
 * targets (names, certificates, defects, labels, prebuilt once) and the
 * schedule of one probe (which entry each seq is, and when it starts).
 * Included by bench_ingest.c only; everything is static.
 */
#ifndef TW_BENCH_INGEST_DATA_H
#define TW_BENCH_INGEST_DATA_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlswatch.pb-c.h"

#define MAX_TARGETS 5000
#define NPROFILES 4
#define CYCLE_MS 60000

static const char *const profiles[NPROFILES] = { "modern", "intermediate", "legacy",
						 "Chrome 101 (Win 10)" };

/* ---------------------------------------------------------------- targets */

enum defect { D_NONE, D_MISMATCH, D_EXPIRED, D_UNTRUSTED, D_REFUSED };

struct target {
	char host[64], sni[64], address[24], service[32];
	char subject[80], san1[64], san2[72], fp[65];
	char *sans[2];
	const char *issuer, *key, *sig_alg;
	unsigned port;
	bool has_sni;
	const char *starttls;
	int64_t not_before, not_after, chain_min; /* unix seconds */
	unsigned chain_len;
	enum defect defect;
	double base_hs_ms;
	Tlswatch__Label lab_team, lab_tier;
	Tlswatch__Label *labels[2];
};

static struct target targets[MAX_TARGETS];
static unsigned ntargets = 1000;

static const char *const domains[] = { "example.com", "example.net", "example.org", "shop.test",
				       "corp.example", "api.example.io", "bank.example",
				       "cdn.example.net" };
static const char *const prefixes[] = { "www", "api", "auth", "mail", "static", "app", "pay",
					"vpn", "status", "login" };
static const char *const issuers[] = { "CN=R3,O=Let's Encrypt,C=US",
				       "CN=DigiCert TLS RSA SHA256 2020 CA1,O=DigiCert Inc,C=US",
				       "CN=Sectigo RSA Domain Validation Secure Server CA,O=Sectigo Limited,C=GB",
				       "CN=E1,O=Let's Encrypt,C=US" };
static const char *const teams[] = { "web", "platform", "payments", "identity", "data" };
static const char *const tiers[] = { "1", "2", "3" };

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Bounded copy (snprintf("%s") here makes gcc warn about a 664 KB source). */
static void cpy(char *dst, size_t cap, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > cap - 1)
		la = cap - 1;
	if (lb > cap - 1 - la)
		lb = cap - 1 - la;
	memcpy(dst, a, la);
	memcpy(dst + la, b, lb);
	dst[la + lb] = '\0';
}

/* The schedule of one probe over one CYCLE_MS: every occurrence of every
 * (target, profile) entry, in start order. Result seq s of a probe is
 * occurrence (s - 1) % nocc of cycle (s - 1) / nocc. */
struct occ {
	unsigned entry;       /* target * NPROFILES + profile */
	unsigned off_ms;      /* start within the cycle */
	unsigned interval_ms; /* the entry's interval */
};
static struct occ *occs;
static size_t nocc;

static int cmp_occ(const void *a, const void *b)
{
	const struct occ *x = a, *y = b;
	if (x->off_ms != y->off_ms)
		return x->off_ms < y->off_ms ? -1 : 1;
	return x->entry < y->entry ? -1 : x->entry > y->entry;
}

/* adversarial: every entry once a minute, 60000 / entries ms apart, so each
 * result is a series-minute of its own (the bench of issue 3).
 * deploy: half the targets every 30 s, half every 60 s, each entry at a
 * phase of its own, as tlswatch-probe's scheduler spreads them. */
static int schedule_init(bool deploy)
{
	size_t nent = (size_t)ntargets * NPROFILES;
	occs = calloc(2 * nent, sizeof *occs);
	if (!occs)
		return -1;
	nocc = 0;
	for (size_t k = 0; k < nent; k++) {
		if (!deploy) {
			occs[nocc++] = (struct occ){ (unsigned)((k * 1637) % nent),
						     (unsigned)(k * (CYCLE_MS / nent)), CYCLE_MS };
			continue;
		}
		unsigned iv = (k / NPROFILES) % 2 ? 30000 : 60000;
		unsigned ph = (unsigned)(mix64(k + 77) % iv);
		for (unsigned at = ph; at < CYCLE_MS; at += iv)
			occs[nocc++] = (struct occ){ (unsigned)k, at, iv };
	}
	if (deploy)
		qsort(occs, nocc, sizeof *occs, cmp_occ);
	return 0;
}

static void targets_init(int64_t now_s)
{
	for (unsigned t = 0; t < ntargets; t++) {
		struct target *g = &targets[t];
		uint64_t h = mix64(t + 1);
		const char *dom = domains[t % (sizeof domains / sizeof domains[0])];
		const char *pre = prefixes[(h >> 8) % (sizeof prefixes / sizeof prefixes[0])];
		snprintf(g->host, sizeof g->host, "%s-%03u.%s", pre, t, dom);
		g->port = 443;
		g->starttls = NULL;
		g->has_sni = true;
		if (t % 10 == 3)
			g->port = 8443;
		if (t % 50 == 21) {
			g->port = 587;
			g->starttls = "smtp";
		}
		snprintf(g->address, sizeof g->address, "10.%u.%u.%u", (unsigned)(t >> 8) & 255,
			 (unsigned)t & 255, (unsigned)(h & 0xfe) + 1);
		if (t % 40 == 17) { /* an IP literal target: no SNI */
			cpy(g->host, sizeof g->host, "", g->address);
			g->has_sni = false;
		}
		cpy(g->sni, sizeof g->sni, "", g->host);
		snprintf(g->service, sizeof g->service, "svc-%02u", t % 40);
		cpy(g->subject, sizeof g->subject, "CN=", g->host);
		cpy(g->san1, sizeof g->san1, "", g->host);
		cpy(g->san2, sizeof g->san2, "alt.", g->host);
		g->sans[0] = g->san1;
		g->sans[1] = g->san2;
		unsigned ii = (unsigned)(h >> 16) % 4;
		g->issuer = issuers[ii];
		bool ec = ii == 3 || (h >> 20) % 3 == 0;
		g->key = ec ? "EC-P-256" : "RSA-2048";
		g->sig_alg = ii == 3 ? "ecdsa-with-SHA384" : "sha256WithRSAEncryption";
		for (int k = 0; k < 4; k++) {
			uint64_t x = mix64(h + (uint64_t)k * 7919);
			for (int j = 0; j < 16; j++)
				g->fp[k * 16 + j] = "0123456789abcdef"[(x >> (j * 4)) & 15];
		}
		g->fp[64] = '\0';
		/* 90-day certificates at any point of their life; a few near expiry */
		int64_t age_d = (int64_t)((h >> 24) % 88);
		g->not_before = now_s - age_d * 86400 - (int64_t)((h >> 32) % 86400);
		g->not_after = g->not_before + 90 * 86400;
		g->chain_len = ii == 1 ? 3 : 2;
		g->chain_min = g->not_after + 200 * 86400;
		g->defect = D_NONE;
		if (t % 100 == 13)
			g->defect = D_MISMATCH;
		else if (t % 100 == 57) {
			g->defect = D_EXPIRED;
			g->not_after = now_s - (int64_t)(1 + t % 20) * 86400;
			g->not_before = g->not_after - 90 * 86400;
		} else if (t % 200 == 99)
			g->defect = D_UNTRUSTED;
		else if (t % 250 == 3)
			g->defect = D_REFUSED;
		if (g->not_after < g->chain_min)
			g->chain_min = g->not_after;
		g->base_hs_ms = 8.0 + (double)((h >> 40) % 120);
		g->lab_team = (Tlswatch__Label)TLSWATCH__LABEL__INIT;
		g->lab_team.key = "team";
		g->lab_team.value = (char *)teams[t % 5];
		g->lab_tier = (Tlswatch__Label)TLSWATCH__LABEL__INIT;
		g->lab_tier.key = "tier";
		g->lab_tier.value = (char *)tiers[(h >> 44) % 3];
		g->labels[0] = &g->lab_team;
		g->labels[1] = &g->lab_tier;
	}
}

#endif
