/*
 * col_config_reports.c - collector.yaml's `reports:` section (see
 * col_config_reports.h for the schema). Everything is validated here, at
 * load time, with the position of the value: the cron expression and its
 * time zone, the period, the formats, the webhook secret, the email
 * addresses; a schedule that loads runs.
 */
#define _GNU_SOURCE     /* explicit_bzero */
#include "col_config_reports.h"
#include "notify_config.h"
#include "report.h"
#include "yamlcfg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SCHEDULES 64
#define MAX_RECIPIENTS 32

static const char *const SCHEDULE_KEYS[] = { "name", "schedule", "period", "formats", "out_dir",
					     "service", "webhook", "email", NULL };
static const char *const WEBHOOK_KEYS[] = { "url", "secret", NULL };
static const char *const EMAIL_KEYS[] = { "smtp_url", "from", "to", "username", "password",
					  NULL };

static bool plain_name(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

/* An address as SMTP wants it in MAIL FROM / RCPT TO: local@domain, no
 * spaces, brackets or line breaks (they would end the command). */
static bool mail_address(const char *s)
{
	const char *at = strchr(s, '@');
	if (!at || at == s || !at[1] || strchr(at + 1, '@'))
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || strchr("<>(),;:\"[]\\", *s))
			return false;
	return true;
}

static int parse_webhook(struct yc *yc, yaml_node_t *m, const char *ctx,
			 struct col_report_schedule *s)
{
	char c[160];
	char *secret = NULL;
	yaml_node_t *v;
	if (yamlcfg_check_keys(yc, m, ctx, WEBHOOK_KEYS) < 0)
		return -1;
	yamlcfg_subctx(c, sizeof c, ctx, "url");
	if (!(v = yamlcfg_need(yc, m, "url", ctx)) || yamlcfg_copy_string(yc, v, c, &s->webhook_url) < 0)
		return -1;
	if (strncmp(s->webhook_url, "http://", 7) && strncmp(s->webhook_url, "https://", 8))
		return YC_ERRN(yc, v, c, "expected an http:// or https:// URL");
	yamlcfg_subctx(c, sizeof c, ctx, "secret");
	if (!(v = yamlcfg_need(yc, m, "secret", ctx)) || yamlcfg_copy_string(yc, v, c, &secret) < 0)
		return -1;
	int r = notify_config_whsec_decode(secret, &s->webhook_key, &s->webhook_keylen);
	explicit_bzero(secret, strlen(secret));
	free(secret);
	if (r < 0)   /* never the secret itself in a message */
		return YC_ERRN(yc, v, c, "expected whsec_ followed by base64 (the Standard Webhooks "
			       "signing key)");
	return 0;
}

static int parse_email(struct yc *yc, yaml_node_t *m, const char *ctx, struct col_report_schedule *s)
{
	char c[160];
	yaml_node_t *v;
	if (yamlcfg_check_keys(yc, m, ctx, EMAIL_KEYS) < 0)
		return -1;
	yamlcfg_subctx(c, sizeof c, ctx, "smtp_url");
	if (!(v = yamlcfg_need(yc, m, "smtp_url", ctx)) || yamlcfg_copy_string(yc, v, c, &s->smtp_url) < 0)
		return -1;
	if (strncmp(s->smtp_url, "smtp://", 7) && strncmp(s->smtp_url, "smtps://", 8))
		return YC_ERRN(yc, v, c, "expected an smtp:// or smtps:// URL");
	yamlcfg_subctx(c, sizeof c, ctx, "from");
	if (!(v = yamlcfg_need(yc, m, "from", ctx)) || yamlcfg_copy_string(yc, v, c, &s->mail_from) < 0)
		return -1;
	if (!mail_address(s->mail_from))
		return YC_ERRN(yc, v, c, "expected an address like reports@example.com");
	yamlcfg_subctx(c, sizeof c, ctx, "to");
	if (!(v = yamlcfg_need(yc, m, "to", ctx)))
		return -1;
	size_t n = v->type == YAML_SEQUENCE_NODE
		? (size_t)(v->data.sequence.items.top - v->data.sequence.items.start) : 1;
	if (v->type == YAML_SEQUENCE_NODE && yamlcfg_want_sequence(yc, v, c) < 0)
		return -1;
	if (n == 0 || n > MAX_RECIPIENTS)
		return YC_ERRN(yc, v, c, "expected 1-%d addresses", MAX_RECIPIENTS);
	if (!(s->mail_to = calloc(n, sizeof *s->mail_to)))
		return yamlcfg_oom(yc);
	for (size_t i = 0; i < n; i++) {
		char ci[180];
		snprintf(ci, sizeof ci, "%s[%zu]", c, i);
		yaml_node_t *a = v->type == YAML_SEQUENCE_NODE
			? yamlcfg_node(yc, v->data.sequence.items.start[i]) : v;
		s->nmail_to = i + 1;
		if (yamlcfg_copy_string(yc, a, ci, &s->mail_to[i]) < 0)
			return -1;
		if (!mail_address(s->mail_to[i]))
			return YC_ERRN(yc, a, ci, "expected an address like vp@example.com");
	}
	if (yamlcfg_opt_string(yc, m, "username", ctx, &s->smtp_user) < 0 ||
	    yamlcfg_opt_string(yc, m, "password", ctx, &s->smtp_password) < 0)
		return -1;
	if (!s->smtp_user != !s->smtp_password)
		return YC_ERRN(yc, m, ctx, "give both username and password, or neither");
	return 0;
}

static int parse_schedule(struct yc *yc, yaml_node_t *m, const char *ctx,
			  struct col_report_schedule *s, const struct col_reports *all, size_t idx)
{
	char c[160], err[300];
	yaml_node_t *v;
	if (yamlcfg_check_keys(yc, m, ctx, SCHEDULE_KEYS) < 0)
		return -1;
	yamlcfg_subctx(c, sizeof c, ctx, "name");
	if (!(v = yamlcfg_need(yc, m, "name", ctx)) || yamlcfg_copy_string(yc, v, c, &s->name) < 0)
		return -1;
	if (!plain_name(s->name) || strlen(s->name) > 64)
		return YC_ERRN(yc, v, c, "expected up to 64 of [A-Za-z0-9_.-], got \"%.64s\"", s->name);
	for (size_t i = 0; i < idx; i++)
		if (!strcmp(all->s[i].name, s->name))
			return YC_ERRN(yc, v, c, "\"%s\" is already the name of reports[%zu]", s->name, i);
	yamlcfg_subctx(c, sizeof c, ctx, "schedule");
	if (!(v = yamlcfg_need(yc, m, "schedule", ctx)) ||
	    yamlcfg_copy_string(yc, v, c, &s->schedule) < 0)
		return -1;
	if (cron_parse(s->schedule, &s->cron, err, sizeof err) < 0)
		return YC_ERRN(yc, v, c, "%s", err);
	yamlcfg_subctx(c, sizeof c, ctx, "period");
	if (!(v = yamlcfg_need(yc, m, "period", ctx)) || yamlcfg_copy_string(yc, v, c, &s->period) < 0)
		return -1;
	int64_t from, to;
	if (strstr(s->period, "..") || report_parse_period(s->period, 0, &from, &to, err, sizeof err) < 0)
		return YC_ERRN(yc, v, c, "expected 1d, 7d, 30d or 90d (the period ending at the "
			       "scheduled time), got \"%.64s\"", s->period);
	s->period_ms = to - from;
	s->formats = REPORT_FMT_HTML | REPORT_FMT_PDF | REPORT_FMT_MD | REPORT_FMT_JSON;
	if ((v = yamlcfg_get(yc, m, "formats", NULL))) {
		yamlcfg_subctx(c, sizeof c, ctx, "formats");
		const char *f = yamlcfg_want_scalar(yc, v, c, false);
		if (!f)
			return -1;
		if (!(s->formats = report_parse_formats(f, err, sizeof err)))
			return YC_ERRN(yc, v, c, "%s", err);
	}
	yamlcfg_subctx(c, sizeof c, ctx, "out_dir");
	if (!(v = yamlcfg_need(yc, m, "out_dir", ctx)) || yamlcfg_copy_string(yc, v, c, &s->out_dir) < 0)
		return -1;
	if (yamlcfg_opt_string(yc, m, "service", ctx, &s->service) < 0)
		return -1;
	if ((v = yamlcfg_get(yc, m, "webhook", NULL))) {
		yamlcfg_subctx(c, sizeof c, ctx, "webhook");
		if (parse_webhook(yc, v, c, s) < 0)
			return -1;
	}
	if ((v = yamlcfg_get(yc, m, "email", NULL))) {
		yamlcfg_subctx(c, sizeof c, ctx, "email");
		if (parse_email(yc, v, c, s) < 0)
			return -1;
		if (!(s->formats & REPORT_FMT_PDF))
			return YC_ERRN(yc, v, c, "the email carries the PDF: add pdf to formats");
	}
	return 0;
}

int col_config_reports_parse(struct yc *yc, yaml_node_t *root, struct col_reports **out)
{
	yaml_node_t *v = yamlcfg_get(yc, root, "reports", NULL);
	if (!v)
		return 0;
	if (yamlcfg_want_sequence(yc, v, "reports") < 0)
		return -1;
	size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	if (n > MAX_SCHEDULES)
		return YC_ERRN(yc, v, "reports", "expected at most %d schedules", MAX_SCHEDULES);
	struct col_reports *r = calloc(1, sizeof *r);
	if (!r || (n && !(r->s = calloc(n, sizeof *r->s)))) {
		free(r);
		return yamlcfg_oom(yc);
	}
	*out = r;
	for (size_t i = 0; i < n; i++) {
		char c[32];
		snprintf(c, sizeof c, "reports[%zu]", i);
		r->n = i + 1;
		if (parse_schedule(yc, yamlcfg_node(yc, v->data.sequence.items.start[i]), c, &r->s[i],
				   r, i) < 0)
			return -1;
	}
	return 0;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void col_config_reports_free(struct col_reports *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		struct col_report_schedule *s = &r->s[i];
		free(s->name);
		free(s->schedule);
		cron_spec_free(&s->cron);
		free(s->period);
		free(s->out_dir);
		free(s->service);
		free(s->webhook_url);
		if (s->webhook_key) {
			explicit_bzero(s->webhook_key, s->webhook_keylen);
			free(s->webhook_key);
		}
		free(s->smtp_url);
		free(s->mail_from);
		for (size_t k = 0; k < s->nmail_to; k++)
			free(s->mail_to[k]);
		free(s->mail_to);
		free(s->smtp_user);
		wipe_free(s->smtp_password);
	}
	free(r->s);
	free(r);
}
