/*
 * frame.h - wire framing shared by the probe and the collector (DESIGN 5).
 *
 * A frame is a 4-byte big-endian payload length followed by exactly that
 * many bytes of one packed protobuf tlswatch.Envelope. A frame whose header
 * announces more than the caller's max_frame is refused as soon as the
 * header is seen, before any payload is buffered.
 *
 * Ownership:
 *   - frame_encode() allocates *out with malloc(); the caller free()s it.
 *   - frame_decode() / frame_read_evbuffer() return a freshly unpacked
 *     Envelope on FRAME_OK only; the caller owns it and frees it with
 *     tlswatch__envelope__free_unpacked(env, NULL). On any other status
 *     *env is set to NULL and nothing is owed.
 *   - Input buffers are never retained: the decoded Envelope owns copies of
 *     every string and bytes field.
 */
#ifndef TW_FRAME_H
#define TW_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "tlswatch.pb-c.h"

struct evbuffer;

/* Default cap on the payload (envelope) size, excluding the 4-byte header. */
#define FRAME_DEFAULT_MAX (4u << 20)
/* Size of the length prefix. */
#define FRAME_HEADER_LEN 4u

enum frame_status {
	FRAME_OK = 0,      /* one frame decoded; *consumed / drain as documented */
	FRAME_INCOMPLETE,  /* need more bytes; nothing consumed */
	FRAME_TOO_LARGE,   /* header announces more than max_frame: drop the peer */
	FRAME_MALFORMED,   /* zero length, unpack failure, no oneof set: drop the peer */
};

/* Static, human-readable name of a status ("ok", "incomplete", ...). */
const char *frame_status_str(enum frame_status st);

/*
 * Packs env into a newly malloc()ed buffer of header + payload.
 * On success returns 0 and sets *out (caller frees) and *outlen.
 * Returns -1 (and leaves *out NULL, *outlen 0) when the packed envelope is
 * empty, larger than max_frame (or than 2^32-1), or on ENOMEM.
 */
int frame_encode(const Tlswatch__Envelope *env, uint8_t **out, size_t *outlen,
		 size_t max_frame);

/*
 * Decodes the first frame of buf[0..len). Never reads past len.
 *   FRAME_OK          *env set (caller owns), *consumed = 4 + payload length
 *   FRAME_INCOMPLETE  fewer than 4 bytes, or fewer than 4 + announced length
 *   FRAME_TOO_LARGE   announced length > max_frame (decided from the header)
 *   FRAME_MALFORMED   zero length, protobuf-c cannot unpack (incl. missing
 *                     required fields), or no oneof member set
 * On every non-OK status *env = NULL and *consumed = 0. err (may be NULL when
 * errlen is 0) receives a one-line reason on TOO_LARGE / MALFORMED and is
 * set to "" otherwise.
 */
enum frame_status frame_decode(const uint8_t *buf, size_t len, size_t max_frame,
			       Tlswatch__Envelope **env, size_t *consumed,
			       char *err, size_t errlen);

/*
 * libevent helper: decodes one frame from the front of in.
 * Copies out only the 4-byte header, then linearizes only header + payload.
 * On FRAME_OK exactly that one frame is drained from in; on every other
 * status in is left untouched (the caller typically closes the connection
 * on TOO_LARGE / MALFORMED). Call in a loop until it stops returning OK.
 */
enum frame_status frame_read_evbuffer(struct evbuffer *in, size_t max_frame,
				      Tlswatch__Envelope **env,
				      char *err, size_t errlen);

/*
 * Appends one frame (header + packed env) to out, packing straight into
 * reserved evbuffer space. Returns 0, or -1 on the same conditions as
 * frame_encode() or when libevent cannot allocate; out is unchanged on -1.
 */
int frame_write_evbuffer(struct evbuffer *out, const Tlswatch__Envelope *env,
			 size_t max_frame);

#endif
