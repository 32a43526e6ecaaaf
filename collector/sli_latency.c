/*
 * sli_latency.c - see sli_latency.h.
 */
#include "sli_latency.h"

#include <stdio.h>

const double sli_latency_bounds[SLI_LATENCY_BUCKETS] = {
	0, 1, 2, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 1500, 2500, 5000, 10000,
};

int sli_latency_bound_index(double threshold_ms)
{
	/* bucket k (1-based) is [bounds[k-1], bounds[k]); "< T" where T =
	 * bounds[k] is buckets 1..k */
	for (int k = 1; k < SLI_LATENCY_BUCKETS; k++)
		if (sli_latency_bounds[k] == threshold_ms)
			return k;
	return -1;
}

void sli_latency_bounds_string(char *buf, size_t cap)
{
	size_t off = 0;
	if (cap)
		buf[0] = '\0';
	for (int k = 1; k < SLI_LATENCY_BUCKETS && off < cap; k++) {
		int n = snprintf(buf + off, cap - off, "%s%g", k > 1 ? ", " : "",
				 sli_latency_bounds[k]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}
