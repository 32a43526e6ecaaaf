/*
 * rules_certs.h - certificate change events (issue 10, "Alerting";
 * sql/010_alerting.sql tables certificate_changes and certificate_current;
 * docs/SLI.md "Certificate changes").
 *
 * At every evaluation, in the evaluation's transaction, the results stored
 * for the last RULES_CERTS_LOOKBACK_MS up to now (measurement time) that
 * are newer than the last fingerprint recorded for their (target, port,
 * sni, region, profile) are compared in measurement order with it: each
 * new leaf fingerprint is one certificate_changes row, and
 * certificate_current moves to the newest. Results older than what is
 * recorded for their key (a probe replaying an old spool) change nothing;
 * results older than the lookback when the evaluator first sees them (it
 * was stopped for longer) are compared as one step, old to newest.
 *
 * The alert that follows a change is cert_fingerprint_drift
 * (rules_other.h): the regions serving different certificates for longer
 * than alerts.drift.fingerprint_for opens a ticket.
 *
 * Retention: events, and keys last seen, older than certificate_sightings'
 * retention days (retention_policy) are deleted by the same call.
 */
#ifndef TW_RULES_CERTS_H
#define TW_RULES_CERTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>
#include <libpq-fe.h>

#define RULES_CERTS_LOOKBACK_MS (3600 * 1000LL)

/* Records the changes seen up to now_ms on c (inside an open transaction).
 * 0, or -1 with err set. */
int rules_certs_record(PGconn *c, int64_t now_ms, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The changes the evaluation at now_ms recorded (`tlswatch-collector
 * evaluate`): one line each on out, or, when json_out (an array) is given,
 * one object each appended to it. 0, or -1 with err set. */
int rules_certs_print(PGconn *c, int64_t now_ms, json_t *json_out, FILE *out, char *err,
		      size_t errlen);

#endif
