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
 *
 * Field number 0 (issue 12's known finding): protobuf-c rejects a tag
 * whose number is 0 in its one-byte form but accepts it spelled in two or
 * more bytes (0x80 0x00: an overlong varint), keeping it as an unknown
 * field; packing that message again writes the one-byte form, which no
 * longer decodes. It does no harm here, so frame.c does not reject it:
 * neither daemon re-encodes what it received (the collector copies fields
 * out of a decoded Result into PostgreSQL; the probe reads Ack and Error),
 * unknown fields are dropped with the message, and their memory is bounded
 * by the frame like any other unknown field's (every unknown field, whatever
 * its number, costs a ProtobufCMessageUnknownField and a copy of its bytes).
 * The round trip below therefore accepts a failure to decode again only
 * when the envelope carries such a field, and checks that it does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "frame.h"

#define FUZZ_MAX 4096u

/* True when m, or any message inside it, kept an unknown field numbered 0. */
static int has_field0(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (unsigned i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0)
			return 1;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)(base + f->offset);
			for (size_t j = 0; j < n; j++)
				if (has_field0(v[j]))
					return 1;
			continue;
		}
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
				continue;
		}
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)(base + f->offset);
		if (sub != NULL && has_field0(sub))
			return 1;
	}
	return 0;
}

static void reencode(const Tlswatch__Envelope *env)
{
	Tlswatch__Envelope *again = NULL;
	uint8_t *out = NULL;
	size_t outlen = 0, consumed = 0;
	char err[160];

	if (frame_encode(env, &out, &outlen, FRAME_DEFAULT_MAX) != 0)
		abort();   /* anything we decoded is re-encodable */
	if (frame_decode(out, outlen, FRAME_DEFAULT_MAX, &again, &consumed,
			 err, sizeof err) != FRAME_OK) {
		/* only the field-0 round trip may fail (see the top) */
		if (!has_field0(&env->base))
			abort();
		free(out);
		return;
	}
	if (consumed != outlen || again->msg_case != env->msg_case)
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
