/*
 * rules_other.h - the alert rules about targets that are not SLO burn
 * rates (issue 4, "Other alerts"; DESIGN 6): certificate expiry, mass mTLS
 * failure, SNI mismatch, certificate fingerprint drift between regions and
 * negotiated TLS version/cipher drift from the weekly baseline. The rules
 * about the probes themselves (silent, clock skew, dropping results) are
 * rules_probe.h; the evaluator runs both. Thresholds come from slo_config.h
 * (struct slo_alerts).
 *
 * Each rule is SQL over the stored data (results, rollup_1m and the
 * rule's own tls_params_1h summary, sql/004_rules_other.sql) evaluated at
 * the injected time now_ms - the clock is never read. A row whose
 * measurement time is after now_ms is ignored, so an evaluation at a past
 * time sees what was stored about that time.
 *
 * Rules, their severity and dedup key (RULE:SUBJECT:REGION_GROUP, ":"-joined
 * like the burn-rate keys; stable: it never contains a value that changes
 * while the condition holds):
 *
 *   cert_expiry_<N>d  ticket, one rule per alerts.cert_expiry.ticket_days
 *   cert_expiry_<H>h  page, alerts.cert_expiry.page_hours
 *       key  RULE:host:port[/sni]:all
 *       The tiers are cumulative: a certificate 5 days from expiry keeps the
 *       30d ticket open and opens the 7d ticket; all resolve at rotation.
 *   mtls_mass_failure      page    mtls_mass_failure:mtls:all
 *   sni_mismatch           ticket  sni_mismatch:host:port[/sni]:all
 *   cert_fingerprint_drift ticket  cert_fingerprint_drift:host:port[/sni]:all
 *   tls_negotiation_drift  ticket  tls_negotiation_drift:host:port[/sni]:PROFILE:all
 *
 *   region_quorum          page    region_quorum:host:port[/sni]:all  (rules_quorum.h)
 *
 * host:port[/sni]: "/sni" only when an SNI other than the host was sent.
 * Every target rule names the regions where its condition holds
 * (alert_obs.regions); the certificate rules put their alerts in the
 * inhibit group "certificate:host:port[/sni]" (a page holds the tickets
 * back, alerts.h). Before the rules, the certificate change events of the
 * results since the last evaluation are recorded (rules_certs.h).
 * The exact conditions are written above each rule in rules_other.c.
 *
 * A disabled rule (enabled: false) is still reported as evaluated with no
 * observation, so its open alerts resolve instead of staying open forever.
 */
#ifndef TW_RULES_OTHER_H
#define TW_RULES_OTHER_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "alerts.h"
#include "slo_config.h"

/* "Currently served": the latest observation per target, SNI, region and
 * profile within this window before now (certificate expiry and drift). */
#define RULES_CURRENT_MS (3600 * 1000LL)

/* tls_negotiation_drift needs this many completed handshakes of the key in
 * the baseline window and in the last hour before it compares them. */
#define RULES_DRIFT_MIN_BASELINE 12
#define RULES_DRIFT_MIN_CURRENT 3

/* Evaluates every rule on c (inside the transaction alerts_begin opened on
 * the same connection: the run's observations and the tls_params_1h
 * summary commit or roll back together), calling alerts_observe() for each
 * key whose condition holds and alerts_rule_evaluated() for every rule.
 * Returns 0, or -1 with err set (the caller then calls alerts_abort). cfg
 * and run are borrowed. */
int rules_other_eval(PGconn *c, int64_t now_ms, const struct slo_config *cfg,
		     struct alerts_run *run, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
