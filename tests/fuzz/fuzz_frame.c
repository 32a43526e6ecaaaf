/*
 * fuzz_frame.c - libFuzzer target for common/frame.c.
 *
 * Built by `make fuzz` (clang, every library object instrumented) into
 * build/fuzz/. Run from the repo root:
 *
 *   mkdir -p build/fuzz/frame_corpus
 *   build/fuzz/fuzz_frame -max_total_time=60 build/fuzz/frame_corpus
 *
 * Each input is treated as a byte stream: frames are decoded back to back
 * with frame_decode() (small max so TOO_LARGE is reachable), and the same
 * bytes are fed to frame_read_evbuffer() in odd-sized chunks; both paths
 * must agree on every frame. Every decoded envelope is re-encoded and must
 * decode again to an envelope of the same type.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "frame.h"

#define FUZZ_MAX 4096u

static void reencode(const Tlswatch__Envelope *env)
{
	Tlswatch__Envelope *again = NULL;
	uint8_t *out = NULL;
	size_t outlen = 0, consumed = 0;
	char err[160];

	if (frame_encode(env, &out, &outlen, FRAME_DEFAULT_MAX) != 0)
		abort();   /* anything we decoded is re-encodable */
	if (frame_decode(out, outlen, FRAME_DEFAULT_MAX, &again, &consumed,
			 err, sizeof err) != FRAME_OK || consumed != outlen ||
	    again->msg_case != env->msg_case)
		abort();
	tlswatch__envelope__free_unpacked(again, NULL);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evbuffer *eb = evbuffer_new();
	size_t off = 0, fed = 0, chunk = 1;
	char err[160], err2[160];

	if (eb == NULL)
		return 0;
	for (;;) {
		Tlswatch__Envelope *a = NULL, *b = NULL;
		size_t consumed = 0;
		enum frame_status sa, sb;

		sa = frame_decode(data + off, size - off, FUZZ_MAX, &a, &consumed,
				  err, sizeof err);
		if (sa == FRAME_OK && (consumed < 5 || consumed > size - off))
			abort();
		if (sa != FRAME_OK && (a != NULL || consumed != 0))
			abort();

		/* feed the evbuffer in growing odd-sized chunks until it decides */
		do {
			size_t n = size - fed < chunk ? size - fed : chunk;

			if (n)
				evbuffer_add(eb, data + fed, n);
			fed += n;
			chunk = chunk * 2 + 1;
			sb = frame_read_evbuffer(eb, FUZZ_MAX, &b, err2, sizeof err2);
		} while (sb == FRAME_INCOMPLETE && fed < size);

		if (sa != sb)
			abort();
		if (sa == FRAME_OK) {
			if (a->msg_case == TLSWATCH__ENVELOPE__MSG__NOT_SET ||
			    a->msg_case != b->msg_case ||
			    evbuffer_get_length(eb) != fed - off - consumed)
				abort();
			reencode(a);
			tlswatch__envelope__free_unpacked(a, NULL);
			tlswatch__envelope__free_unpacked(b, NULL);
			off += consumed;
			continue;
		}
		if (evbuffer_get_length(eb) != fed - off)
			abort();   /* non-OK must leave the buffer untouched */
		break;
	}
	evbuffer_free(eb);
	return 0;
}
