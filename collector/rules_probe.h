/*
 * rules_probe.h - the alert rules about the probes themselves, read from
 * the probes table (one row per probe: last seen, clock offset and the
 * spool counters of its last heartbeat, sql/001_init.sql and
 * sql/006_probe_spool.sql). Thresholds come from slo_config.h (struct
 * slo_alerts); the rules about targets are rules_other.h.
 *
 * Rules, severity and dedup key (RULE:PROBE:REGION, the shape of every
 * rule's key, rules_other.h); labels `probe` and `region`:
 *
 *   probe_silent    ticket  nothing received for alerts.probe_silent.intervals
 *                           probe intervals
 *   clock_skew      ticket  |probe clock - collector clock| > alerts.clock_skew.max_ms
 *   probe_dropping  ticket  the probe's spool dropped results (lost for good)
 *                           within alerts.probe_dropping.window before now
 *
 * The exact conditions are written above each rule in rules_probe.c.
 * Evaluated at the injected time now_ms (the clock is never read); a
 * disabled rule is still reported as evaluated, so its open alerts resolve.
 */
#ifndef TW_RULES_PROBE_H
#define TW_RULES_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <libpq-fe.h>

#include "alerts.h"
#include "slo_config.h"

/* A probe whose interval is unknown (no stored result) is taken to probe
 * every 60 s, the probe's default interval. */
#define RULES_DEFAULT_INTERVAL_MS 60000LL

/* Evaluates the probe rules on c inside the transaction alerts_begin opened
 * on the same connection, calling alerts_observe() for each key whose
 * condition holds and alerts_rule_evaluated() for every rule. Returns 0, or
 * -1 with err set (the caller then calls alerts_abort). cfg and run are
 * borrowed. */
int rules_probe_eval(PGconn *c, int64_t now_ms, const struct slo_config *cfg,
		     struct alerts_run *run, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
