/*
 * check_verdict.h - the one line that sums up a `check` of several
 * profiles when their verdicts differ, e.g.
 *   verdict: ok for Chrome 101 (Win 10), Safari 15.4 (macOS 12.3.1); chain_incomplete for Java 8u161
 * (the table's rows say why; this line says who is affected).
 *
 * Ownership: a struct check_verdict borrows the results it is given (they
 * must outlive check_verdict_print()) and owns only its own array, which
 * check_verdict_free() releases.
 */
#ifndef TW_CHECK_VERDICT_H
#define TW_CHECK_VERDICT_H

#include <stdbool.h>
#include <stdio.h>
#include "tlswatch.pb-c.h"

/* Profiles named per outcome; past that "and N more". */
#define CHECK_VERDICT_NAMES 8

struct check_verdict {
	const Tlswatch__Result **rs;
	size_t n, cap;
	bool oom;              /* an add failed: nothing is printed */
};

void check_verdict_add(struct check_verdict *v, const Tlswatch__Result *r);
/* Prints the line (ok first, then the other outcomes in the order first
 * seen); nothing when every profile got the same outcome. */
void check_verdict_print(const struct check_verdict *v, FILE *out);
void check_verdict_free(struct check_verdict *v);

#endif
