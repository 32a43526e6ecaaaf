/* main.c - tlswatch-probe: subcommand dispatch. */
#include "check.h"
#include "log.h"
#include "tlsctx_keys.h"

#include <stdio.h>
#include <string.h>
#include <signal.h>

#define TLSWATCH_VERSION "0.1.0"

static void usage(FILE *out)
{
	fprintf(out,
"usage: tlswatch-probe COMMAND [options]\n"
"\n"
"tlswatch synthetic TLS probe.\n"
"\n"
"commands:\n"
"  check HOST[:PORT]   handshake with HOST once per client profile and report\n"
"                      every defect (see `tlswatch-probe check --help`)\n"
"  profiles            list client profiles (built-in and testssl.sh database)\n"
"  run -c probe.yaml   the scheduling daemon: probes targets on a schedule and\n"
"                      streams results to the collector (see `run --help`)\n"
"  version             print the version\n");
}

int main(int argc, char **argv)
{
	log_init("tlswatch-probe", TWLOG_WARN, false);
	/* a peer closing mid-write must be an error return, not a signal */
	signal(SIGPIPE, SIG_IGN);
	/* before any key or certificate is loaded: certificates' public keys
	 * decoded without OpenSSL 3.0's decoder search (tlsctx_keys.h) */
	(void)tlsctx_keys_init();
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "check"))
		return check_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "profiles"))
		return check_profiles_main(argc - 1, argv + 1);
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("tlswatch-probe %s\n", TLSWATCH_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "run"))
		return run_main(argc - 1, argv + 1);
	fprintf(stderr, "tlswatch-probe: unknown command \"%s\"\n", cmd);
	usage(stderr);
	return 2;
}
