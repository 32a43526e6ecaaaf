/*
 * run_cmd.c - `tlswatch-probe run -c probe.yaml`. For now only
 * --check-config works: the file is parsed and validated (including profile
 * names, which need the profile list) and the result printed. The
 * scheduling daemon itself is not implemented yet.
 */
#include "check.h"
#include "config.h"
#include "profile.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void run_usage(FILE *out)
{
	fprintf(out,
"usage: tlswatch-probe run -c FILE [--check-config] [--testssl-db FILE]\n"
"\n"
"  -c, --config FILE   probe configuration (see deploy/probe.example.yaml)\n"
"  --check-config      validate FILE (syntax, types, profile names) and exit:\n"
"                      0 valid, 2 invalid with file:line:column on stderr\n"
"  --testssl-db FILE   testssl.sh client database for profile names\n"
"\n"
"The scheduling daemon (streaming to a collector) is not implemented yet;\n"
"without --check-config this command exits 2.\n");
}

int run_main(int argc, char **argv)
{
	const char *path = NULL, *db = TESTSSL_DB_DEFAULT;
	bool check_only = false;
	struct probe_config *cfg = NULL;
	struct profile_list all = { 0 };
	char err[1024];
	int rc = CHECK_EXIT_USAGE;

	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc)
			path = argv[++i];
		else if (!strcmp(argv[i], "--check-config"))
			check_only = true;
		else if (!strcmp(argv[i], "--testssl-db") && i + 1 < argc)
			db = argv[++i];
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			run_usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "tlswatch-probe run: unknown argument \"%s\"\n", argv[i]);
			run_usage(stderr);
			return CHECK_EXIT_USAGE;
		}
	}
	if (!path) {
		fprintf(stderr, "tlswatch-probe run: -c FILE is required\n");
		return CHECK_EXIT_USAGE;
	}
	cfg = config_load(path, err, sizeof err);
	if (!cfg) {
		fprintf(stderr, "%s\n", err);
		goto out;
	}
	if (profile_add_builtins(&all) != 0) {
		fprintf(stderr, "tlswatch-probe run: out of memory\n");
		goto out;
	}
	if (access(db, R_OK) == 0 && testssl_db_load(db, &all, NULL, err, sizeof err) < 0) {
		fprintf(stderr, "tlswatch-probe run: %s\n", err);
		goto out;
	}
	size_t entries = 0;
	for (size_t t = 0; t < cfg->ntargets; t++) {
		const struct config_target *tg = &cfg->targets[t];
		for (size_t k = 0; k < tg->nprofiles; k++) {
			const struct profile *p = profile_find(&all, tg->profiles[k]);
			if (!p || !p->emulatable) {
				fprintf(stderr, "%s:%u:%u: targets[%zu].profiles: %s \"%s\"%s%s\n", path,
					tg->profile_pos[k].line, tg->profile_pos[k].column, t,
					p ? "profile cannot be emulated:" : "unknown profile",
					tg->profiles[k], p ? " - " : " (see `tlswatch-probe profiles`)",
					p && p->unsupported_reason ? p->unsupported_reason : "");
				goto out;
			}
			entries++;
		}
	}
	if (!check_only) {
		fprintf(stderr, "tlswatch-probe run: the scheduling daemon is not implemented yet "
			"(use --check-config to validate %s)\n", path);
		goto out;
	}
	printf("%s: valid: probe %s region %s, %zu targets, %zu schedule entries\n", path,
	       cfg->probe_id, cfg->region, cfg->ntargets, entries);
	rc = 0;
out:
	profile_list_free(&all);
	config_free(cfg);
	return rc;
}
