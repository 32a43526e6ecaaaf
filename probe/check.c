/*
 * check.c - the one-shot command: every selected profile is handshaken
 * against one endpoint, concurrently on one libevent loop, and printed as
 * a table (terminal) or JSON Lines (--json). Same engine and same Result
 * as the daemon.
 */
#include "check.h"
#include "aia_fetch.h"
#include "check_addrs.h"
#include "check_verdict.h"
#include "classify.h"
#include "handshake.h"
#include "hostport.h"
#include "log.h"
#include "profile.h"
#include "result.h"
#include "starttls.h"
#include "tlsctx.h"
#include "twtime.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>

struct check_opts {
	const char *profile_spec;
	const char *sni;
	bool no_sni;
	const char *connect_to;
	const char *ca_file;
	const char *client_cert;
	const char *client_key;
	enum starttls_proto starttls;
	enum revocation_mode revocation;
	double timeout_ms;
	double expiry_warn_days;
	double expiry_warn_fraction;
	double ocsp_slow_ms;
	double mtls_wait_ms;
	bool resume;
	bool all_addresses;
	bool no_client_stores;    /* --system-store: every profile on the system store */
	const char *nameserver;   /* --nameserver: the one DNS server asked */
	bool fail_on[FIND__COUNT];
	bool json;
	bool color;
	const char *testssl_db;
	int concurrency;
};

struct check_job {
	const struct profile *profile;
	struct tlsctx *tc;
	bool owns_tc;           /* --all-addresses: the profile's first job frees tc */
	const char *address;    /* --all-addresses: connect here; NULL: resolve */
	struct hs_conn *conn;
	Tlswatch__Result result;
	bool done;
	bool filled;
};

struct check_run {
	struct event_base *base;
	struct evdns_base *dns;
	struct check_job *jobs;
	size_t njobs, next, running, finished;
	struct hs_request tmpl;
	char addrs[CHECK_ADDRS_MAX][INET6_ADDRSTRLEN]; /* --all-addresses */
	const struct check_opts *o;
	bool progress;
	int exit_code;
	struct aia_cache *aia;  /* caIssuers fetched once for every profile */
};

static void usage(FILE *out)
{
	fprintf(out,
"usage: tlswatch-probe check [options] HOST[:PORT]\n"
"\n"
"Handshakes with HOST once per client profile and classifies what is wrong.\n"
"A profile whose real client fetches a missing intermediate through caIssuers\n"
"(Chrome, Edge, IE, Safari) does so too; the table ends with a verdict line\n"
"when the profiles disagree.\n"
"\n"
"  --profile NAME[,NAME...]|GROUP  profiles to run (default: modern); groups:\n"
"                          all, builtin, testssl, testssl-current\n"
"  --sni NAME              send NAME as SNI (default: HOST)\n"
"  --no-sni                send no SNI\n"
"  --connect-to ADDR[:PORT]  connect there instead of resolving HOST\n"
"  --ca-file FILE          trust only the CAs in FILE (default: a real client's\n"
"                          platform store next to --testssl-db - Apple, Java,\n"
"                          Linux, Microsoft, Mozilla.pem - else the system store)\n"
"  --system-store          the system store for every profile\n"
"  --client-cert FILE --client-key FILE   present this certificate (mTLS)\n"
"  --starttls PROTO        smtp, imap, pop3, ftp or postgres\n"
"  --revocation MODE       staple (default), ocsp (also ask the responder), crl\n"
"                          (also fetch the chain's CRLs) or ocsp,crl\n"
"  --timeout SEC           deadline of each phase (default 10)\n"
"  --expiry-warn DAYS      expiring_soon threshold (default 30)...\n"
"  --expiry-warn-fraction F  ...or this share of the certificate's lifetime,\n"
"                          whichever is smaller (default 0.333; 0: days only)\n"
"  --fail-on F[,F...]      these findings fail the check too (exit 1)\n"
"  --ocsp-slow-ms MS       ocsp_responder_slow threshold (default 1000)\n"
"  --mtls-wait-ms MS       TLS1.3 wait for a late client-cert rejection, or for\n"
"                          a session ticket with --resume (default 500)\n"
"  --all-addresses         every A/AAAA address of HOST (or of --connect-to),\n"
"                          each profile once per address; results carry it\n"
"  --nameserver IP[:PORT]  ask this DNS server only (default: resolv.conf)\n"
"  --resume                a second handshake resuming the session: resumed,\n"
"                          resume_ms (tickets, or session IDs)\n"
"  --testssl-db FILE       testssl.sh client database (default %s)\n"
"  --concurrency N         handshakes in flight at once (default 256)\n"
"  --json                  JSON Lines, one object per profile\n"
"  --no-color              never colour the table\n"
"  -v, --verbose           debug logging on stderr\n"
"  -h, --help              this text\n"
"\n"
"Exit status: 0 every profile ok, 1 any outcome not ok (or a --fail-on\n"
"finding), 2 usage or configuration error.\n", TESTSSL_DB_DEFAULT);
}

static int parse_double(const char *s, double min, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno || !(v >= min))
		return -1;
	*out = v;
	return 0;
}

static unsigned default_port(enum starttls_proto p)
{
	switch (p) {
	case STARTTLS_SMTP: return 25;
	case STARTTLS_IMAP: return 143;
	case STARTTLS_POP3: return 110;
	case STARTTLS_FTP: return 21;
	case STARTTLS_POSTGRES: return 5432;
	default: return 443;
	}
}

/* Loads testssl.sh's database into *all when present. Missing file: only
 * an error when the caller needs it. */
static int load_testssl(struct profile_list *all, const char *path, bool required)
{
	char err[512];
	if (access(path, R_OK) != 0) {
		if (required) {
			fprintf(stderr, "tlswatch-probe: cannot read testssl.sh client database %s: %s\n",
				path, strerror(errno));
			return -1;
		}
		return 0;
	}
	if (testssl_db_load(path, all, NULL, err, sizeof err) < 0) {
		fprintf(stderr, "tlswatch-probe: %s\n", err);
		return -1;
	}
	return 0;
}

static bool in_group(const struct profile *p, const char *group)
{
	if (strcmp(group, "all") == 0)
		return true;
	if (strcmp(group, "builtin") == 0)
		return p->origin == PROFILE_BUILTIN;
	/* built-in emulations of testssl.sh clients belong to its groups too */
	bool from_testssl = p->origin == PROFILE_TESTSSL || p->short_name != NULL;
	if (strcmp(group, "testssl") == 0)
		return from_testssl;
	return from_testssl && p->current;     /* testssl-current */
}

static bool is_group(const char *s)
{
	return !strcmp(s, "all") || !strcmp(s, "builtin") || !strcmp(s, "testssl") ||
	       !strcmp(s, "testssl-current");
}

/* Resolves the --profile spec into pointers into *all. */
static int select_profiles(const char *spec, struct profile_list *all, const char *db,
			   const struct profile ***out, size_t *n)
{
	const struct profile **sel = NULL;
	size_t cnt = 0;
	char *copy = strdup(spec), *save = NULL;
	int rc = -1;

	if (!copy)
		return -1;
	if (is_group(spec)) {
		if (strcmp(spec, "builtin") != 0 && load_testssl(all, db, strcmp(spec, "all") != 0) != 0)
			goto out;
		sel = calloc(all->len ? all->len : 1, sizeof *sel);
		if (!sel)
			goto out;
		for (size_t i = 0; i < all->len; i++) {
			const struct profile *p = &all->items[i];
			if (!in_group(p, spec))
				continue;
			/* Not silently dropped: say which clients cannot run here. */
			if (!p->emulatable) {
				fprintf(stderr, "tlswatch-probe: skipping \"%s\": %s\n", p->name,
					p->unsupported_reason ? p->unsupported_reason : "cannot be emulated");
				continue;
			}
			sel[cnt++] = p;
		}
	} else {
		bool loaded = false;
		size_t cap = 8;
		sel = calloc(cap, sizeof *sel);
		if (!sel)
			goto out;
		/* Names may contain spaces and parentheses but never commas. */
		/* Load the database before taking pointers into the list (a
		 * load may move it), and only when a name is not built in. */
		char *pre = strdup(spec), *psave = NULL;
		if (!pre)
			goto out;
		for (char *name = strtok_r(pre, ",", &psave); name && !loaded;
		     name = strtok_r(NULL, ",", &psave))
			if (!profile_find(all, name))
				loaded = true;
		free(pre);
		if (loaded && load_testssl(all, db, false) != 0)
			goto out;
		for (char *name = strtok_r(copy, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
			const struct profile *p = profile_find(all, name);
			if (!p) {
				fprintf(stderr, "tlswatch-probe: unknown profile \"%s\" (see `tlswatch-probe profiles`)\n", name);
				goto out;
			}
			if (!p->emulatable) {
				fprintf(stderr, "tlswatch-probe: profile \"%s\" cannot be emulated: %s\n", name,
					p->unsupported_reason ? p->unsupported_reason : "unsupported");
				goto out;
			}
			if (cnt == cap) {
				const struct profile **ns = realloc(sel, 2 * cap * sizeof *sel);
				if (!ns)
					goto out;
				sel = ns;
				cap *= 2;
			}
			sel[cnt++] = p;
		}
	}
	if (cnt == 0) {
		fprintf(stderr, "tlswatch-probe: no profile selected by \"%s\"\n", spec);
		goto out;
	}
	rc = 0;
out:
	free(copy);
	if (rc != 0) {
		free(sel);
		sel = NULL;
		cnt = 0;
	}
	*out = sel;
	*n = cnt;
	return rc;
}

static const char *color_for(const char *outcome, bool color)
{
	if (!color)
		return "";
	return strcmp(outcome, "ok") == 0 ? "\033[32m" : "\033[31m";
}

static void print_table_header(void)
{
	printf("%-34s %-8s %-32s %-20s %9s  %s\n", "PROFILE", "VERSION", "CIPHER", "OUTCOME", "HS_MS",
	       "FINDINGS / REASON");
}

/* with_address: --all-addresses, where one profile has a row per address */
static void print_row(const Tlswatch__Result *r, bool color, bool with_address)
{
	char prof[80];
	snprintf(prof, sizeof prof, "%s%s%s", r->profile, with_address ? " @" : "",
		 with_address && r->address ? r->address : "");
	char findings[512] = "";
	size_t o = 0;
	for (size_t i = 0; i < r->n_findings && o < sizeof findings; i++)
		o += (size_t)snprintf(findings + o, sizeof findings - o, "%s%s", i ? "," : "", r->findings[i]);
	if (strcmp(r->outcome, "ok") != 0 && r->alert && o < sizeof findings)
		snprintf(findings + o, sizeof findings - o, "%s%s", o ? "  " : "", r->alert);
	char hs[24] = "-";
	if (r->has_handshake_ms)
		snprintf(hs, sizeof hs, "%.1f", r->handshake_ms);
	printf("%-34.34s %-8s %-32.32s %s%-20s%s %9s  %s\n", prof,
	       r->tls_version ? r->tls_version : "-", r->cipher ? r->cipher : "-",
	       color_for(r->outcome, color), r->outcome, color ? "\033[0m" : "", hs, findings);
}

static void start_more(struct check_run *run);

/* --all-addresses: nprof jobs become one per profile and address (the
 * profile's context shared, freed by its first job). A name that does not
 * resolve keeps one job per profile: the handshake reports the DNS error. */
static int expand_addresses(struct check_run *run, const char *name, size_t nprof)
{
	char err[256];
	size_t n = 0;
	if (check_addrs_resolve(run->base, run->dns, name, run->addrs, CHECK_ADDRS_MAX, &n, err,
				sizeof err) != 0 || n == 0)
		return 0;
	struct check_job *jobs = calloc(nprof * n, sizeof *jobs);
	if (!jobs)
		return -1;
	for (size_t p = 0; p < nprof; p++)
		for (size_t a = 0; a < n; a++) {
			struct check_job *j = &jobs[p * n + a];
			j->profile = run->jobs[p].profile;
			j->tc = run->jobs[p].tc;
			j->owns_tc = a == 0;
			j->address = run->addrs[a];
		}
	free(run->jobs);
	run->jobs = jobs;
	run->njobs = nprof * n;
	return 0;
}

/* The callback argument is the run; the job is found by its connection. */
static void job_done(struct hs_conn *c, void *arg)
{
	struct check_run *run = arg;
	struct check_job *job = NULL;
	struct classification cl;
	struct classify_opts co;

	for (size_t i = 0; i < run->njobs; i++)
		if (run->jobs[i].conn == c)
			job = &run->jobs[i];
	if (!job)
		return;
	co.expiry_warn_days = run->o->expiry_warn_days;
	co.expiry_warn_fraction = run->o->expiry_warn_fraction;
	co.ocsp_slow_ms = run->o->ocsp_slow_ms;
	co.now = time(NULL);
	classify_result(handshake_facts(c), handshake_request(c), handshake_sni_sent(c), &co, &cl);
	if (result_fill(&job->result, c, &cl) != 0) {
		fprintf(stderr, "tlswatch-probe: out of memory\n");
		run->exit_code = CHECK_EXIT_USAGE;
	}
	job->filled = true;
	job->done = true;
	handshake_free(c);
	job->conn = NULL;
	run->running--;
	run->finished++;
	if (run->progress) {
		fprintf(stderr, "\r[%zu/%zu] %-40.40s", run->finished, run->njobs, job->profile->name);
		fflush(stderr);
	}
	start_more(run);
	if (run->finished == run->njobs)
		event_base_loopexit(run->base, NULL);
}

static void start_more(struct check_run *run)
{
	while (run->next < run->njobs && run->running < (size_t)run->o->concurrency) {
		struct check_job *job = &run->jobs[run->next++];
		struct hs_request req = run->tmpl;
		req.tc = job->tc;
		if (job->address) {
			req.connect_to = job->address;
			req.connect_port = run->tmpl.connect_port;
		}
		run->running++;
		job->conn = handshake_start(run->base, run->dns, &req, job_done, run);
		if (!job->conn) {
			fprintf(stderr, "tlswatch-probe: out of memory\n");
			run->running--;
			run->finished++;
			run->exit_code = CHECK_EXIT_USAGE;
		}
	}
}

enum { OPT_SNI = 256, OPT_NO_SNI, OPT_CONNECT_TO, OPT_CA_FILE, OPT_CLIENT_CERT, OPT_CLIENT_KEY,
       OPT_STARTTLS, OPT_REVOCATION, OPT_TIMEOUT, OPT_EXPIRY_WARN, OPT_FAIL_ON, OPT_OCSP_SLOW,
       OPT_MTLS_WAIT, OPT_JSON, OPT_NO_COLOR, OPT_TESTSSL_DB, OPT_CONCURRENCY, OPT_RESUME,
       OPT_EXPIRY_FRACTION, OPT_ALL_ADDRESSES, OPT_NAMESERVER, OPT_SYSTEM_STORE };

static const struct option long_opts[] = {
	{ "profile", required_argument, NULL, 'p' },
	{ "sni", required_argument, NULL, OPT_SNI },
	{ "no-sni", no_argument, NULL, OPT_NO_SNI },
	{ "connect-to", required_argument, NULL, OPT_CONNECT_TO },
	{ "ca-file", required_argument, NULL, OPT_CA_FILE },
	{ "client-cert", required_argument, NULL, OPT_CLIENT_CERT },
	{ "client-key", required_argument, NULL, OPT_CLIENT_KEY },
	{ "starttls", required_argument, NULL, OPT_STARTTLS },
	{ "revocation", required_argument, NULL, OPT_REVOCATION },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "expiry-warn", required_argument, NULL, OPT_EXPIRY_WARN },
	{ "fail-on", required_argument, NULL, OPT_FAIL_ON },
	{ "ocsp-slow-ms", required_argument, NULL, OPT_OCSP_SLOW },
	{ "mtls-wait-ms", required_argument, NULL, OPT_MTLS_WAIT },
	{ "resume", no_argument, NULL, OPT_RESUME },
	{ "all-addresses", no_argument, NULL, OPT_ALL_ADDRESSES },
	{ "system-store", no_argument, NULL, OPT_SYSTEM_STORE },
	{ "nameserver", required_argument, NULL, OPT_NAMESERVER },
	{ "expiry-warn-fraction", required_argument, NULL, OPT_EXPIRY_FRACTION },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "no-color", no_argument, NULL, OPT_NO_COLOR },
	{ "testssl-db", required_argument, NULL, OPT_TESTSSL_DB },
	{ "concurrency", required_argument, NULL, OPT_CONCURRENCY },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

#define USAGE_ERR(...) do { fprintf(stderr, "tlswatch-probe check: " __VA_ARGS__); \
	fputc('\n', stderr); rc = CHECK_EXIT_USAGE; goto out; } while (0)

int check_main(int argc, char **argv)
{
	struct check_opts o = {
		.profile_spec = "modern", .timeout_ms = 10000, .expiry_warn_days = 30,
		.expiry_warn_fraction = 1.0 / 3.0,
		.ocsp_slow_ms = 1000, .mtls_wait_ms = 500, .testssl_db = TESTSSL_DB_DEFAULT,
		.concurrency = 256,
	};
	struct profile_list all = { 0 };
	const struct profile **sel = NULL;
	size_t nsel = 0;
	struct check_run run = { 0 };
	char host[256], ctaddr[256], err[512];
	unsigned port = 0, ctport = 0;
	bool no_color = false;
	int rc = CHECK_EXIT_USAGE, c;
	double v;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:vh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'p': o.profile_spec = optarg; break;
		case OPT_SNI: o.sni = optarg; break;
		case OPT_NO_SNI: o.no_sni = true; break;
		case OPT_CONNECT_TO: o.connect_to = optarg; break;
		case OPT_CA_FILE: o.ca_file = optarg; break;
		case OPT_CLIENT_CERT: o.client_cert = optarg; break;
		case OPT_CLIENT_KEY: o.client_key = optarg; break;
		case OPT_STARTTLS:
			if (starttls_parse(optarg, &o.starttls) != 0)
				USAGE_ERR("unknown --starttls \"%s\" (smtp, imap, pop3, ftp, postgres)", optarg);
			break;
		case OPT_REVOCATION:
			if (strcmp(optarg, "staple") == 0) o.revocation = REV_STAPLE;
			else if (strcmp(optarg, "ocsp") == 0) o.revocation = REV_OCSP;
			else if (strcmp(optarg, "crl") == 0) o.revocation = REV_CRL;
			else if (strcmp(optarg, "ocsp,crl") == 0 || strcmp(optarg, "crl,ocsp") == 0)
				o.revocation = (enum revocation_mode)(REV_OCSP | REV_CRL);
			else USAGE_ERR("unknown --revocation \"%s\" (staple, ocsp, crl or ocsp,crl)",
				       optarg);
			break;
		case OPT_TIMEOUT:
			if (parse_double(optarg, 0.001, &v) != 0)
				USAGE_ERR("bad --timeout \"%s\": seconds > 0 expected", optarg);
			o.timeout_ms = v * 1000;
			break;
		case OPT_EXPIRY_WARN:
			if (parse_double(optarg, 0, &v) != 0)
				USAGE_ERR("bad --expiry-warn \"%s\": days >= 0 expected", optarg);
			o.expiry_warn_days = v;
			break;
		case OPT_OCSP_SLOW:
			if (parse_double(optarg, 0, &o.ocsp_slow_ms) != 0)
				USAGE_ERR("bad --ocsp-slow-ms \"%s\"", optarg);
			break;
		case OPT_MTLS_WAIT:
			if (parse_double(optarg, 0, &o.mtls_wait_ms) != 0)
				USAGE_ERR("bad --mtls-wait-ms \"%s\"", optarg);
			break;
		case OPT_EXPIRY_FRACTION:
			if (parse_double(optarg, 0, &v) != 0 || v > 1)
				USAGE_ERR("bad --expiry-warn-fraction \"%s\": 0 to 1 expected", optarg);
			o.expiry_warn_fraction = v;
			break;
		case OPT_ALL_ADDRESSES:
			o.all_addresses = true;
			break;
		case OPT_SYSTEM_STORE:
			o.no_client_stores = true;
			break;
		case OPT_NAMESERVER:
			o.nameserver = optarg;
			break;
		case OPT_RESUME:
			o.resume = true;
			break;
		case OPT_FAIL_ON: {
			char *copy = strdup(optarg), *save = NULL;
			if (!copy)
				USAGE_ERR("out of memory");
			for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				int f = classify_finding_parse(t);
				if (f < 0) {
					fprintf(stderr, "tlswatch-probe check: unknown finding \"%s\" in --fail-on\n", t);
					free(copy);
					rc = CHECK_EXIT_USAGE;
					goto out;
				}
				o.fail_on[f] = true;
			}
			free(copy);
			break;
		}
		case OPT_JSON: o.json = true; break;
		case OPT_NO_COLOR: no_color = true; break;
		case OPT_TESTSSL_DB: o.testssl_db = optarg; break;
		case OPT_CONCURRENCY:
			if (parse_double(optarg, 1, &v) != 0 || v > 100000)
				USAGE_ERR("bad --concurrency \"%s\"", optarg);
			o.concurrency = (int)v;
			break;
		case 'v': log_active_level = TWLOG_DEBUG; break;
		case 'h': usage(stdout); rc = 0; goto out;
		default: usage(stderr); rc = CHECK_EXIT_USAGE; goto out;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		USAGE_ERR("expected exactly one HOST[:PORT]");
	}
	if (o.sni && o.no_sni)
		USAGE_ERR("--sni and --no-sni exclude each other");
	if (!!o.client_cert != !!o.client_key)
		USAGE_ERR("--client-cert and --client-key go together");
	/* HOST without a port takes --connect-to's port, else the protocol's. */
	if (hostport_parse(argv[optind], host, sizeof host, &port, 0, err, sizeof err) != 0)
		USAGE_ERR("%s", err);
	if (o.connect_to &&
	    hostport_parse(o.connect_to, ctaddr, sizeof ctaddr, &ctport, port, err, sizeof err) != 0)
		USAGE_ERR("--connect-to: %s", err);
	if (port == 0)
		port = o.connect_to && ctport ? ctport : default_port(o.starttls);
	if (o.connect_to && ctport == 0)
		ctport = port;
	if (o.ca_file && access(o.ca_file, R_OK) != 0)
		USAGE_ERR("cannot read CA file %s: %s", o.ca_file, strerror(errno));
	if (o.client_cert && access(o.client_cert, R_OK) != 0)
		USAGE_ERR("cannot read client certificate %s: %s", o.client_cert, strerror(errno));
	o.color = !no_color && !o.json && isatty(STDOUT_FILENO) && !getenv("NO_COLOR");

	if (profile_add_builtins(&all) != 0)
		USAGE_ERR("out of memory");
	if (select_profiles(o.profile_spec, &all, o.testssl_db, &sel, &nsel) != 0) {
		rc = CHECK_EXIT_USAGE;
		goto out;
	}

	run.o = &o;
	run.njobs = nsel;
	run.jobs = calloc(nsel, sizeof *run.jobs);
	if (!run.jobs)
		USAGE_ERR("out of memory");
	/* real clients: their platform's store, next to the testssl.sh database */
	char tdir[4096];
	snprintf(tdir, sizeof tdir, "%s", o.testssl_db);
	char *slash = strrchr(tdir, '/');
	if (slash)
		*slash = '\0';
	struct tlsctx_opts to = { o.ca_file, o.client_cert, o.client_key,
				  slash && !o.no_client_stores ? tdir : NULL };
	for (size_t i = 0; i < nsel; i++) {
		run.jobs[i].profile = sel[i];
		run.jobs[i].owns_tc = true;
		run.jobs[i].tc = tlsctx_new(sel[i], &to, err, sizeof err);
		if (!run.jobs[i].tc)
			USAGE_ERR("%s", err);
	}

	run.base = event_base_new();
	if (o.nameserver) {
		/* only that server: what it answers is what is probed */
		run.dns = run.base ? evdns_base_new(run.base, 0) : NULL;
		if (run.dns && evdns_base_nameserver_ip_add(run.dns, o.nameserver) != 0)
			USAGE_ERR("bad --nameserver \"%s\": IP[:PORT] expected", o.nameserver);
	} else {
		run.dns = run.base ? evdns_base_new(run.base, EVDNS_BASE_INITIALIZE_NAMESERVERS) : NULL;
	}
	if (!run.dns && run.base && !o.nameserver) {
		/* no resolv.conf: /etc/hosts and literals still work */
		run.dns = evdns_base_new(run.base, 0);
		if (run.dns)
			evdns_base_load_hosts(run.dns, NULL);
	}
	if (!run.base || !run.dns)
		USAGE_ERR("cannot initialise the event loop / resolver");
	run.tmpl.host = host;
	run.tmpl.port = (uint16_t)port;
	run.tmpl.connect_to = o.connect_to ? ctaddr : NULL;
	run.tmpl.connect_port = (uint16_t)(o.connect_to ? ctport : port);
	run.tmpl.sni = o.sni;
	run.tmpl.no_sni = o.no_sni;
	run.tmpl.starttls = o.starttls;
	run.tmpl.revocation = o.revocation;
	run.tmpl.timeout_ms = o.timeout_ms;
	run.tmpl.mtls_wait_ms = o.mtls_wait_ms;
	run.tmpl.resume = o.resume;
	run.aia = aia_cache_new(run.base, run.dns, o.timeout_ms);
	if (!run.aia)
		USAGE_ERR("out of memory");
	run.tmpl.aia_cache = run.aia;
	if (o.all_addresses && expand_addresses(&run, o.connect_to ? ctaddr : host, nsel) != 0)
		USAGE_ERR("out of memory");
	run.progress = !o.json && run.njobs > 1 && isatty(STDERR_FILENO);

	start_more(&run);
	if (run.finished < run.njobs)
		event_base_dispatch(run.base);
	if (run.progress)
		fprintf(stderr, "\r%-60s\r", "");

	rc = run.exit_code ? run.exit_code : CHECK_EXIT_OK;
	struct check_verdict verdict = { 0 };
	if (!o.json)
		print_table_header();
	for (size_t i = 0; i < run.njobs; i++) {
		Tlswatch__Result *r = &run.jobs[i].result;
		if (!run.jobs[i].filled)
			continue;
		if (o.json) {
			json_t *j = result_to_json(r);
			char *line = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10)) : NULL;
			if (line)
				puts(line);
			free(line);
			json_decref(j);
		} else {
			print_row(r, o.color, o.all_addresses);
			check_verdict_add(&verdict, r);
		}
		if (strcmp(r->outcome, "ok") != 0 && rc == CHECK_EXIT_OK)
			rc = CHECK_EXIT_FAIL;
		for (size_t k = 0; k < r->n_findings; k++) {
			int f = classify_finding_parse(r->findings[k]);
			if (f >= 0 && o.fail_on[f] && rc == CHECK_EXIT_OK)
				rc = CHECK_EXIT_FAIL;
		}
	}
	check_verdict_print(&verdict, stdout);
	check_verdict_free(&verdict);
	fflush(stdout);
out:
	if (run.jobs) {
		for (size_t i = 0; i < run.njobs; i++) {
			if (run.jobs[i].conn)
				handshake_free(run.jobs[i].conn);
			result_clear(&run.jobs[i].result);
			if (run.jobs[i].owns_tc)
				tlsctx_free(run.jobs[i].tc);
		}
		free(run.jobs);
	}
	aia_cache_free(run.aia);   /* after the handshakes that wait on it */
	if (run.dns)
		evdns_base_free(run.dns, 0);
	if (run.base)
		event_base_free(run.base);
	free(sel);
	profile_list_free(&all);
	return rc;
}

int check_profiles_main(int argc, char **argv)
{
	struct profile_list all = { 0 };
	const char *db = TESTSSL_DB_DEFAULT;
	bool json = false;
	int rc = CHECK_EXIT_USAGE;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) json = true;
		else if (!strcmp(argv[i], "--testssl-db") && i + 1 < argc) db = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: tlswatch-probe profiles [--json] [--testssl-db FILE]\n"
			       "Lists the client profiles: built-in ones and every client of the\n"
			       "testssl.sh database, with versions, origin and whether OpenSSL 3 can\n"
			       "emulate them (and why not).\n");
			return 0;
		} else {
			fprintf(stderr, "tlswatch-probe profiles: unknown argument \"%s\"\n", argv[i]);
			return CHECK_EXIT_USAGE;
		}
	}
	if (profile_add_builtins(&all) != 0 || load_testssl(&all, db, false) != 0)
		goto out;
	if (!json)
		printf("%-36s %-8s %-8s %-8s %-4s %-7s %s\n", "PROFILE", "ORIGIN", "MIN", "MAX", "SNI",
		       "CURRENT", "NOTES");
	for (size_t i = 0; i < all.len; i++) {
		const struct profile *p = &all.items[i];
		const char *note = !p->emulatable ? p->unsupported_reason : p->caveat;
		if (json) {
			json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:b,s:b,s:b,s:i,s:s?,s:b}", "name", p->name,
					      "origin", profile_origin_name(p->origin),
					      "min_version", profile_version_name(p->min_version),
					      "max_version", profile_version_name(p->max_version),
					      "sni", p->send_sni, "current", p->current,
					      "emulatable", p->emulatable, "seclevel", p->seclevel,
					      "note", note, "fetches_ca_issuers", p->fetches_ca_issuers);
			char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
			if (s)
				puts(s);
			free(s);
			json_decref(j);
		} else {
			printf("%-36.36s %-8s %-8s %-8s %-4s %-7s %s%s\n", p->name, profile_origin_name(p->origin),
			       profile_version_name(p->min_version), profile_version_name(p->max_version),
			       p->send_sni ? "yes" : "no", p->current ? "yes" : "no",
			       p->emulatable ? "" : "NOT EMULATABLE: ", note ? note : "");
		}
	}
	rc = 0;
out:
	profile_list_free(&all);
	return rc;
}
