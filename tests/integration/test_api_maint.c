/*
 * test_api_maint.c - maintenance windows over HTTP against a live
 * `tlswatch-collector run` (fixture test_api_read_http.sh): writes need the
 * write token (none, a wrong one, a read of the list without one), a
 * created window is what tw_in_maintenance() matches and what
 * `maintenance list` would show, every bad body field is a 400 naming it,
 * delete answers 204 then 404. Answers are checked against openapi.json by
 * the fixture.
 */
#define _GNU_SOURCE
#include "api_http_env.h"

TestSuite(api_maint, .timeout = 120);

#define M "/api/v1/maintenance"

static struct answer post(const char *token, const char *body)
{
	return call("POST", M, token, body, M);
}

Test(api_maint, writes_need_the_token)
{
	bad(post(NULL, "{\"reason\":\"r\",\"duration\":\"1h\"}"), 401, NULL);
	bad(post("wrong-token", "{\"reason\":\"r\",\"duration\":\"1h\"}"), 401, NULL);
	bad(call("DELETE", "/api/v1/maintenance/{id}", NULL, NULL, M "/1"), 401, NULL);
	/* reads need none (no read token configured) */
	struct answer a = GET(M, M);
	cr_assert_eq(a.status, 200);
	json_decref(a.body);
}

Test(api_maint, create_list_match_delete)
{
	const char *tok = env("TW_API_TOKEN");
	struct answer a = post(tok, "{\"service\":\"svc-maint\",\"target\":\"m.example:443\","
				    "\"labels\":{\"team\":\"ops\"},\"duration\":\"2h\","
				    "\"reason\":\"cert rotation\",\"created_by\":\"alice\"}");
	cr_assert_eq(a.status, 201, "%d", a.status);
	long long id = (long long)jnum(a.body, "id");
	char want[64];
	snprintf(want, sizeof want, M "/%lld", id);
	cr_assert_str_eq(a.location, want);
	cr_assert(json_is_true(json_object_get(a.body, "active")));
	cr_assert_str_eq(jstr(a.body, "created_by"), "alice");
	cr_assert(jnull(a.body, "region"));
	json_decref(a.body);

	/* the database agrees: an alert of that service, target and labels is in it now */
	PGconn *c = db();
	PGresult *r = PQexec(c, "SELECT tw_in_maintenance('svc-maint', 'm.example:443', 'x', 'all', "
				"'{\"team\":\"ops\",\"tier\":\"1\"}', now()), "
				"tw_in_maintenance('svc-other', 'm.example:443', 'x', 'all', '{\"team\":\"ops\"}', now()), "
				"(SELECT ends_at - starts_at FROM maintenance_windows WHERE id = "
				"(SELECT max(id) FROM maintenance_windows WHERE service = 'svc-maint'))::text");
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
	cr_assert_str_eq(PQgetvalue(r, 0, 0), "t");
	cr_assert_str_eq(PQgetvalue(r, 0, 1), "f");
	cr_assert_str_eq(PQgetvalue(r, 0, 2), "02:00:00");
	PQclear(r);

	/* a window in the future with explicit times (RFC 3339 and Unix ms) */
	a = post(tok, "{\"region\":\"eu\",\"starts_at\":\"2099-01-01T00:00:00Z\","
		      "\"ends_at\":\"4070912400000\",\"reason\":\"later\"}");
	cr_assert_eq(a.status, 201);
	long long later = (long long)jnum(a.body, "id");
	cr_assert_str_eq(jstr(a.body, "starts_at"), "2099-01-01T00:00:00.000Z");
	cr_assert_str_eq(jstr(a.body, "ends_at"), "2099-01-01T01:00:00.000Z");
	cr_assert(json_is_false(json_object_get(a.body, "active")));
	json_decref(a.body);

	a = GET(M, M);
	bool saw = false, saw_later = false;
	for (size_t i = 0; i < json_array_size(items(&a)); i++) {
		long long x = (long long)jnum(json_array_get(items(&a), i), "id");
		saw |= x == id;
		saw_later |= x == later;
	}
	cr_assert(saw && saw_later);
	json_decref(a.body);

	struct answer d = call("DELETE", "/api/v1/maintenance/{id}", tok, NULL, M "/%lld", id);
	cr_assert_eq(d.status, 204);
	cr_assert_null(d.body);
	bad(call("DELETE", "/api/v1/maintenance/{id}", tok, NULL, M "/%lld", id), 404, NULL);
	bad(call("DELETE", "/api/v1/maintenance/{id}", tok, NULL, M "/x1"), 400, "id");
	r = PQexec(c, "SELECT tw_in_maintenance('svc-maint', 'm.example:443', 'x', 'all', '{\"team\":\"ops\"}', now())");
	cr_assert_str_eq(PQgetvalue(r, 0, 0), "f", "deleted: nothing matches");
	PQclear(r);
	d = call("DELETE", "/api/v1/maintenance/{id}", tok, NULL, M "/%lld", later);
	cr_assert_eq(d.status, 204);
	PQfinish(c);
}

/* An ended window is listed only with all=true. */
Test(api_maint, list_all_shows_ended_windows)
{
	PGconn *c = db();
	sql(c, "INSERT INTO maintenance_windows (starts_at, ends_at, reason) VALUES "
	       "(now() - interval '3 hours', now() - interval '2 hours', 'api-maint-ended')");
	struct answer a = GET(M, M);
	for (size_t i = 0; i < json_array_size(items(&a)); i++)
		cr_assert_str_neq(jstr(json_array_get(items(&a), i), "reason"), "api-maint-ended");
	json_decref(a.body);
	a = GET(M, M "?all=true");
	bool saw = false;
	for (size_t i = 0; i < json_array_size(items(&a)); i++)
		saw |= !strcmp(jstr(json_array_get(items(&a), i), "reason"), "api-maint-ended");
	cr_assert(saw);
	json_decref(a.body);
	bad(GET(M, M "?all=maybe"), 400, "all");
	PQfinish(c);
}

Test(api_maint, bad_bodies_name_the_field)
{
	const char *tok = env("TW_API_TOKEN");
	bad(post(tok, "{\"duration\":\"1h\"}"), 400, "reason");
	bad(post(tok, "{\"reason\":\"\",\"duration\":\"1h\"}"), 400, "reason");
	bad(post(tok, "{\"reason\":\"r\"}"), 400, "ends_at");
	bad(post(tok, "{\"reason\":\"r\",\"duration\":\"1h\",\"ends_at\":\"2099-01-01T00:00:00Z\"}"), 400,
	    "duration");
	bad(post(tok, "{\"reason\":\"r\",\"duration\":\"soon\"}"), 400, "duration");
	bad(post(tok, "{\"reason\":\"r\",\"duration\":\"1h\",\"servce\":\"x\"}"), 400, "servce");
	bad(post(tok, "{\"reason\":\"r\",\"duration\":\"1h\",\"service\":7}"), 400, "service");
	bad(post(tok, "{\"reason\":\"r\",\"duration\":\"1h\",\"target\":\"no port\"}"), 400, "target");
	bad(post(tok, "{\"reason\":\"r\",\"duration\":\"1h\",\"labels\":{\"team\":1}}"), 400, "labels");
	bad(post(tok, "{\"reason\":\"r\",\"duration\":\"1h\",\"labels\":[\"a\"]}"), 400, "labels");
	bad(post(tok, "{\"reason\":\"r\",\"starts_at\":\"2099-01-02T00:00:00Z\","
		      "\"ends_at\":\"2099-01-01T00:00:00Z\"}"), 400, "ends_at");
	bad(post(tok, "{\"reason\":\"r\",\"duration\":\"1h\",\"starts_at\":\"tomorrow\"}"), 400, "starts_at");
	bad(post(tok, "{\"reason\":"), 400, "body");
	bad(post(tok, "[1,2]"), 400, "body");
	bad(post(tok, ""), 400, "body");
	/* nothing of those was written */
	PGconn *c = db();
	PGresult *r = PQexec(c, "SELECT count(*) FROM maintenance_windows WHERE reason = 'r'");
	cr_assert_str_eq(PQgetvalue(r, 0, 0), "0");
	PQclear(r);
	PQfinish(c);
}
