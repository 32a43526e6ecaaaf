/* check_verdict.c - see check_verdict.h. */
#include "check_verdict.h"

#include <stdlib.h>
#include <string.h>

void check_verdict_add(struct check_verdict *v, const Tlswatch__Result *r)
{
	if (v->oom || !r || !r->outcome || !r->profile)
		return;
	if (v->n == v->cap) {
		size_t ncap = v->cap ? 2 * v->cap : 16;
		const Tlswatch__Result **n = realloc(v->rs, ncap * sizeof *n);
		if (!n) {
			v->oom = true;
			return;
		}
		v->rs = n;
		v->cap = ncap;
	}
	v->rs[v->n++] = r;
}

/* An earlier result has this outcome (profile false), or is this profile
 * with the same outcome (profile true: --all-addresses repeats it). */
static bool seen_before(const struct check_verdict *v, size_t i, const char *field, bool profile)
{
	for (size_t j = 0; j < i; j++) {
		const char *a = profile ? v->rs[j]->profile : v->rs[j]->outcome;
		if (strcmp(a, field) == 0 && (!profile || strcmp(v->rs[j]->outcome, v->rs[i]->outcome) == 0))
			return true;
	}
	return false;
}

/* "OUTCOME for A, B, C and N more" */
static void print_group(const struct check_verdict *v, const char *outcome, FILE *out)
{
	size_t named = 0, more = 0;
	fprintf(out, "%s for ", outcome);
	for (size_t i = 0; i < v->n; i++) {
		if (strcmp(v->rs[i]->outcome, outcome) != 0 || seen_before(v, i, v->rs[i]->profile, true))
			continue;
		if (named == CHECK_VERDICT_NAMES) {
			more++;
			continue;
		}
		fprintf(out, "%s%s", named ? ", " : "", v->rs[i]->profile);
		named++;
	}
	if (more)
		fprintf(out, " and %zu more", more);
}

void check_verdict_print(const struct check_verdict *v, FILE *out)
{
	size_t outcomes = 0;
	bool any_ok = false;
	if (v->oom)
		return;
	for (size_t i = 0; i < v->n; i++) {
		if (!seen_before(v, i, v->rs[i]->outcome, false))
			outcomes++;
		if (strcmp(v->rs[i]->outcome, "ok") == 0)
			any_ok = true;
	}
	if (outcomes < 2)
		return;
	fprintf(out, "verdict: ");
	if (any_ok)
		print_group(v, "ok", out);
	bool first = !any_ok;
	for (size_t i = 0; i < v->n; i++) {
		const char *o = v->rs[i]->outcome;
		if (strcmp(o, "ok") == 0 || seen_before(v, i, o, false))
			continue;
		if (!first)
			fprintf(out, "; ");
		first = false;
		print_group(v, o, out);
	}
	fputc('\n', out);
}

void check_verdict_free(struct check_verdict *v)
{
	free(v->rs);
	memset(v, 0, sizeof *v);
}
