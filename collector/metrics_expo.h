/*
 * metrics_expo.h - writing the Prometheus text exposition (version 0.0.4)
 * into a libevent buffer: a family's HELP and TYPE lines, one unlabelled
 * sample, label values escaped. Every /metrics renderer (metrics_self.c,
 * metrics_proc.c, metrics.c) uses these, so the escaping exists once.
 *
 * Ownership: nothing is kept; strings are borrowed for the call.
 */
#ifndef TW_COL_METRICS_EXPO_H
#define TW_COL_METRICS_EXPO_H

#include <stdint.h>
#include <event2/buffer.h>

/* "# HELP name help\n# TYPE name type\n" */
void metrics_expo_family(struct evbuffer *b, const char *name, const char *type, const char *help);

/* A family with one unlabelled integer sample. */
void metrics_expo_one(struct evbuffer *b, const char *name, const char *type, const char *help,
		      uint64_t v);

/* A label value with backslash, double quote and newline escaped (the only
 * escapes the format has). */
void metrics_expo_label_value(struct evbuffer *b, const char *v);

/* ,key="value" (escaped) */
void metrics_expo_label(struct evbuffer *b, const char *key, const char *v);

/* A sample value: integers without a fraction, NaN/Inf spelled as the
 * format wants. */
void metrics_expo_value(struct evbuffer *b, double v);

#endif
