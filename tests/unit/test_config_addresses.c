/*
 * test_config_addresses.c - probe.yaml `addresses` per target (issue 10,
 * every address behind a name): one by default, all when asked, and a bad
 * value's error naming the place.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

TestSuite(config_addresses);

#define HEAD \
	"probe: {id: p1, region: r1}\n"                                              /* 1 */ \
	"collector: {address: c.example:7443, ca_file: ca.pem, cert_file: p.pem, key_file: p.key}\n" \
	"spool: {path: /tmp/spool}\n"                                                /* 3 */ \
	"targets:\n"                                                                 /* 4 */

static struct probe_config *load(const char *text, char *err, size_t errlen)
{
	char path[64];
	snprintf(path, sizeof path, "/tmp/tw_config_addr_XXXXXX");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	size_t len = strlen(text);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	struct probe_config *cfg = config_load(path, err, errlen);
	unlink(path);
	return cfg;
}

Test(config_addresses, one_by_default_all_when_asked)
{
	char err[1024] = "";
	struct probe_config *c = load(HEAD "  - host: a\n  - host: b\n    addresses: all\n"
				      "  - host: c\n    addresses: one\n", err, sizeof err);
	cr_assert_not_null(c, "%s", err);
	cr_assert(!c->targets[0].all_addresses, "one address unless asked");
	cr_assert(c->targets[1].all_addresses);
	cr_assert(!c->targets[2].all_addresses);
	config_free(c);
}

Test(config_addresses, bad_value_names_the_place)
{
	char err[1024] = "";
	struct probe_config *c = load(HEAD "  - host: a\n    addresses: every\n", err, sizeof err);
	cr_assert_null(c);
	cr_assert(strstr(err, ":6:16: ") != NULL, "error \"%s\" lacks the position 6:16", err);
	cr_assert(strstr(err, "targets[0].addresses") != NULL, "error \"%s\" lacks the key", err);
	cr_assert(strstr(err, "expected all or one, got \"every\"") != NULL, "error \"%s\"", err);
}
