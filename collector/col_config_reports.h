/*
 * col_config_reports.h - the `reports:` section of collector.yaml: report
 * schedules run by the alert leader (report_sched.c; docs/reports.md).
 *
 *   reports:
 *     - name: weekly-leadership          # unique, [A-Za-z0-9_.-]+
 *       schedule: "0 8 * * MON Europe/Berlin"   # cron.h
 *       period: 7d                       # 1d, 7d, 30d or 90d, ending at the scheduled time
 *       formats: html,pdf,md,json        # default: all four
 *       out_dir: /var/lib/tlswatch/reports
 *       service: shop                    # optional: one service only
 *       webhook: {url: https://..., secret: whsec_...}   # optional, signed
 *       email:                           # optional: the PDF attached
 *         smtp_url: smtp://mail.example.com:587   # smtps:// for implicit TLS
 *         from: tlswatch@example.com
 *         to: [vp@example.com]
 *         username: tlswatch             # optional, with password
 *         password: ...
 *
 * Parsed into the collector's config (col_config.c calls
 * col_config_reports_parse once); owned by it and freed with it.
 */
#ifndef TW_COL_CONFIG_REPORTS_H
#define TW_COL_CONFIG_REPORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#include "cron.h"

struct yc;

struct col_report_schedule {
	char *name;
	char *schedule;              /* the cron text as written */
	struct cron_spec cron;
	char *period;                /* "7d" */
	int64_t period_ms;
	unsigned formats;            /* enum report_format mask */
	char *out_dir;
	char *service;               /* NULL: every service */
	char *webhook_url;           /* NULL: no webhook */
	unsigned char *webhook_key;  /* HMAC key (whsec_ decoded) */
	size_t webhook_keylen;
	char *smtp_url;              /* NULL: no email */
	char *mail_from;
	char **mail_to;
	size_t nmail_to;
	char *smtp_user, *smtp_password;   /* both or neither; wiped when freed */
};

struct col_reports {
	size_t n;
	struct col_report_schedule *s;
};

/* Reads root's "reports" into a new *out (absent: *out stays NULL). 0, or
 * -1 with the error written to yc (*out, when set, is the caller's to free). */
int col_config_reports_parse(struct yc *yc, yaml_node_t *root, struct col_reports **out);
void col_config_reports_free(struct col_reports *r);

#endif
