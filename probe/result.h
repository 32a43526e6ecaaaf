/*
 * result.h - one handshake's facts and classification as the wire Result
 * (proto/tlswatch.proto), and the Result as a JSON object. check prints
 * what the daemon will stream: both go through result_fill().
 *
 * Ownership: result_fill() allocates every string and array inside *r;
 * result_clear() frees them (not r itself).
 */
#ifndef TW_RESULT_H
#define TW_RESULT_H

#include <jansson.h>
#include "tlswatch.pb-c.h"
#include "classify.h"
#include "handshake.h"

int result_fill(Tlswatch__Result *r, const struct hs_conn *c, const struct classification *cl)
	__attribute__((warn_unused_result));
void result_clear(Tlswatch__Result *r);
/* New reference; NULL when out of memory. Absent values become null. */
json_t *result_to_json(const Tlswatch__Result *r);

#endif
