/* check.h - `tlswatch-probe check` and `tlswatch-probe profiles`. */
#ifndef TW_CHECK_H
#define TW_CHECK_H

#include <stddef.h>

/* Exit codes (DESIGN 4.4): 0 all ok, 1 a profile failed, 2 usage/config. */
enum { CHECK_EXIT_OK = 0, CHECK_EXIT_FAIL = 1, CHECK_EXIT_USAGE = 2 };

int check_main(int argc, char **argv);
int profiles_main(int argc, char **argv);
int run_main(int argc, char **argv);        /* run_cmd.c */

/* Splits "host:port", "[v6]:port" or "host". Returns 0, or -1 with err. */
int check_parse_hostport(const char *in, char *host, size_t hostcap, unsigned *port,
			 unsigned default_port, char *err, size_t errlen);

#endif
