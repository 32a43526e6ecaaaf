/*
 * fuzz_testssl.c - libFuzzer target for probe/testssl_db.c, the loader of
 * testssl.sh's client database (client-simulation.txt).
 *
 * Built by `make fuzz`; run by `make fuzz-smoke` with the seed corpus in
 * tests/fuzz/corpus/fuzz_testssl/ (the real database and pieces of it).
 *
 * The loader reads a file, so each input is written to one temp file.
 * Contract checked: it returns the number of clients added (every one in
 * the list, each with a name) or -1 with a non-empty one-line message and
 * the list as it was; never a crash, a leak or an out-of-bounds read.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static void remove_file(void)
{
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct profile_list list = { 0 };
	size_t skipped = 0;
	char err[512];
	FILE *f;
	int n;

	if (!path[0]) {
		snprintf(path, sizeof path, "/tmp/tw_fuzz_testssl_%d.txt", (int)getpid());
		atexit(remove_file);
	}
	f = fopen(path, "wb");
	if (f == NULL)
		return 0;
	if (size && fwrite(data, 1, size, f) != size) {
		fclose(f);
		return 0;
	}
	fclose(f);

	err[0] = '\0';
	n = testssl_db_load(path, &list, &skipped, err, sizeof err);
	if (n < 0) {
		/* an error says something, on one line, and leaves the list empty */
		if (!err[0] || strchr(err, '\n') || list.len != 0)
			abort();
	} else {
		if ((size_t)n != list.len)
			abort();
		for (size_t i = 0; i < list.len; i++)
			if (list.items[i].name == NULL || !list.items[i].name[0])
				abort();
	}
	profile_list_free(&list);
	return 0;
}
