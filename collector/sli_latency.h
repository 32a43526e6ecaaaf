/*
 * sli_latency.h - the handshake latency histogram's bucket bounds, shared
 * by the SLI queries (sli.c), the burn-rate evaluator and the SLO loader
 * (slo_config.c checks that a latency threshold is a bound). A leaf: it
 * includes nothing of ours, so both sides can depend on it without
 * depending on each other.
 */
#ifndef TW_SLI_LATENCY_H
#define TW_SLI_LATENCY_H

#include <stddef.h>

/* Mirrors tw_latency_bounds() in sql/001_init.sql (test_burn checks they are
 * equal): bucket k (1-based) counts handshake_ms in [bound[k-1], bound[k]),
 * the last is open-ended. */
#define SLI_LATENCY_BUCKETS 20
extern const double sli_latency_bounds[SLI_LATENCY_BUCKETS];

/* For a latency threshold T that is a bucket bound (T > 0): the number k of
 * buckets whose upper bound is <= T, so "handshake_ms < T" = hist[1..k].
 * -1 when T is not a bound. */
int sli_latency_bound_index(double threshold_ms);
/* "1, 2, 5, ... 10000" */
void sli_latency_bounds_string(char *buf, size_t cap);

#endif
