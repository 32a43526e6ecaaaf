/*
 * test_dashboard.c - the dashboard served by a real `tlswatch-collector run`
 * (tests/integration/test_dashboard.sh starts it with PostgreSQL), loaded in
 * headless Chromium against the live JSON API:
 *
 *  - the static files: types, ETag and 304, Content-Security-Policy,
 *    nosniff, HEAD, 405, unknown assets 404;
 *  - each view (on-call, executive, debug, a target's drill-down) loads with
 *    no console message (Chromium logs every console call, uncaught error
 *    and failed request as a CONSOLE line with --enable-logging=stderr), no
 *    error recorded in #js-errors (errors.js) and no panel that failed;
 *  - the grid shows the cells and colour classes the seeded outcomes imply
 *    (dash_env.h): ok everywhere, one profile locked out in every region
 *    (degraded, hatched, "legacy: protocol_version"), one region failing,
 *    a flapping profile (dotted);
 *  - the drill-down shows the seeded certificates with the drifting region
 *    marked, and SVG charts;
 *  - a target whose name contains <script> is shown verbatim and adds no
 *    element;
 *  - screenshots at 1280x900 and at phone width (390x844), PNG, saved under
 *    $TW_ARTIFACTS with their paths printed.
 *
 * The page's own refresh timer (30 s) is beyond the virtual time budget,
 * so each dump is of one load.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dash_env.h"

TestSuite(dashboard, .timeout = 240);

static const char *env(const char *name)
{
	const char *v = getenv(name);
	cr_assert(v && *v, "%s is not set (run through tests/integration/test_dashboard.sh)", name);
	return v;
}

/* Seeds the collector's database once for every test of this binary (each
 * test runs in its own process): an advisory lock serialises them, a
 * marker table says it is done. */
static void seed_once(void)
{
	PGconn *c = PQconnectdb(env("TW_PG_CONNINFO"));
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
	exec_ok(c, "SELECT pg_advisory_lock(74657374)");
	PGresult *r = PQexec(c, "SELECT to_regclass('dash_seeded') IS NOT NULL");
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	bool done = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	if (!done) {
		dash_seed(env("TW_PG_CONNINFO"));
		exec_ok(c, "CREATE TABLE dash_seeded ()");
	}
	exec_ok(c, "SELECT pg_advisory_unlock(74657374)");
	PQfinish(c);
}

/* ---- raw HTTP ---- */

struct resp {
	int status;
	char *head;  /* status line and headers */
	char *body;
	size_t body_len;
};

static struct resp http(const char *request)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)strtol(env("TW_HTTP_PORT"), NULL, 10)) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0, "connect: %s", strerror(errno));
	size_t n = strlen(request);
	cr_assert_eq(write(fd, request, n), (ssize_t)n);
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	cr_assert_not_null(buf);
	for (;;) {
		if (len + 1 >= cap) {
			buf = realloc(buf, cap *= 2);
			cr_assert_not_null(buf);
		}
		ssize_t k = read(fd, buf + len, cap - len - 1);
		if (k <= 0)
			break;
		len += (size_t)k;
	}
	close(fd);
	buf[len] = '\0';
	struct resp r = { 0 };
	cr_assert_eq(sscanf(buf, "HTTP/1.%*d %d", &r.status), 1, "bad response: %.80s", buf);
	char *sep = strstr(buf, "\r\n\r\n");
	cr_assert_not_null(sep, "no end of headers");
	*sep = '\0';
	r.head = strdup(buf);
	r.body_len = len - (size_t)(sep + 4 - buf);
	r.body = malloc(r.body_len + 1);
	cr_assert(r.head && r.body);
	memcpy(r.body, sep + 4, r.body_len);
	r.body[r.body_len] = '\0';
	free(buf);
	return r;
}

static struct resp get(const char *method, const char *path, const char *extra_headers)
{
	char req[1024];
	snprintf(req, sizeof req, "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n%s\r\n", method, path,
		 extra_headers ? extra_headers : "");
	return http(req);
}

/* The value of header name (case-insensitive), "" when absent (static buffer). */
static const char *header(const struct resp *r, const char *name)
{
	static char v[1024];
	v[0] = '\0';
	size_t nl = strlen(name);
	for (const char *l = strstr(r->head, "\r\n"); l; l = strstr(l + 2, "\r\n")) {
		if (strncasecmp(l + 2, name, nl) == 0 && l[2 + nl] == ':') {
			const char *s = l + 3 + nl;
			while (*s == ' ')
				s++;
			const char *e = strstr(s, "\r\n");
			size_t k = e ? (size_t)(e - s) : strlen(s);
			if (k >= sizeof v)
				k = sizeof v - 1;
			memcpy(v, s, k);
			v[k] = '\0';
			break;
		}
	}
	return v;
}

static void resp_free(struct resp *r)
{
	free(r->head);
	free(r->body);
}

Test(dashboard, static_files_have_types_cache_validators_and_a_strict_csp)
{
	struct resp r = get("GET", "/", NULL);
	cr_assert_eq(r.status, 200, "%s", r.head);
	cr_expect_str_eq(header(&r, "Content-Type"), "text/html; charset=utf-8");
	cr_expect_not_null(strstr(header(&r, "Content-Security-Policy"), "default-src 'self'"));
	cr_expect_null(strstr(header(&r, "Content-Security-Policy"), "unsafe-inline"));
	cr_expect_str_eq(header(&r, "X-Content-Type-Options"), "nosniff");
	cr_expect_str_eq(header(&r, "Cache-Control"), "no-cache");
	cr_expect_not_null(strstr(r.body, "<script src=\"/assets/app.js\""));
	/* no inline script or style: the CSP would block them */
	cr_expect_null(strstr(r.body, "<script>"));
	cr_expect_null(strstr(r.body, "style="));
	char etag[128], inm[200];
	snprintf(etag, sizeof etag, "%s", header(&r, "ETag"));
	cr_assert(etag[0] == '"' && strlen(etag) == 18, "ETag %s", etag);
	resp_free(&r);

	/* revalidation: the same ETag gets 304 and no body, another one 200 */
	snprintf(inm, sizeof inm, "If-None-Match: W/\"other\", %s\r\n", etag);
	r = get("GET", "/", inm);
	cr_expect_eq(r.status, 304);
	cr_expect_eq(r.body_len, 0);
	resp_free(&r);
	r = get("GET", "/", "If-None-Match: \"0000000000000000\"\r\n");
	cr_expect_eq(r.status, 200);
	resp_free(&r);

	r = get("GET", "/assets/app.js", NULL);
	cr_expect_eq(r.status, 200);
	cr_expect_str_eq(header(&r, "Content-Type"), "text/javascript; charset=utf-8");
	cr_expect_str_eq(header(&r, "X-Content-Type-Options"), "nosniff");
	cr_expect_str_neq(header(&r, "ETag"), etag);
	resp_free(&r);
	/* every script the page loads is served, and none of them turns a
	 * string into markup or code (data from the API must stay text) */
	const char *scripts[] = { "errors.js", "util.js", "chart.js", "grid.js", "panels.js",
				  "views.js", "target.js", "app.js" };
	for (size_t i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
		char path[100];
		snprintf(path, sizeof path, "/assets/%s", scripts[i]);
		struct resp js = get("GET", path, NULL);
		cr_expect_eq(js.status, 200, "%s", path);
		const char *bad[] = { "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
				      "eval(", "new Function" };
		for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
			cr_expect_null(strstr(js.body, bad[k]), "%s uses %s", path, bad[k]);
		resp_free(&js);
	}
	r = get("GET", "/assets/app.css", NULL);
	cr_expect_str_eq(header(&r, "Content-Type"), "text/css; charset=utf-8");
	resp_free(&r);

	/* HEAD: the headers, no body */
	r = get("HEAD", "/", NULL);
	cr_expect_eq(r.status, 200);
	cr_expect_eq(r.body_len, 0);
	cr_expect_str_eq(header(&r, "Content-Type"), "text/html; charset=utf-8");
	resp_free(&r);

	/* unknown files, paths that try to leave the table, wrong methods */
	const char *missing[] = { "/assets/nope.js", "/assets/", "/assets/../index.html",
				  "/assets/%2e%2e/index.html", "/index.htm", "/assets/app.js/" };
	for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
		r = get("GET", missing[i], NULL);
		cr_expect_eq(r.status, 404, "%s: %d", missing[i], r.status);
		resp_free(&r);
	}
	r = get("POST", "/", "Content-Length: 0\r\n");
	cr_expect_eq(r.status, 405);
	resp_free(&r);
}

/* ---- the browser ---- */

struct page {
	char *dom;
	char *console;  /* the CONSOLE lines Chromium logged, "" when none */
};

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	cr_assert_geq(n, 0);
	rewind(f);
	char *s = malloc((size_t)n + 1);
	cr_assert_not_null(s);
	cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	return s;
}

static int run(const char *cmd)
{
	int rc = system(cmd);
	return rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

/* Loads http://127.0.0.1:PORT/FRAGMENT; with shot, a screenshot there
 * (width x height) instead of the DOM. */
static struct page browse_at(const char *port, const char *fragment, const char *shot, int width,
			     int height, int budget_ms)
{
	static int n;
	char dir[512], out[600], err[600], cmd[4096], mode[700];
	const char *work = env("TW_WORK");
	snprintf(dir, sizeof dir, "%s/chromium-%d-%d", work, (int)getpid(), ++n);
	snprintf(out, sizeof out, "%s.dom", dir);
	snprintf(err, sizeof err, "%s.log", dir);
	if (shot)
		snprintf(mode, sizeof mode, "--hide-scrollbars --window-size=%d,%d --screenshot=%s", width,
			 height, shot);
	else
		snprintf(mode, sizeof mode, "--window-size=1280,900 --dump-dom");
	/* virtual time runs the page's timers without waiting for them and
	 * pauses while a request is outstanding: the dump follows the load */
	snprintf(cmd, sizeof cmd,
		 "cd '%s' && timeout 120 '%s' --headless --no-sandbox --disable-gpu --no-first-run "
		 "--disable-extensions --user-data-dir='%s' --enable-logging=stderr --v=0 "
		 "--virtual-time-budget=%d %s 'http://127.0.0.1:%s/%s' >'%s' 2>'%s'",
		 work, env("TW_CHROMIUM"), dir, budget_ms, mode, port, fragment, out, err);
	int rc = run(cmd);
	char *log = slurp(err);
	cr_assert_eq(rc, 0, "chromium exited %d:\n%s", rc, log);
	struct page p = { slurp(out), NULL };
	/* keep the CONSOLE lines only */
	size_t cap = strlen(log) + 1, len = 0;
	p.console = calloc(1, cap);
	cr_assert_not_null(p.console);
	char *save = NULL;
	for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, ":CONSOLE")) {
			len += (size_t)snprintf(p.console + len, cap - len, "%s\n", line);
		}
	}
	free(log);
	return p;
}

static struct page browse_for(const char *fragment, const char *shot, int width, int height,
			      int budget_ms)
{
	return browse_at(env("TW_HTTP_PORT"), fragment, shot, width, height, budget_ms);
}

static struct page browse(const char *fragment, const char *shot, int width, int height)
{
	return browse_for(fragment, shot, width, height, 15000);
}

static void page_free(struct page *p)
{
	free(p->dom);
	free(p->console);
}

/* Loads a view; asserts it loaded fully and cleanly. */
static struct page view(const char *fragment)
{
	struct page p = browse(fragment, NULL, 0, 0);
	cr_assert_str_eq(p.console, "", "%s: console messages:\n%s", fragment, p.console);
	cr_assert_not_null(strstr(p.dom, "<ul id=\"js-errors\" class=\"js-errors\" hidden=\"\"></ul>"),
			   "%s: errors recorded in #js-errors:\n%s", fragment,
			   strstr(p.dom, "js-errors") ? strstr(p.dom, "js-errors") : p.dom);
	cr_assert_not_null(strstr(p.dom, "data-loaded=\"1\""), "%s: the view did not finish loading:\n%s",
			   fragment, p.dom);
	cr_assert_null(strstr(p.dom, "could not load"), "%s: a panel failed:\n%s", fragment,
		       strstr(p.dom, "could not load"));
	return p;
}

/* The serialized <tr> of the grid row of target id (malloc'd). */
static char *grid_row(const char *dom, const char *text_id)
{
	/* rows carry data-target; the link text is the id, escaped as text */
	char needle[300];
	snprintf(needle, sizeof needle, "class=\"target-link\">%s</a>", text_id);
	const char *a = strstr(dom, needle);
	cr_assert_not_null(a, "no grid row for %s", text_id);
	const char *start = a;
	while (start > dom && strncmp(start, "<tr ", 4) != 0)
		start--;
	const char *end = strstr(a, "</tr>");
	cr_assert_not_null(end);
	return strndup(start, (size_t)(end - start));
}

/* The serialized cell of one region within a row (malloc'd). */
static char *grid_cell(const char *row, const char *region)
{
	char needle[100];
	snprintf(needle, sizeof needle, "data-region=\"%s\"", region);
	const char *a = strstr(row, needle);
	cr_assert_not_null(a, "no %s cell in %s", region, row);
	const char *start = a;
	while (start > row && strncmp(start, "<td ", 4) != 0)
		start--;
	const char *end = strstr(a, "</td>");
	cr_assert_not_null(end);
	return strndup(start, (size_t)(end - start));
}

/* The class attribute of a serialized element (static buffer). */
static const char *klass(const char *el)
{
	static char c[200];
	const char *a = strstr(el, "class=\"");
	cr_assert_not_null(a);
	a += 7;
	size_t n = strcspn(a, "\"");
	snprintf(c, sizeof c, "%.*s", (int)n, a);
	return c;
}

static bool has_class(const char *el, const char *cls)
{
	char buf[220];
	snprintf(buf, sizeof buf, " %s ", klass(el));
	char want[100];
	snprintf(want, sizeof want, " %s ", cls);
	return strstr(buf, want) != NULL;
}

static void expect_cell(const char *dom, const char *target, const char *region,
			const char *status, const char *pattern, const char *text)
{
	char *row = grid_row(dom, target);
	char *cell = grid_cell(row, region);
	char st[40];
	snprintf(st, sizeof st, "st-%s", status);
	cr_expect(has_class(cell, st), "%s %s: want %s, have class \"%s\"", target, region, st,
		  klass(cell));
	/* the status is also written out, not only coloured */
	cr_expect_not_null(strstr(cell, status), "%s %s: no status text", target, region);
	if (pattern)
		cr_expect(has_class(cell, pattern), "%s %s: want %s, have \"%s\"", target, region,
			  pattern, klass(cell));
	else
		cr_expect(!has_class(cell, "pat-locked") && !has_class(cell, "pat-flap"),
			  "%s %s: no pattern expected, have \"%s\"", target, region, klass(cell));
	if (text)
		cr_expect_not_null(strstr(cell, text), "%s %s: no \"%s\" in %s", target, region, text,
				   cell);
	free(cell);
	free(row);
}

Test(dashboard, oncall_grid_shows_what_the_seeded_outcomes_imply)
{
	seed_once();
	struct page p = view("#/oncall");
	const char *dom = p.dom;
	for (int r = 0; r < 3; r++) {
		expect_cell(dom, "healthy.example:443", dash_regions[r], "ok", NULL, "100.0%");
		expect_cell(dom, "legacy.example:443", dash_regions[r], "degraded", "pat-locked",
			    "legacy: protocol_version");
		expect_cell(dom, "expiring.example:443", dash_regions[r], "ok", NULL, NULL);
	}
	expect_cell(dom, "legacy.example:443", "eu-west", "degraded", "pat-locked", "75.0%");
	expect_cell(dom, "legacy.example:443", "us-east", "degraded", "pat-locked",
		    "1 profile locked out");
	expect_cell(dom, "regional.example:443", "ap-south", "failing", NULL, "connect_refused");
	expect_cell(dom, "regional.example:443", "eu-west", "ok", NULL, NULL);
	expect_cell(dom, "flappy.example:443", "eu-west", "degraded", "pat-flap",
		    "modern: handshake_timeout");
	expect_cell(dom, "flappy.example:443", "us-east", "ok", NULL, NULL);

	/* the panels around it: the firing alert, the expiring certificate with
	 * its owner label, the probes */
	cr_expect_not_null(strstr(dom, "cert_expiry_7d"));
	cr_expect_not_null(strstr(dom, "team=payments"));
	cr_expect_not_null(strstr(dom, "probe-ap"));

	/* the name with markup: shown as text, no element made of it; the page
	 * has exactly the script elements of index.html */
	cr_expect_not_null(strstr(dom, "&lt;script&gt;alert(1)&lt;/script&gt;.example:443"));
	cr_expect_not_null(strstr(dom, "team=&lt;b&gt;web&lt;/b&gt;"));
	int scripts = 0;
	for (const char *s = dom; (s = strstr(s, "<script")); s++)
		scripts++;
	cr_expect_eq(scripts, 8, "script elements: %d", scripts);
	cr_expect_null(strstr(dom, "<b>web</b>"));
	page_free(&p);
}

Test(dashboard, drill_down_shows_the_certificate_each_region_sees)
{
	seed_once();
	struct page p = view("#/target/expiring.example%3A443");
	const char *dom = p.dom;
	cr_expect_not_null(strstr(dom, "id=\"target-title\">expiring.example:443<"));
	cr_expect_not_null(strstr(dom, DASH_FP_EXPIRING), "the seeded fingerprint is not shown");
	/* us-east sees another certificate: its row is marked as drift */
	const char *d = strstr(dom, DASH_FP_DRIFT);
	cr_assert_not_null(d, "the drifting fingerprint is not shown");
	const char *tr = d;
	while (tr > dom && strncmp(tr, "<tr", 3) != 0)
		tr--;
	cr_expect_eq(strncmp(tr, "<tr class=\"drift\">", 18), 0, "drift row: %.80s", tr);
	cr_expect_not_null(strstr(tr, "\u2260"), "the drift mark is not written out");
	cr_expect_not_null(strstr(dom, "Drift: regions see different certificates"));
	/* charts: lines per region and profile, a legend naming them */
	cr_expect_not_null(strstr(dom, "<polyline"));
	cr_expect_not_null(strstr(dom, "Handshake success per profile"));
	cr_expect_not_null(strstr(dom, "Android 4.4.2"));
	cr_expect_not_null(strstr(dom, "TLS_AES_256_GCM_SHA384"));
	page_free(&p);
}

Test(dashboard, executive_and_debug_views_load)
{
	seed_once();
	struct page p = view("#/exec?window=24h");
	cr_expect_not_null(strstr(p.dom, "Error budget consumed per SLO"));
	/* the fixture's SLOs: shop's 75 % legacy profile overspends 99.9 % */
	cr_expect_not_null(strstr(p.dom, "shop-availability"));
	cr_expect_not_null(strstr(p.dom, "api-latency"));
	cr_expect_not_null(strstr(p.dom, "overspent"));
	cr_expect_not_null(strstr(p.dom, "Incidents, last 90 days"));
	cr_expect_not_null(strstr(p.dom, "Certificates expiring in the next 30 days"));
	cr_expect_not_null(strstr(p.dom, "Regional health grid (24h)"));
	cr_expect_not_null(strstr(p.dom, "CN=expiring.example"), "the expiring certificate");
	page_free(&p);
	p = view("#/debug?service=shop");
	cr_expect_not_null(strstr(p.dom, "Handshake latency distribution per endpoint"));
	cr_expect_not_null(strstr(p.dom, "Negotiated version and cipher per profile"));
	cr_expect_not_null(strstr(p.dom, "tlsv1 alert protocol version"), "raw reason of a failure");
	/* the service filter: shop's targets, not api's */
	cr_expect_not_null(strstr(p.dom, "legacy.example:443"));
	cr_expect_null(strstr(p.dom, "regional.example:443"));
	page_free(&p);
	/* the label filter on the grid: team=platform is regional and flappy */
	p = view("#/oncall?label=team%3Aplatform");
	cr_expect_not_null(strstr(p.dom, "class=\"target-link\">regional.example:443<"));
	cr_expect_not_null(strstr(p.dom, "class=\"target-link\">flappy.example:443<"));
	cr_expect_null(strstr(p.dom, "class=\"target-link\">healthy.example:443<"));
	page_free(&p);
}

/* The page refreshes itself (every 30 s) without reloading: after 65 s of
 * virtual time the same document has loaded its data three times (a reload
 * would restart the count at 1). */
Test(dashboard, refreshes_without_reloading)
{
	seed_once();
	struct page p = browse_for("#/oncall", NULL, 0, 0, 65000);
	cr_expect_str_eq(p.console, "", "console messages:\n%s", p.console);
	cr_expect_not_null(strstr(p.dom, "data-loaded=\"3\""), "%s",
			   strstr(p.dom, "data-loaded") ? strstr(p.dom, "data-loaded") : p.dom);
	cr_expect_null(strstr(p.dom, "could not load"));
	page_free(&p);
}

/* A collector whose API reads need a token: the page (which holds no data)
 * loads, its API requests get 401, and it asks for the token instead of
 * showing anything stale or failing silently. */
Test(dashboard, asks_for_the_read_token_when_the_api_needs_one)
{
	seed_once();
	struct page p = browse_at(env("TW_HTTP_TOKEN_PORT"), "#/oncall", NULL, 0, 0, 15000);
	cr_expect_str_eq(p.console, "", "console messages:\n%s", p.console);
	cr_expect_not_null(strstr(p.dom, "The API needs a read token"), "%s", p.dom);
	cr_expect_not_null(strstr(p.dom, "id=\"token\""));
	cr_expect_not_null(strstr(p.dom, "401"), "the failed panels say why");
	cr_expect_null(strstr(p.dom, "class=\"target-link\""), "no grid without the token");
	cr_expect_not_null(strstr(p.dom, "<ul id=\"js-errors\" class=\"js-errors\" hidden=\"\"></ul>"));
	page_free(&p);
}

static void screenshot(const char *name, const char *fragment, int w, int h)
{
	char path[700];
	snprintf(path, sizeof path, "%s/%s", env("TW_ARTIFACTS"), name);
	unlink(path);
	/* a screenshot mode has no DOM to look at: the same view, dumped
	 * first, must load cleanly, so no picture shows an error panel */
	struct page p = view(fragment);
	page_free(&p);
	p = browse(fragment, path, w, h);
	cr_expect_str_eq(p.console, "", "%s: console messages:\n%s", fragment, p.console);
	page_free(&p);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0, "no screenshot %s", path);
	cr_expect_gt(st.st_size, 20000, "%s is only %lld bytes", path, (long long)st.st_size);
	FILE *f = fopen(path, "rb");
	cr_assert_not_null(f);
	unsigned char sig[8];
	cr_assert_eq(fread(sig, 1, 8, f), 8);
	fclose(f);
	cr_expect_eq(memcmp(sig, "\x89PNG\r\n\x1a\n", 8), 0, "%s is not a PNG", path);
	printf("test_dashboard: screenshot %s (%dx%d, %s)\n", path, w, h, fragment);
	fflush(stdout);
}

Test(dashboard, screenshots_at_desktop_and_phone_width)
{
	seed_once();
	screenshot("oncall-1280.png", "#/oncall", 1280, 900);
	screenshot("oncall-phone.png", "#/oncall", 390, 844);
	screenshot("exec-1280.png", "#/exec?window=24h", 1280, 900);
	screenshot("debug-1280.png", "#/debug", 1280, 900);
	screenshot("target-1280.png", "#/target/expiring.example%3A443", 1280, 1400);
	screenshot("target-phone.png", "#/target/expiring.example%3A443", 390, 844);
}
