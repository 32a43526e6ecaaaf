/*
 * slo_config_int.h - what the files of the slos.yaml loader share
 * (slo_config.c: loading, SLOs and burn-rate rules; slo_config_alerts.c:
 * the alerts: section). Not for other modules: they read struct slo_config
 * through slo_config.h.
 *
 * Every function takes the walker of common/yamlcfg.h and, on error,
 * records "FILE:LINE:COLUMN: ctx: what" in it and returns -1.
 */
#ifndef TW_SLO_CONFIG_INT_H
#define TW_SLO_CONFIG_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "slo_config.h"
#include "yamlcfg.h"

/* A finite decimal number; lo/hi exclusive when the flags say so. */
int slo_config_get_double(struct yc *yc, yaml_node_t *v, const char *ctx, double lo, bool lo_open,
			  double hi, bool hi_open, const char *what, double *out);

/* A duration from min_ms up to 400 days. */
int slo_config_get_window(struct yc *yc, yaml_node_t *v, const char *ctx, int64_t min_ms,
			  int64_t *out);

/* Every other rule's built-in thresholds (slo_config_alerts.c). */
void slo_config_alerts_defaults(struct slo_alerts *a);

/* Reads root's alerts: mapping (root NULL or no alerts: keeps the defaults)
 * over the defaults already in *a, then gives every rule without its own
 * resolve_after alerts.resolve_after. */
int slo_config_alerts_parse(struct yc *yc, yaml_node_t *root, struct slo_alerts *a);

#endif
