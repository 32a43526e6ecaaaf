/* check.h - `tlswatch-probe check` and `tlswatch-probe profiles`. */
#ifndef TW_CHECK_H
#define TW_CHECK_H

#include <stddef.h>

/* Exit codes (DESIGN 4.4): 0 all ok, 1 a profile failed, 2 usage/config. */
enum { CHECK_EXIT_OK = 0, CHECK_EXIT_FAIL = 1, CHECK_EXIT_USAGE = 2 };

int check_main(int argc, char **argv);
int check_profiles_main(int argc, char **argv);
int run_main(int argc, char **argv);        /* run_cmd.c */

#endif
