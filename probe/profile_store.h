/*
 * profile_store.h - the root store a real client verifies against: the
 * platform's (testssl.sh ships Apple, Java, Linux, Microsoft and Mozilla
 * stores next to its client database). Pure; no allocation.
 */
#ifndef TW_PROFILE_STORE_H
#define TW_PROFILE_STORE_H

#include <stddef.h>
#include "profile.h"

/* "Apple", "Java", "Linux", "Microsoft" or "Mozilla" for a real client
 * (built-in or testssl.sh), NULL for a generic profile (modern, tls13...),
 * which keeps the system store. */
const char *profile_store_name(const struct profile *p);

/* dir/NAME.pem for p in buf; NULL when p has no store of its own, or the
 * path does not fit. */
const char *profile_store_path(const struct profile *p, const char *dir, char *buf, size_t cap);

#endif
