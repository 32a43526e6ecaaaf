/*
 * strbuf.h - the one growable byte/string buffer (SQL text, COPY rows, JSON
 * fragments, report text).
 *
 * Always NUL-terminated once anything was added (p is NULL before). After an
 * allocation failure `oom` stays set and further appends do nothing, so a
 * caller appends freely and checks once at the end. `max` (0 = none) caps the
 * length: an append that would pass it sets `oom` too, so a buffer fed from
 * the network or a database can never grow without bound.
 *
 * Ownership: the buffer owns p; strbuf_free() releases it, strbuf_take()
 * hands it to the caller (who frees it with free()) and resets the buffer.
 */
#ifndef TW_STRBUF_H
#define TW_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *p;
	size_t len, cap;
	size_t max; /* 0 = unbounded; otherwise the largest len allowed */
	bool oom;   /* an append failed (no memory, or max reached) */
};

void strbuf_put(struct strbuf *b, const void *s, size_t n);
void strbuf_puts(struct strbuf *b, const char *s);
void strbuf_putc(struct strbuf *b, char c);
void strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes room for `more` bytes (plus the NUL); false when oom. */
bool strbuf_reserve(struct strbuf *b, size_t more) __attribute__((warn_unused_result));
/* Forgets the contents, keeps the allocation (and oom cleared). */
void strbuf_reset(struct strbuf *b);
/* The string (never NULL: "" when empty), ownership to the caller; NULL when
 * oom or out of memory. The buffer is empty afterwards. */
char *strbuf_take(struct strbuf *b) __attribute__((warn_unused_result));
void strbuf_free(struct strbuf *b);

#endif
