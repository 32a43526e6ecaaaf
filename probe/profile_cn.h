/*
 * profile_cn.h - which clients still read a certificate's subject CN when
 * it has no subjectAltName (DNS) at all. Pure; no allocation.
 */
#ifndef TW_PROFILE_CN_H
#define TW_PROFILE_CN_H

#include <stdbool.h>

/* true when the client named `name` (a built-in or testssl.sh profile
 * name) matches a host name against the CN of a certificate without a
 * DNS subjectAltName; false when it requires the subjectAltName. */
bool profile_cn_read(const char *name);

#endif
