/*
 * profile_hello.h - what a recorded ClientHello (testssl.sh's
 * handshakebytes) says about the versions a client really accepts: its
 * supported_versions extension (RFC 8446 4.2.1). Pure; no allocation.
 */
#ifndef TW_PROFILE_HELLO_H
#define TW_PROFILE_HELLO_H

/* From the hex dump of a TLS record holding a ClientHello: the lowest and
 * highest final versions (0x0300..0x0304 wire numbers) its
 * supported_versions extension lists, GREASE and draft versions (0x7fXX)
 * left out. Returns 1 with both set, 0 when the hello has no such
 * extension, lists no final version, or does not parse (an SSLv2 hello). */
int profile_hello_versions(const char *hex, int *lowest, int *highest);

#endif
