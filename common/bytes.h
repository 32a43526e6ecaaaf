/*
 * bytes.h - tiny helpers shared by the wire and spool formats
 * (common/frame.c, probe/spool.c): big-endian integers and a bounded
 * error-message writer. Header-only, static inline.
 */
#ifndef TW_BYTES_H
#define TW_BYTES_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

static inline uint32_t bytes_get_be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint64_t bytes_get_be64(const uint8_t *p)
{
	return ((uint64_t)bytes_get_be32(p) << 32) | bytes_get_be32(p + 4);
}

static inline void bytes_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void bytes_put_be64(uint8_t *p, uint64_t v)
{
	bytes_put_be32(p, (uint32_t)(v >> 32));
	bytes_put_be32(p + 4, (uint32_t)v);
}

/* printf into err[errlen] (cut to fit); nothing when err is NULL or errlen 0. */
static inline void bytes_set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline void bytes_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

#endif
