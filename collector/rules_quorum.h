/*
 * rules_quorum.h - the region quorum rule (issue 10, "Alerting"): a target
 * that fails from several regions pages without anyone writing an SLO, the
 * way hosted synthetic monitors alert on "N of M locations failing".
 *
 *   region_quorum  page  region_quorum:host:port[/sni]:all
 *
 * Over the rollup_1m buckets starting in [now - for, now), pooled over the
 * target's profiles, a region FAILS when it made at least min_samples
 * attempts and  failures / attempts >= failure_ratio  (the default 0.9 over
 * the default 5 minutes: failing for all of the last five minutes but a
 * stray success). The rule holds when
 *     failing regions >= min_regions   (default 2)
 * and failing regions >= min_region_share x the regions that probed the
 * target in the window (default 0: no share). Profiles are pooled so that
 * one profile the server does not support (a `legacy` client refused on
 * purpose) does not page; it fails that profile's SLO instead.
 *
 * The alert names the failing regions (alert_obs.regions), the most
 * frequent failure outcome across them (the cause to look at first) and
 * the counts per region. When that outcome is about the certificate
 * (trust, validity, policy, name or revocation layer), the page inhibits
 * the certificate tickets of the same target (alerts.h).
 *
 * Evaluated by rules_other_eval() inside the evaluation's transaction;
 * thresholds from slo_config.h (alerts.region_quorum).
 */
#ifndef TW_RULES_QUORUM_H
#define TW_RULES_QUORUM_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "alerts.h"
#include "slo_config.h"

/* Observes every target whose quorum condition holds at now_ms and marks
 * the rule evaluated (also when disabled, so its alerts resolve). 0, or -1
 * with err set. */
int rules_quorum_eval(PGconn *c, int64_t now_ms, const struct slo_config *cfg,
		      struct alerts_run *run, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
