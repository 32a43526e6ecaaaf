/*
 * rules_addr.h - every address behind a name (issue 10, "Detection"): a
 * target probed with probe.yaml `addresses: all` has one result per A/AAAA
 * address (results.address); a rule flags the addresses of one name that
 * serve different certificates - typically a load-balancer node left with
 * the old certificate after a rotation, which a probe of "the" address
 * sees one time in N, or never.
 *
 *   addr_cert_mismatch  ticket  addr_cert_mismatch:host:port[/sni]:all
 *
 * Condition (the exact SQL is in rules_addr.c): within the last
 * RULES_ADDR_WINDOW_MS, the latest certificate per (target, sni, profile,
 * region, address) - compared per profile and region, since one address
 * may serve an RSA and an ECDSA certificate to different clients, and
 * geo-DNS gives regions different addresses - has at least two distinct
 * fingerprints among at least two addresses, and has had them for
 * alerts.drift.fingerprint_for (default 30m; measured from the newest
 * change of certificate at any of those addresses, so a rolling deploy
 * that updates the nodes one by one within that time does not open a
 * ticket). Enabled and resolved with alerts.drift (the certificate drift
 * family: this rule is drift between addresses, cert_fingerprint_drift the
 * one between regions).
 *
 * The ticket names the addresses and their fingerprints (summary: the first
 * diverging region and profile; details.addresses: every (region, profile,
 * address, fingerprint, since) that diverges), the regions that see it and
 * the inhibit group "certificate:host:port[/sni]" of the certificate rules.
 *
 * Evaluated by rules_other_eval() inside the evaluation's transaction.
 */
#ifndef TW_RULES_ADDR_H
#define TW_RULES_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "alerts.h"
#include "slo_config.h"

/* "Currently served": the latest result per address within this window
 * before now (the certificate rules' RULES_CURRENT_MS, rules_other.h). */
#define RULES_ADDR_WINDOW_MS (3600 * 1000LL)

/* Observes every target whose addresses serve different certificates at
 * now_ms and marks the rule evaluated (also when disabled, so its alerts
 * resolve). 0, or -1 with err set. */
int rules_addr_eval(PGconn *c, int64_t now_ms, const struct slo_config *cfg,
		    struct alerts_run *run, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
