/*
 * ingest_frame.c - a probe's frame decoded within a memory budget, and the
 * caps on what a Result may hold (issue 12, defect 3).
 *
 * The frame size cap alone does not bound memory: protobuf-c allocates per
 * element, so a 3 MB frame of 1.4M empty repeated strings decodes into
 * ~60 MB (a pointer and a malloc'ed byte per element), and a connection's
 * queue of such batches took the collector from 60 MB to 2.1 GB. So:
 *
 *   - every frame is unpacked through an allocator that counts what it
 *     hands out (the request rounded up as glibc's malloc does, plus its
 *     header) and fails past the budget: protobuf-c then frees what it
 *     had and returns NULL; the caller refuses the peer (memory_limit).
 *     The count is also the batch's cost, held against the connection's
 *     and the server's byte bounds while it waits for the database
 *     (ingest.c: reading stops before either could be passed);
 *   - a decoded Result may not exceed the caps below (result_limits):
 *     what no real handshake produces is refused before it is queued.
 *
 * The allocator's free is free(): the envelope is freed as usual, with
 * tlswatch__envelope__free_unpacked(env, NULL).
 */
#include "ingest_int.h"
#include "frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <protobuf-c/protobuf-c.h>

struct budget {
	size_t used, limit;
	bool over;
};

/* glibc: 16-byte granules, 8 bytes of header, 32 bytes at least */
static size_t malloc_cost(size_t n)
{
	size_t c = (n + 8 + 15) & ~(size_t)15;
	return c < 32 ? 32 : c;
}

static void *budget_alloc(void *data, size_t n)
{
	struct budget *b = data;
	size_t c = malloc_cost(n);
	if (c < n || b->used + c > b->limit) {
		b->over = true;
		return NULL;
	}
	void *p = malloc(n);
	if (p)
		b->used += c;
	return p;
}

static void budget_free(void *data, void *p)
{
	(void)data;
	free(p);
}

enum frame_status ingest_frame_read(struct evbuffer *in, size_t max_frame, size_t budget,
				    Tlswatch__Envelope **env, size_t *cost, bool *over_budget,
				    char *err, size_t errlen)
{
	unsigned char hdr[FRAME_HEADER_LEN];
	*env = NULL;
	*cost = 0;
	*over_budget = false;
	err[0] = '\0';
	if (evbuffer_get_length(in) < FRAME_HEADER_LEN ||
	    evbuffer_copyout(in, hdr, FRAME_HEADER_LEN) != (ev_ssize_t)FRAME_HEADER_LEN)
		return FRAME_INCOMPLETE;
	uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 |
		     hdr[3];
	if ((uint64_t)n > (uint64_t)max_frame) {
		snprintf(err, errlen, "frame announces %u bytes, max is %zu", n, max_frame);
		return FRAME_TOO_LARGE;
	}
	if (n == 0) {
		snprintf(err, errlen, "zero-length frame");
		return FRAME_MALFORMED;
	}
	size_t total = FRAME_HEADER_LEN + (size_t)n;
	if (evbuffer_get_length(in) < total)
		return FRAME_INCOMPLETE;
	unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)total);
	if (!p) {
		snprintf(err, errlen, "cannot linearize a %zu-byte frame (out of memory)", total);
		return FRAME_MALFORMED;
	}
	struct budget b = { 0, budget, false };
	ProtobufCAllocator a = { budget_alloc, budget_free, &b };
	Tlswatch__Envelope *e = tlswatch__envelope__unpack(&a, n, p + FRAME_HEADER_LEN);
	if (!e) {
		*over_budget = b.over;
		if (b.over)
			snprintf(err, errlen, "decoding the %u-byte frame takes more than %zu bytes of "
				 "memory", n, budget);
		else
			snprintf(err, errlen, "cannot unpack %u-byte envelope (bad protobuf or "
				 "missing required field)", n);
		return FRAME_MALFORMED;
	}
	if (e->msg_case == TLSWATCH__ENVELOPE__MSG__NOT_SET) {
		snprintf(err, errlen, "envelope of %u bytes carries no message", n);
		tlswatch__envelope__free_unpacked(e, NULL);
		return FRAME_MALFORMED;
	}
	evbuffer_drain(in, total);
	*env = e;
	*cost = b.used;
	return FRAME_OK;
}

/* ---- caps on a Result ---- */

struct rep_cap {
	const char *field;
	size_t max;
};

/* Far above any real handshake (certificates with more SANs exist, rarely;
 * docs/production.md says so), far below what hurts. */
static const struct rep_cap caps[] = {
	{ "findings", INGEST_MAX_FINDINGS },
	{ "verify_errors", INGEST_MAX_VERIFY_ERRORS },
	{ "labels", INGEST_MAX_LABELS },
	{ "leaf_sans", INGEST_MAX_SANS },
};

static size_t cap_of(const char *field)
{
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
		if (strcmp(caps[i].field, field) == 0)
			return caps[i].max;
	return INGEST_MAX_SANS;
}

/* Walks msg's fields through its descriptor (so a field added to the proto
 * is covered too): every repeated field within its cap, every string at
 * most INGEST_MAX_STRING bytes, nested messages likewise. 0, or -1 with the
 * field named in why. */
static int check_message(const ProtobufCMessage *msg, const char *path, char *why, size_t cap)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)msg;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			size_t max = cap_of(f->name);
			if (n > max) {
				snprintf(why, cap, "%s%s has %zu elements (at most %zu)", path, f->name,
					 n, max);
				return -1;
			}
			const void *arr = *(const void *const *)(base + f->offset);
			for (size_t k = 0; k < n; k++) {
				if (f->type == PROTOBUF_C_TYPE_STRING) {
					const char *s = ((const char *const *)arr)[k];
					if (s && strnlen(s, INGEST_MAX_STRING + 1) > INGEST_MAX_STRING) {
						snprintf(why, cap, "%s%s[%zu] is longer than %d bytes",
							 path, f->name, k, INGEST_MAX_STRING);
						return -1;
					}
				} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
					const ProtobufCMessage *m = ((const ProtobufCMessage *const *)arr)[k];
					char sub[96];
					snprintf(sub, sizeof sub, "%s%s[%zu].", path, f->name, k);
					if (m && check_message(m, sub, why, cap) != 0)
						return -1;
				}
			}
		} else if (f->type == PROTOBUF_C_TYPE_STRING) {
			const char *s = *(const char *const *)(base + f->offset);
			if (s && strnlen(s, INGEST_MAX_STRING + 1) > INGEST_MAX_STRING) {
				snprintf(why, cap, "%s%s is longer than %d bytes", path, f->name,
					 INGEST_MAX_STRING);
				return -1;
			}
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			const ProtobufCMessage *m = *(const ProtobufCMessage *const *)(base + f->offset);
			char sub[96];
			snprintf(sub, sizeof sub, "%s%s.", path, f->name);
			if (m && check_message(m, sub, why, cap) != 0)
				return -1;
		}
	}
	return 0;
}

int ingest_frame_check_result(const Tlswatch__Result *r, char *why, size_t cap)
{
	return check_message(&r->base, "", why, cap);
}
