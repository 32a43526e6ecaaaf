/*
 * test_config_signals.c - probe.yaml's detection options (issue 10):
 * `resume` per target, its default and a bad value's error.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

TestSuite(config_signals);

#define HEAD \
	"probe:\n"                                   /* 1 */ \
	"  id: p1\n"                                 /* 2 */ \
	"  region: r1\n"                             /* 3 */ \
	"collector:\n"                               /* 4 */ \
	"  address: c.example:7443\n"                /* 5 */ \
	"  ca_file: ca.pem\n"                        /* 6 */ \
	"  cert_file: p.pem\n"                       /* 7 */ \
	"  key_file: p.key\n"                        /* 8 */ \
	"spool:\n"                                   /* 9 */ \
	"  path: /tmp/spool\n"                       /* 10 */

/* Loads text; NULL with the error in err. */
static struct probe_config *load(const char *text, char *err, size_t errlen)
{
	char path[64];
	snprintf(path, sizeof path, "/tmp/tw_config_sig_XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	size_t len = strlen(text);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	struct probe_config *cfg = config_load(path, err, errlen);
	unlink(path);
	return cfg;
}

Test(config_signals, resume_per_target)
{
	char err[1024] = "";
	struct probe_config *c = load(HEAD "targets:\n  - host: a\n  - host: b\n    resume: true\n",
				      err, sizeof err);
	cr_assert_not_null(c, "%s", err);
	cr_assert(!c->targets[0].resume, "resume is off unless asked");
	cr_assert(c->targets[1].resume);
	config_free(c);
}

Test(config_signals, resume_bad_value_names_the_place)
{
	char err[1024] = "";
	struct probe_config *c = load(HEAD "targets:\n  - host: a\n    resume: often\n", err, sizeof err);
	cr_assert_null(c);
	cr_assert(strstr(err, ":13:13: ") != NULL, "error \"%s\" lacks the position 13:13", err);
	cr_assert(strstr(err, "targets[0].resume") != NULL, "error \"%s\" lacks the key", err);
}

Test(config_signals, expiry_warn_fraction_default_and_value)
{
	char err[1024] = "";
	struct probe_config *c = load(HEAD "targets:\n  - host: a\n", err, sizeof err);
	cr_assert_not_null(c, "%s", err);
	cr_assert_float_eq(c->defaults.expiry_warn_fraction, 1.0 / 3.0, 1e-12);
	cr_assert_float_eq(c->targets[0].expiry_warn_fraction, 1.0 / 3.0, 1e-12);
	config_free(c);

	c = load(HEAD "defaults:\n  expiry_warn_fraction: 0\ntargets:\n  - host: a\n", err, sizeof err);
	cr_assert_not_null(c, "%s", err);
	cr_assert_eq(c->targets[0].expiry_warn_fraction, 0.0);
	config_free(c);

	c = load(HEAD "defaults:\n  expiry_warn_fraction: 1.5\ntargets:\n  - host: a\n", err, sizeof err);
	cr_assert_null(c);
	cr_assert(strstr(err, ":12:25: ") && strstr(err, "defaults.expiry_warn_fraction") &&
		  strstr(err, "from 0 to 1"), "error \"%s\"", err);
}
