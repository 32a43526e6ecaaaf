/*
 * frame.c - 4-byte big-endian length + one protobuf Envelope (DESIGN 5).
 * See frame.h for the contract and who owns what.
 */
#include "frame.h"
#include "bytes.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

const char *frame_status_str(enum frame_status st)
{
	switch (st) {
	case FRAME_OK:         return "ok";
	case FRAME_INCOMPLETE: return "incomplete";
	case FRAME_TOO_LARGE:  return "too large";
	case FRAME_MALFORMED:  return "malformed";
	}
	return "unknown";
}

/* Size of the packed payload, or 0 when env must not be sent. */
static size_t payload_size(const Tlswatch__Envelope *env, size_t max_frame)
{
	size_t n;

	if (env == NULL || env->msg_case == TLSWATCH__ENVELOPE__MSG__NOT_SET)
		return 0;
	n = tlswatch__envelope__get_packed_size(env);
	if (n == 0 || n > max_frame || n > UINT32_MAX)
		return 0;
	return n;
}

int frame_encode(const Tlswatch__Envelope *env, uint8_t **out, size_t *outlen,
		 size_t max_frame)
{
	size_t n = payload_size(env, max_frame);
	uint8_t *buf;

	*out = NULL;
	*outlen = 0;
	if (n == 0)
		return -1;
	buf = malloc(FRAME_HEADER_LEN + n);
	if (buf == NULL)
		return -1;
	bytes_put_be32(buf, (uint32_t)n);
	if (tlswatch__envelope__pack(env, buf + FRAME_HEADER_LEN) != n) {
		free(buf);
		return -1;
	}
	*out = buf;   /* caller free()s */
	*outlen = FRAME_HEADER_LEN + n;
	return 0;
}

/* Checks the header only; *plen = announced payload length. */
static enum frame_status check_header(const uint8_t hdr[FRAME_HEADER_LEN],
				      size_t max_frame, uint32_t *plen,
				      char *err, size_t errlen)
{
	uint32_t n = bytes_get_be32(hdr);

	*plen = n;
	if ((uint64_t)n > (uint64_t)max_frame) {
		bytes_set_err(err, errlen, "frame announces %" PRIu32 " bytes, max is %zu",
			n, max_frame);
		return FRAME_TOO_LARGE;
	}
	if (n == 0) {
		bytes_set_err(err, errlen, "zero-length frame");
		return FRAME_MALFORMED;
	}
	return FRAME_OK;
}

/* Unpacks exactly n payload bytes; *env owned by the caller on OK. */
static enum frame_status unpack_payload(const uint8_t *p, size_t n,
					Tlswatch__Envelope **env,
					char *err, size_t errlen)
{
	Tlswatch__Envelope *e = tlswatch__envelope__unpack(NULL, n, p);

	if (e == NULL) {
		/* protobuf-c does not distinguish bad wire data, a missing
		 * required field and ENOMEM; all end the connection. */
		bytes_set_err(err, errlen,
			"cannot unpack %zu-byte envelope (bad protobuf or missing required field)",
			n);
		return FRAME_MALFORMED;
	}
	if (e->msg_case == TLSWATCH__ENVELOPE__MSG__NOT_SET) {
		bytes_set_err(err, errlen, "envelope of %zu bytes carries no message", n);
		tlswatch__envelope__free_unpacked(e, NULL);
		return FRAME_MALFORMED;
	}
	*env = e;
	return FRAME_OK;
}

enum frame_status frame_decode(const uint8_t *buf, size_t len, size_t max_frame,
			       Tlswatch__Envelope **env, size_t *consumed,
			       char *err, size_t errlen)
{
	enum frame_status st;
	uint32_t n;

	*env = NULL;
	*consumed = 0;
	bytes_set_err(err, errlen, "%s", "");
	if (len < FRAME_HEADER_LEN)
		return FRAME_INCOMPLETE;
	st = check_header(buf, max_frame, &n, err, errlen);
	if (st != FRAME_OK)
		return st;
	if (len - FRAME_HEADER_LEN < n)
		return FRAME_INCOMPLETE;
	st = unpack_payload(buf + FRAME_HEADER_LEN, n, env, err, errlen);
	if (st == FRAME_OK)
		*consumed = FRAME_HEADER_LEN + (size_t)n;
	return st;
}

enum frame_status frame_read_evbuffer(struct evbuffer *in, size_t max_frame,
				      Tlswatch__Envelope **env,
				      char *err, size_t errlen)
{
	uint8_t hdr[FRAME_HEADER_LEN];
	enum frame_status st;
	unsigned char *p;
	size_t total;
	uint32_t n;

	*env = NULL;
	bytes_set_err(err, errlen, "%s", "");
	if (evbuffer_get_length(in) < FRAME_HEADER_LEN ||
	    evbuffer_copyout(in, hdr, FRAME_HEADER_LEN) != (ev_ssize_t)FRAME_HEADER_LEN)
		return FRAME_INCOMPLETE;
	st = check_header(hdr, max_frame, &n, err, errlen);
	if (st != FRAME_OK)
		return st;
	total = FRAME_HEADER_LEN + (size_t)n;
	if (evbuffer_get_length(in) < total)
		return FRAME_INCOMPLETE;
	/* Linearize only this frame, not whatever follows it. */
	p = evbuffer_pullup(in, (ev_ssize_t)total);
	if (p == NULL) {
		bytes_set_err(err, errlen, "cannot linearize %zu-byte frame (out of memory)",
			total);
		return FRAME_MALFORMED;
	}
	st = unpack_payload(p + FRAME_HEADER_LEN, n, env, err, errlen);
	if (st == FRAME_OK)
		evbuffer_drain(in, total);
	return st;
}

int frame_write_evbuffer(struct evbuffer *out, const Tlswatch__Envelope *env,
			 size_t max_frame)
{
	size_t n = payload_size(env, max_frame);
	struct evbuffer_iovec v;
	uint8_t *p;

	if (n == 0)
		return -1;
	/* n_vec = 1 guarantees one contiguous extent of at least the size. */
	if (evbuffer_reserve_space(out, (ev_ssize_t)(FRAME_HEADER_LEN + n), &v, 1) != 1)
		return -1;
	p = v.iov_base;
	bytes_put_be32(p, (uint32_t)n);
	if (tlswatch__envelope__pack(env, p + FRAME_HEADER_LEN) != n)
		return -1;   /* uncommitted reservation is simply discarded */
	v.iov_len = FRAME_HEADER_LEN + n;
	return evbuffer_commit_space(out, &v, 1) == 0 ? 0 : -1;
}
