/*
 * fuzz_config.c - libFuzzer target for the four YAML configuration loaders
 * (probe.yaml, collector.yaml, slos.yaml, notify.yaml) and the walker they
 * share (common/yamlcfg.c).
 *
 * Built by `make fuzz` (clang, every library object instrumented) into
 * build/fuzz/. Run from the repo root:
 *
 *   mkdir -p build/fuzz/config_corpus && cp deploy/[a-z]*.yaml build/fuzz/config_corpus/
 *   build/fuzz/fuzz_config -max_total_time=60 build/fuzz/config_corpus
 *
 * The loaders read files, so each input is written to one temp file and loaded
 * by all four. Contract checked: a loader returns a config or NULL with a
 * non-empty one-line error, never crashes, leaks or reads out of bounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "col_config.h"
#include "config.h"
#include "notify_config.h"
#include "slo_config.h"

static char path[64];

static void check_err(const char *who, const char *err, const void *cfg)
{
	if (cfg)
		return;
	/* an error must say something, on one line */
	if (!err[0] || strchr(err, '\n')) {
		fprintf(stderr, "%s: bad error message: \"%s\"\n", who, err);
		abort();
	}
}

/* libFuzzer ends with exit(): the scratch file goes with it */
static void remove_file(void)
{
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[1024];
	if (!path[0]) {
		snprintf(path, sizeof path, "/tmp/tw_fuzz_config_%d.yaml", (int)getpid());
		atexit(remove_file);
	}
	FILE *f = fopen(path, "wb");
	if (!f)
		return 0;
	if (size && fwrite(data, 1, size, f) != size) {
		fclose(f);
		return 0;
	}
	fclose(f);

	err[0] = '\0';
	struct probe_config *pc = config_load(path, err, sizeof err);
	check_err("probe", err, pc);
	config_free(pc);

	err[0] = '\0';
	struct col_config *cc = col_config_load(path, err, sizeof err);
	check_err("collector", err, cc);
	col_config_free(cc);

	err[0] = '\0';
	struct slo_config *sc = slo_config_load(path, err, sizeof err);
	check_err("slos", err, sc);
	slo_config_free(sc);

	err[0] = '\0';
	struct notify_config *nc = notify_config_load(path, err, sizeof err);
	check_err("notify", err, nc);
	notify_config_free(nc);
	return 0;
}
