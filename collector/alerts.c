/*
 * alerts.c - the alert lifecycle (see alerts.h, sql/002_alerts.sql and
 * sql/003_slo.sql).
 *
 * alerts_begin opens the evaluation's transaction; observations are only
 * collected in memory; alerts_commit locks the open alerts of the rules
 * involved (FOR UPDATE), applies every transition with its alert_events
 * row and, for notifiable changes, its notification_outbox row, and
 * commits: an alert change and its outbox row are one transaction.
 *
 * Notifications and maintenance windows (tw_in_maintenance, sql/003):
 *   pending -> firing inside a window      event suppressed, no outbox;
 *                                          notified_state stays as it was
 *   firing, notified_state <> 'firing',    trigger now (event firing->firing,
 *     outside any window                   details.reason "maintenance_ended")
 *   firing -> resolved, told it fired      resolve (outbox) unless inside a
 *                                          window: then suppressed, and the
 *                                          resolve is sent at the first
 *                                          evaluation after the window
 *                                          (event resolved->resolved)
 *   pending -> resolved                    recorded, never notified
 * so receivers get exactly one trigger and one resolve per occurrence, and
 * nothing for an occurrence that started and ended inside a window.
 *
 * Inhibition (sql/010) works like a window whose only member is a ticket
 * of the group of a page observed at the same evaluation: its firing is
 * suppressed (details.reason "inhibited", alerts.inhibited_by), and when the
 * page is gone and the ticket still fires it is triggered then (reason
 * "inhibition_ended"). Resolves are never inhibited: a ticket receivers
 * were told about is closed for them as usual.
 *
 * The payload of an outbox row is built in SQL from the alert row as it is
 * after the change (one definition: PAYLOAD_SQL).
 */
#include "alerts.h"
#include "strbuf.h"
#include "twtime.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct obs_copy {
	char *rule, *dedup_key, *severity, *subject, *service, *region_group, *target, *summary;
	char *labels, *details;   /* JSON text */
	char *regions, *inhibit_group;   /* NULL when not given */
	const char *inhibited_by; /* the dedup_key of the page inhibiting it (in r->obs) */
	double value;
	unsigned for_evals, resolve_after;
	bool done;
};

struct alerts_run {
	PGconn *c;
	int64_t now_ms;
	char now[48];
	char *generator_url;       /* NULL or the base URL without trailing '/' */
	struct obs_copy *obs;
	size_t nobs, capobs;
	char **rules;              /* evaluated rule names */
	size_t nrules, caprules;
	int changes;
};

/* ---- helpers ---- */

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Runs sql with text params; *out gets the result when wanted (else cleared). */
static int q(PGconn *c, const char *sql, int n, const char *const *params, PGresult **out,
	     char *err, size_t errlen)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		fail(err, errlen, "%s", PQresultErrorMessage(r));
		/* drop the trailing newline libpq adds */
		size_t l = strlen(err);
		if (l && err[l - 1] == '\n')
			err[l - 1] = '\0';
		PQclear(r);
		return -1;
	}
	if (out)
		*out = r;
	else
		PQclear(r);
	return 0;
}

static char *sdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static char *json_text(const json_t *j)
{
	if (!j)
		return strdup("{}");
	/* 15 digits: a double is stored as the decimal it came from (an
	 * objective 99.9, not 99.900000000000006) */
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
}

static void obs_free(struct obs_copy *o)
{
	free(o->rule);
	free(o->dedup_key);
	free(o->severity);
	free(o->subject);
	free(o->service);
	free(o->region_group);
	free(o->target);
	free(o->summary);
	free(o->labels);
	free(o->details);
	free(o->regions);
	free(o->inhibit_group);
}

static void run_free(struct alerts_run *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nobs; i++)
		obs_free(&r->obs[i]);
	free(r->obs);
	for (size_t i = 0; i < r->nrules; i++)
		free(r->rules[i]);
	free(r->rules);
	free(r->generator_url);
	free(r);
}

/* ---- API ---- */

struct alerts_run *alerts_begin(PGconn *conn, int64_t now_ms, const char *generator_url,
				char *err, size_t errlen)
{
	struct alerts_run *r = calloc(1, sizeof *r);
	if (!r) {
		fail(err, errlen, "out of memory");
		return NULL;
	}
	r->c = conn;
	r->now_ms = now_ms;
	twtime_rfc3339_ms(now_ms, r->now, sizeof r->now);
	if (generator_url && *generator_url) {
		if (!(r->generator_url = strdup(generator_url))) {
			free(r);
			fail(err, errlen, "out of memory");
			return NULL;
		}
		size_t l = strlen(r->generator_url);
		while (l > 0 && r->generator_url[l - 1] == '/')
			r->generator_url[--l] = '\0';
	}
	if (q(conn, "BEGIN", 0, NULL, NULL, err, errlen) < 0) {
		run_free(r);
		return NULL;
	}
	return r;
}

int alerts_observe(struct alerts_run *r, const struct alert_obs *o, char *err, size_t errlen)
{
	if (!o->rule || !o->dedup_key || !o->severity || !o->subject || !o->summary)
		return fail(err, errlen, "alerts_observe: rule, dedup_key, severity, subject and "
			    "summary are required");
	if (strcmp(o->severity, "page") && strcmp(o->severity, "ticket"))
		return fail(err, errlen, "alerts_observe: severity \"%s\" is not page or ticket",
			    o->severity);
	if ((o->labels && !json_is_object(o->labels)) || (o->details && !json_is_object(o->details)))
		return fail(err, errlen, "alerts_observe: labels and details must be objects");
	for (size_t i = 0; i < r->nobs; i++)
		if (!strcmp(r->obs[i].dedup_key, o->dedup_key))
			return fail(err, errlen, "alerts_observe: dedup_key \"%s\" observed twice "
				    "in one evaluation", o->dedup_key);
	if (r->nobs == r->capobs) {
		size_t nc = r->capobs ? r->capobs * 2 : 16;
		struct obs_copy *n = realloc(r->obs, nc * sizeof *n);
		if (!n)
			return fail(err, errlen, "out of memory");
		r->obs = n;
		r->capobs = nc;
	}
	struct obs_copy *c = &r->obs[r->nobs];
	memset(c, 0, sizeof *c);
	c->rule = sdup(o->rule);
	c->dedup_key = sdup(o->dedup_key);
	c->severity = sdup(o->severity);
	c->subject = sdup(o->subject);
	c->service = sdup(o->service);
	c->region_group = sdup(o->region_group ? o->region_group : "all");
	c->target = sdup(o->target);
	c->summary = sdup(o->summary);
	c->labels = json_text(o->labels);
	c->details = json_text(o->details);
	c->regions = o->regions && *o->regions ? strdup(o->regions) : NULL;
	c->inhibit_group = sdup(o->inhibit_group);
	c->value = o->value;
	c->for_evals = o->for_evals ? o->for_evals : 1;
	c->resolve_after = o->resolve_after ? o->resolve_after : 1;
	if (!c->rule || !c->dedup_key || !c->severity || !c->subject || !c->region_group ||
	    !c->summary || !c->labels || !c->details || (o->service && !c->service) ||
	    (o->target && !c->target) || (o->regions && *o->regions && !c->regions) ||
	    (o->inhibit_group && !c->inhibit_group)) {
		obs_free(c);
		return fail(err, errlen, "out of memory");
	}
	r->nobs++;
	return 0;
}

int alerts_rule_evaluated(struct alerts_run *r, const char *rule, char *err, size_t errlen)
{
	for (size_t i = 0; i < r->nrules; i++)
		if (!strcmp(r->rules[i], rule))
			return 0;
	if (r->nrules == r->caprules) {
		size_t nc = r->caprules ? r->caprules * 2 : 16;
		char **n = realloc(r->rules, nc * sizeof *n);
		if (!n)
			return fail(err, errlen, "out of memory");
		r->rules = n;
		r->caprules = nc;
	}
	if (!(r->rules[r->nrules] = strdup(rule)))
		return fail(err, errlen, "out of memory");
	r->nrules++;
	return 0;
}

void alerts_abort(struct alerts_run *r)
{
	if (!r)
		return;
	PQclear(PQexec(r->c, "ROLLBACK"));
	run_free(r);
}

/* ---- transitions ---- */

/* The sink-neutral payload (sql/002 notification_outbox) of alert $1,
 * action $3, generator URL base $5 (NULL: none). The regions (sql/010): a
 * trigger names the regions the alert sees now, a resolve the ones its
 * trigger named; an alert pooled over regions (region_group 'all') shows
 * them as its region_group too, which is what every sink displays. The
 * rule-made labels.regions never replaces a target's own label. */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define REGIONS "(CASE WHEN $3 = 'resolve' THEN coalesce(a.notified_regions, a.regions) " \
	"ELSE a.regions END)"
#define REGIONS_TEXT "array_to_string(" REGIONS ", ', ')"
#define REGIONS_OBJ \
	"CASE WHEN cardinality(" REGIONS ") > 0 THEN jsonb_build_object('regions', " \
	REGIONS_TEXT ") ELSE '{}' END"
#define PAYLOAD_SQL \
	"jsonb_build_object('rule', a.rule, 'severity', a.severity, 'state', a.state, " \
	"'summary', a.summary, 'subject', a.subject, 'service', a.service, " \
	"'region_group', CASE WHEN a.region_group = 'all' AND cardinality(" REGIONS ") > 0 " \
	"THEN " REGIONS_TEXT " ELSE a.region_group END, " \
	"'regions', to_jsonb(coalesce(" REGIONS ", CASE WHEN a.region_group <> 'all' " \
	"THEN ARRAY[a.region_group] END)), " \
	"'labels', " REGIONS_OBJ " || a.labels, " \
	"'annotations', jsonb_build_object('summary', a.summary) || " REGIONS_OBJ ", " \
	"'details', a.details, " \
	"'starts_at', " TS("a.firing_since") ", 'ends_at', " TS("a.resolved_at") ", " \
	"'generator_url', CASE WHEN $5::text IS NULL THEN NULL ELSE $5::text || '/alerts/' || a.id END, " \
	"'dedup_key', a.dedup_key, 'alert_id', a.id, 'value', a.value)"

/* One outbox row for alert $1 / event $2 / action $3 at $4, and what
 * receivers were told ($6, and at a trigger the regions it named). One
 * constant: nothing is formatted at run time. */
static const char OUTBOX_SQL[] =
	"WITH o AS (INSERT INTO notification_outbox (alert_id, event_id, action, severity, "
	"dedup_key, payload, created_at) SELECT a.id, $2, $3, a.severity, a.dedup_key, "
	PAYLOAD_SQL ", $4 FROM alerts a WHERE a.id = $1 RETURNING 1) "
	"UPDATE alerts SET notified_state = $6, notified_regions = CASE WHEN $6 = 'firing' "
	"THEN regions ELSE notified_regions END WHERE id = $1";

static int add_event(struct alerts_run *r, const char *id, const char *from, const char *to,
		     bool suppressed, const char *details, char *evid, size_t evlen, char *err,
		     size_t errlen)
{
	PGresult *res;
	const char *p[6] = { id, r->now, from, to, suppressed ? "true" : "false",
			     details ? details : "{}" };
	if (q(r->c, "INSERT INTO alert_events (alert_id, at, from_state, to_state, suppressed, "
		    "details) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
	      6, p, &res, err, errlen) < 0)
		return -1;
	snprintf(evid, evlen, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

static int add_outbox(struct alerts_run *r, const char *id, const char *evid, const char *action,
		      char *err, size_t errlen)
{
	const char *p[6] = { id, evid, action, r->now, r->generator_url,
			     !strcmp(action, "trigger") ? "firing" : "resolved" };
	return q(r->c, OUTBOX_SQL, 6, p, NULL, err, errlen);
}

/* Why a notification is held back: a maintenance window, or the page
 * inhibited_by (a dedup_key). The details of the suppressed event. */
struct mute {
	bool maint;
	const char *inhibited_by;
};

static bool muted(const struct mute *m)
{
	return m->maint || m->inhibited_by;
}

/* {"reason": ...} of a suppressed event (malloc'd), NULL when not muted or
 * out of memory (*oom set). */
static char *mute_details(const struct mute *m, bool *oom)
{
	json_t *j = m->maint ? json_pack("{s:s}", "reason", "maintenance")
		  : m->inhibited_by ? json_pack("{s:s, s:s}", "reason", "inhibited",
						"inhibited_by", m->inhibited_by)
				    : NULL;
	*oom = false;
	if (!muted(m))
		return NULL;
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(j);
	*oom = s == NULL;
	return s;
}

/* pending -> firing. */
static int fire(struct alerts_run *r, const char *id, const struct mute *m, char *err,
		size_t errlen)
{
	char ev[32];
	bool oom;
	char *details = mute_details(m, &oom);
	const char *p[2] = { id, r->now };
	if (oom)
		return fail(err, errlen, "out of memory");
	int rc = q(r->c, "UPDATE alerts SET state = 'firing', firing_since = $2 WHERE id = $1", 2, p,
		   NULL, err, errlen);
	if (rc == 0)
		rc = add_event(r, id, "pending", "firing", muted(m), details, ev, sizeof ev, err,
			       errlen);
	free(details);
	if (rc < 0)
		return -1;
	r->changes++;
	if (muted(m))
		return 0;
	return add_outbox(r, id, ev, "trigger", err, errlen);
}

static int new_alert(struct alerts_run *r, const struct obs_copy *o, char *err, size_t errlen)
{
	char val[64], fe[16], ra[16], id[32], ev[32];
	PGresult *res;
	snprintf(val, sizeof val, "%.17g", o->value);
	snprintf(fe, sizeof fe, "%u", o->for_evals);
	snprintf(ra, sizeof ra, "%u", o->resolve_after);
	const char *p[17] = { o->dedup_key, o->rule, o->severity, o->subject, o->service,
			      o->region_group, o->labels, o->summary, o->details, val, r->now,
			      o->target, fe, ra, o->regions, o->inhibit_group, o->inhibited_by };
	if (q(r->c, "INSERT INTO alerts (dedup_key, rule, severity, state, subject, service, "
		    "region_group, labels, summary, details, value, created_at, pending_since, "
		    "last_eval_at, active_evals, clean_evals, target, for_evals, resolve_after, "
		    "regions, inhibit_group, inhibited_by) "
		    "VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9, $10, $11, $11, $11, 1, 0, "
		    "$12, $13, $14, string_to_array($15, ', '), $16, $17) RETURNING id, "
		    "tw_in_maintenance(service, target, subject, region_group, labels, $11)",
	      17, p, &res, err, errlen) < 0)
		return -1;
	snprintf(id, sizeof id, "%s", PQgetvalue(res, 0, 0));
	struct mute m = { PQgetvalue(res, 0, 1)[0] == 't', o->inhibited_by };
	PQclear(res);
	if (add_event(r, id, NULL, "pending", false, NULL, ev, sizeof ev, err, errlen) < 0)
		return -1;
	r->changes++;
	if (o->for_evals <= 1)
		return fire(r, id, &m, err, errlen);
	return 0;
}

/* Columns of the open alerts read at commit. */
enum { C_ID, C_KEY, C_RULE, C_STATE, C_ACTIVE, C_CLEAN, C_NOTIFIED, C_MAINT, C_RESOLVE_AFTER,
       C_INHIBITED };

static int cmp_key(const void *k, const void *o)
{
	return strcmp((const char *)k, ((const struct obs_copy *)o)->dedup_key);
}

static int cmp_obs(const void *a, const void *b)
{
	return strcmp(((const struct obs_copy *)a)->dedup_key, ((const struct obs_copy *)b)->dedup_key);
}

static int cmp_group(const void *a, const void *b)
{
	const struct obs_copy *x = *(struct obs_copy *const *)a, *y = *(struct obs_copy *const *)b;
	int c = strcmp(x->inhibit_group, y->inhibit_group);
	return c ? c : strcmp(x->dedup_key, y->dedup_key);
}

static int cmp_group_key(const void *k, const void *o)
{
	return strcmp((const char *)k, (*(struct obs_copy *const *)o)->inhibit_group);
}

/* Marks every ticket whose inhibit_group has a page among the observations
 * with that page's dedup_key (the first by key when several). */
static int inhibit(struct alerts_run *r, char *err, size_t errlen)
{
	size_t n = 0;
	struct obs_copy **pages = calloc(r->nobs ? r->nobs : 1, sizeof *pages);
	if (!pages)
		return fail(err, errlen, "out of memory");
	for (size_t i = 0; i < r->nobs; i++)
		if (r->obs[i].inhibit_group && !strcmp(r->obs[i].severity, "page"))
			pages[n++] = &r->obs[i];
	qsort(pages, n, sizeof *pages, cmp_group);
	for (size_t i = 0; n > 0 && i < r->nobs; i++) {
		struct obs_copy *o = &r->obs[i];
		if (!o->inhibit_group || strcmp(o->severity, "ticket"))
			continue;
		struct obs_copy **pg = bsearch(o->inhibit_group, pages, n, sizeof *pages, cmp_group_key);
		while (pg && pg > pages && !strcmp(pg[-1]->inhibit_group, o->inhibit_group))
			pg--;
		o->inhibited_by = pg ? (*pg)->dedup_key : NULL;
	}
	free(pages);
	return 0;
}

static bool rule_evaluated(const struct alerts_run *r, const char *rule)
{
	for (size_t i = 0; i < r->nrules; i++)
		if (!strcmp(r->rules[i], rule))
			return true;
	return false;
}

/* Appends s as an element of a text[] literal: "s" with " and \\ escaped. */
static void array_elem(struct strbuf *b, const char *s, bool first)
{
	strbuf_puts(b, first ? "\"" : ",\"");
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			strbuf_putc(b, '\\');
		strbuf_putc(b, *s);
	}
	strbuf_putc(b, '"');
}

/* '{a,b}' of the rules observed or evaluated, for = ANY($1); NULL when out
 * of memory. Any number of rules of any length (the one growable buffer). */
static char *rules_array(const struct alerts_run *r)
{
	struct strbuf b = { 0 };
	size_t n = 0;
	strbuf_putc(&b, '{');
	for (size_t i = 0; i < r->nrules; i++)
		array_elem(&b, r->rules[i], n++ == 0);
	for (size_t i = 0; i < r->nobs; i++)
		if (!rule_evaluated(r, r->obs[i].rule))
			array_elem(&b, r->obs[i].rule, n++ == 0);
	strbuf_putc(&b, '}');
	char *s = strbuf_take(&b);     /* NULL when an append failed */
	strbuf_free(&b);
	return s;
}

static int apply(struct alerts_run *r, char *err, size_t errlen)
{
	PGresult *open = NULL;
	int rc = -1;
	char *rules = rules_array(r);
	if (!rules)
		return fail(err, errlen, "out of memory building the list of %zu rules",
			    r->nrules + r->nobs);
	if (r->nobs > 0)
		qsort(r->obs, r->nobs, sizeof *r->obs, cmp_obs);
	if (inhibit(r, err, errlen) < 0)
		goto out;

	/* open alerts of these rules, and resolved ones whose resolve was held
	 * back by a maintenance window */
	const char *p0[2] = { rules, r->now };
	if (q(r->c, "SELECT id, dedup_key, rule, state, active_evals, clean_evals, notified_state, "
		    "tw_in_maintenance(service, target, subject, region_group, labels, $2), "
		    "resolve_after, inhibited_by FROM alerts "
		    "WHERE rule = ANY($1::text[]) AND (state <> 'resolved' OR notified_state = 'firing') "
		    "ORDER BY id FOR UPDATE",
	      2, p0, &open, err, errlen) < 0)
		goto out;

	for (int i = 0; i < PQntuples(open); i++) {
		const char *id = PQgetvalue(open, i, C_ID), *state = PQgetvalue(open, i, C_STATE);
		const char *notified = PQgetisnull(open, i, C_NOTIFIED) ? "" : PQgetvalue(open, i, C_NOTIFIED);
		bool maint = PQgetvalue(open, i, C_MAINT)[0] == 't';
		char ev[32];

		if (!strcmp(state, "resolved")) {
			/* resolved inside a window after receivers were told it fired */
			if (maint || !rule_evaluated(r, PQgetvalue(open, i, C_RULE)))
				continue;
			if (add_event(r, id, "resolved", "resolved", false,
				      "{\"reason\": \"maintenance_ended\"}", ev, sizeof ev, err, errlen) < 0 ||
			    add_outbox(r, id, ev, "resolve", err, errlen) < 0)
				goto out;
			r->changes++;
			continue;
		}

		struct obs_copy *o = r->nobs == 0 ? NULL
						  : bsearch(PQgetvalue(open, i, C_KEY), r->obs, r->nobs,
							    sizeof *r->obs, cmp_key);
		if (o) {
			o->done = true;
			long active = strtol(PQgetvalue(open, i, C_ACTIVE), NULL, 10) + 1;
			char val[64], fe[16], ra[16];
			snprintf(val, sizeof val, "%.17g", o->value);
			snprintf(fe, sizeof fe, "%u", o->for_evals);
			snprintf(ra, sizeof ra, "%u", o->resolve_after);
			const char *p[13] = { id, r->now, o->summary, o->details, val, o->labels,
					      o->severity, fe, ra, o->target, o->regions,
					      o->inhibit_group, o->inhibited_by };
			if (q(r->c, "UPDATE alerts SET active_evals = active_evals + 1, clean_evals = 0, "
				    "last_eval_at = $2, summary = $3, details = $4, value = $5, labels = $6, "
				    "severity = $7, for_evals = $8, resolve_after = $9, target = $10, "
				    "regions = string_to_array($11, ', '), inhibit_group = $12, "
				    "inhibited_by = $13 WHERE id = $1", 13, p, NULL, err, errlen) < 0)
				goto out;
			struct mute m = { maint, o->inhibited_by };
			if (!strcmp(state, "pending")) {
				if (active >= (long)o->for_evals && fire(r, id, &m, err, errlen) < 0)
					goto out;
			} else if (strcmp(notified, "firing") != 0 && !muted(&m)) {
				/* fired inside a window, or while a page inhibited it, and that
				 * has ended: tell receivers now */
				bool was_inhibited = !PQgetisnull(open, i, C_INHIBITED);
				if (add_event(r, id, "firing", "firing", false,
					      was_inhibited ? "{\"reason\": \"inhibition_ended\"}"
							    : "{\"reason\": \"maintenance_ended\"}",
					      ev, sizeof ev, err, errlen) < 0 ||
				    add_outbox(r, id, ev, "trigger", err, errlen) < 0)
					goto out;
				r->changes++;
			}
			continue;
		}
		if (!rule_evaluated(r, PQgetvalue(open, i, C_RULE)))
			continue;
		/* the condition is false at this evaluation */
		long clean = strtol(PQgetvalue(open, i, C_CLEAN), NULL, 10) + 1;
		long after = strtol(PQgetvalue(open, i, C_RESOLVE_AFTER), NULL, 10);
		const char *p[2] = { id, r->now };
		if (clean < (after > 0 ? after : 1)) {
			if (q(r->c, "UPDATE alerts SET clean_evals = clean_evals + 1, active_evals = 0, "
				    "last_eval_at = $2 WHERE id = $1", 2, p, NULL, err, errlen) < 0)
				goto out;
			continue;
		}
		bool told = !strcmp(notified, "firing");
		if (q(r->c, "UPDATE alerts SET state = 'resolved', resolved_at = $2, clean_evals = "
			    "clean_evals + 1, active_evals = 0, last_eval_at = $2 WHERE id = $1", 2, p,
		      NULL, err, errlen) < 0 ||
		    add_event(r, id, state, "resolved", told && maint,
			      told && maint ? "{\"reason\": \"maintenance\"}" : NULL, ev, sizeof ev,
			      err, errlen) < 0)
			goto out;
		r->changes++;
		if (told && !maint && add_outbox(r, id, ev, "resolve", err, errlen) < 0)
			goto out;
	}

	for (size_t i = 0; i < r->nobs; i++)
		if (!r->obs[i].done && new_alert(r, &r->obs[i], err, errlen) < 0)
			goto out;
	rc = 0;
out:
	PQclear(open);
	free(rules);
	return rc;
}

int alerts_commit(struct alerts_run *r, int *changes, char *err, size_t errlen)
{
	if (changes)
		*changes = 0;
	if (apply(r, err, errlen) < 0) {
		alerts_abort(r);
		return -1;
	}
	if (q(r->c, "COMMIT", 0, NULL, NULL, err, errlen) < 0) {
		alerts_abort(r);
		return -1;
	}
	if (changes)
		*changes = r->changes;
	run_free(r);
	return 0;
}

/* ---- what an evaluation changed (`tlswatch-collector evaluate`) ---- */

int alerts_last_event_id(PGconn *conn, int64_t *id, char *err, size_t errlen)
{
	PGresult *res;
	if (q(conn, "SELECT coalesce(max(id), 0) FROM alert_events", 0, NULL, &res, err, errlen) < 0)
		return -1;
	*id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int alerts_print_changes(PGconn *conn, int64_t since_id, json_t *json_out, FILE *out, char *err,
			 size_t errlen)
{
	char since[32];
	PGresult *res;
	snprintf(since, sizeof since, "%" PRId64, since_id);
	const char *p[1] = { since };
	/* reason: why a suppressed change was not notified (sql/010) */
	if (q(conn, "SELECT a.dedup_key, a.severity, coalesce(e.from_state, '-'), e.to_state, "
		    "e.suppressed, a.summary, CASE WHEN e.suppressed THEN "
		    "coalesce(e.details->>'reason', 'maintenance') || coalesce(' by ' || "
		    "(e.details->>'inhibited_by'), '') END "
		    "FROM alert_events e JOIN alerts a ON a.id = e.alert_id "
		    "WHERE e.id > $1 ORDER BY e.id", 1, p, &res, err, errlen) < 0)
		return -1;
	int rc = 0;
	for (int i = 0; i < PQntuples(res); i++) {
		bool suppressed = PQgetvalue(res, i, 4)[0] == 't';
		const char *why = PQgetisnull(res, i, 6) ? NULL : PQgetvalue(res, i, 6);
		if (!json_out) {
			fprintf(out, "alert %s (%s): %s -> %s%s%s%s: %s\n", PQgetvalue(res, i, 0),
				PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
				why ? " (suppressed: " : "", why ? why : "", why ? ")" : "",
				PQgetvalue(res, i, 5));
			continue;
		}
		if (json_array_append_new(json_out, json_pack(
			"{s:s, s:s, s:s, s:s, s:b, s:s?, s:s}", "dedup_key", PQgetvalue(res, i, 0),
			"severity", PQgetvalue(res, i, 1), "from", PQgetvalue(res, i, 2),
			"to", PQgetvalue(res, i, 3), "suppressed", suppressed, "reason", why,
			"summary", PQgetvalue(res, i, 5))) < 0) {
			rc = fail(err, errlen, "out of memory");
			break;
		}
	}
	PQclear(res);
	return rc;
}
