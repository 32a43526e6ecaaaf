/*
 * metrics_expo.c - the Prometheus text exposition helpers (see metrics_expo.h).
 */
#include "metrics_expo.h"

#include <math.h>

void metrics_expo_family(struct evbuffer *b, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void metrics_expo_one(struct evbuffer *b, const char *name, const char *type, const char *help,
		      uint64_t v)
{
	metrics_expo_family(b, name, type, help);
	evbuffer_add_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

void metrics_expo_label_value(struct evbuffer *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(b, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, v, 1);
	}
}

void metrics_expo_label(struct evbuffer *b, const char *key, const char *v)
{
	evbuffer_add_printf(b, ",%s=\"", key);
	metrics_expo_label_value(b, v);
	evbuffer_add(b, "\"", 1);
}

void metrics_expo_value(struct evbuffer *b, double v)
{
	if (isnan(v))
		evbuffer_add_printf(b, "NaN");
	else if (isinf(v))
		evbuffer_add_printf(b, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		evbuffer_add_printf(b, "%.0f", v);
	else
		evbuffer_add_printf(b, "%.6f", v);
}
