/*
 * handshake_aia.c - the caIssuers phase of a probe connection (HS_AIA of
 * the state machine in handshake.c, which owns the connection and calls in
 * through handshake_int.h): for a profile whose real client fetches a
 * missing intermediate (profile_aia.c), aia_fetch.c completes the chain
 * and verifies it again; the facts then describe that verification.
 */
#include "handshake_int.h"
#include "aia_fetch.h"

#include <stdio.h>

void handshake_aia_prepare(struct hs_conn *c)
{
	c->aia_checked = true;
	if (!c->ssl || !aia_fetch_wanted(c->req.tc->profile, &c->f))
		return;
	c->aia_verify = aia_fetch_verify_of(c->ssl);
	if (!c->aia_verify) {
		c->f.aia_failed = true;
		snprintf(c->f.aia_detail, sizeof c->f.aia_detail, "caIssuers: out of memory");
	}
}

static void on_aia_done(void *arg)
{
	struct hs_conn *c = arg;
	if (c->state == HS_AIA)
		handshake_after_aia(c);
}

bool handshake_aia_start(struct hs_conn *c)
{
	struct aia_verify *v = c->aia_verify;
	if (!v)
		return false;
	c->aia_verify = NULL;
	/* the TLS connection is done with: close it before waiting */
	handshake_close_socket(c);
	handshake_set_state(c, HS_AIA);
	c->aia = aia_check_start(c->base, c->dns, c->req.aia_cache, v, &c->f, c->req.timeout_ms,
				 on_aia_done, c);
	if (c->aia)
		return true;
	c->f.aia_failed = true;
	snprintf(c->f.aia_detail, sizeof c->f.aia_detail, "caIssuers: out of memory");
	return false;
}

void handshake_aia_timeout(struct hs_conn *c, double spent_ms)
{
	/* the facts keep the last verification that completed */
	aia_check_free(c->aia);
	c->aia = NULL;
	c->f.aia_failed = true;
	snprintf(c->f.aia_detail, sizeof c->f.aia_detail, "caIssuers not fetched within %.0f ms",
		 spent_ms);
}

void handshake_aia_free(struct hs_conn *c)
{
	aia_check_free(c->aia);
	c->aia = NULL;
	aia_fetch_verify_free(c->aia_verify);
	c->aia_verify = NULL;
}
