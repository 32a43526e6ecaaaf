/*
 * test_metrics_unit.c - what /metrics can check without a server: the fixed
 * label vocabularies of collector/metrics.c equal the probe's taxonomy
 * (probe/classify.c; the SQL side is checked in test_metrics.c), the
 * exposition helpers escape and format as the text format wants, the
 * process metrics read /proc, and collector.yaml's http.metrics_* keys.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "classify.h"
#include "col_config.h"
#include "metrics.h"
#include "metrics_expo.h"
#include "metrics_proc.h"

static char *text_of(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);
	cr_assert_not_null(s);
	cr_assert_eq(evbuffer_remove(b, s, n), (int)n);
	s[n] = '\0';
	return s;
}

Test(metrics_unit, outcomes_equal_the_probe_taxonomy)
{
	cr_assert_eq(METRICS_NOUTCOMES, OUT__COUNT);
	for (int i = 0; i < OUT__COUNT; i++)
		cr_expect_str_eq(metrics_outcome_names[i], classify_outcome_name((enum outcome)i));
}

Test(metrics_unit, findings_equal_the_probe_findings)
{
	cr_assert_eq(METRICS_NFINDINGS, FIND__COUNT);
	for (int i = 0; i < FIND__COUNT; i++)
		cr_expect_str_eq(metrics_finding_names[i], classify_finding_name((enum finding)i));
}

Test(metrics_unit, label_values_escaped_and_values_formatted)
{
	struct evbuffer *b = evbuffer_new();
	cr_assert_not_null(b);
	evbuffer_add_printf(b, "x{a=\"");
	metrics_expo_label_value(b, "q\"b\\n\nz");
	evbuffer_add_printf(b, "\"");
	metrics_expo_label(b, "k", "v");
	evbuffer_add_printf(b, "} ");
	metrics_expo_value(b, 2000000000.0);
	evbuffer_add_printf(b, " ");
	metrics_expo_value(b, 0.042);
	evbuffer_add_printf(b, " ");
	metrics_expo_value(b, 0.0 / 0.0);
	evbuffer_add_printf(b, " ");
	metrics_expo_value(b, -1.0 / 0.0);
	char *s = text_of(b);
	cr_expect_str_eq(s, "x{a=\"q\\\"b\\\\n\\nz\",k=\"v\"} 2000000000 0.042000 NaN -Inf");
	free(s);
	evbuffer_free(b);
}

Test(metrics_unit, process_metrics_read_proc)
{
	struct evbuffer *b = evbuffer_new();
	cr_assert_not_null(b);
	metrics_proc_render(b, "9.9.9");
	char *s = text_of(b);
	cr_expect_not_null(strstr(s, "\ntlswatch_build_info{version=\"9.9.9\",component=\"collector\","));
	const char *names[] = { "process_cpu_seconds_total ", "process_resident_memory_bytes ",
				"process_open_fds ", "process_max_fds ", "process_start_time_seconds " };
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char *p = strstr(s, names[i]);
		cr_expect_not_null(p, "no %s in\n%s", names[i], s);
	}
	/* the fds we hold are counted: open one more and see it */
	double before = strtod(strstr(s, "\nprocess_open_fds ") + 18, NULL);
	free(s);
	int fd = dup(0);
	cr_assert_geq(fd, 0, "dup: %s", strerror(errno));
	metrics_proc_render(b, "9.9.9");
	s = text_of(b);
	cr_expect_eq(strtod(strstr(s, "\nprocess_open_fds ") + 18, NULL), before + 1);
	close(fd);
	free(s);
	evbuffer_free(b);
}

static struct col_config *load(const char *http, char *err, size_t errlen)
{
	char path[] = "/tmp/tw_mxcfg_XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	char text[1024];
	int n = snprintf(text, sizeof text,
			 "listen: 127.0.0.1:7000\ntls:\n  ca_file: a.pem\n  cert_file: b.pem\n"
			 "  key_file: c.key\ndatabase:\n  conninfo: dbname=x\nhttp:\n%s", http);
	cr_assert_eq(write(fd, text, (size_t)n), n);
	close(fd);
	struct col_config *cfg = col_config_load(path, err, errlen);
	unlink(path);
	return cfg;
}

Test(metrics_unit, config_keys)
{
	char err[512];
	struct col_config *cfg = load("  listen: 127.0.0.1:9100\n", err, sizeof err);
	cr_assert_not_null(cfg, "%s", err);
	cr_expect_eq(cfg->metrics_refresh_ms, 15000);
	cr_expect_eq(cfg->metrics_max_series, 10000);
	col_config_free(cfg);
	cfg = load("  listen: 127.0.0.1:9100\n  metrics_refresh: 30s\n  metrics_max_series: 500\n",
		   err, sizeof err);
	cr_assert_not_null(cfg, "%s", err);
	cr_expect_eq(cfg->metrics_refresh_ms, 30000);
	cr_expect_eq(cfg->metrics_max_series, 500);
	col_config_free(cfg);
	cr_expect_null(load("  listen: 127.0.0.1:9100\n  metrics_refresh: 10ms\n", err, sizeof err));
	cr_expect(strstr(err, "http.metrics_refresh"), "%s", err);
	cr_expect_null(load("  listen: 127.0.0.1:9100\n  metrics_max_series: 0\n", err, sizeof err));
	cr_expect(strstr(err, "http.metrics_max_series"), "%s", err);
}
