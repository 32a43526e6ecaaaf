/*
 * test_strbuf.c - the one growable buffer (common/strbuf.c).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

TestSuite(strbuf);

Test(strbuf, appends_and_terminates)
{
	struct strbuf b = { 0 };
	strbuf_puts(&b, "ab");
	strbuf_putc(&b, 'c');
	strbuf_put(&b, "d\0e", 3); /* binary-safe: the NUL is kept */
	strbuf_printf(&b, "-%d-%s", 42, "x");
	cr_assert_eq(b.len, 11);
	cr_assert_eq(memcmp(b.p, "abcd\0e-42-x", 12), 0);
	cr_assert_not(b.oom);
	strbuf_free(&b);
	cr_assert_null(b.p);
}

Test(strbuf, printf_longer_than_the_stack_buffer)
{
	struct strbuf b = { 0 };
	char big[1000];
	memset(big, 'z', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	strbuf_puts(&b, "<");
	strbuf_printf(&b, "%s>", big);
	cr_assert_eq(b.len, 1001);
	cr_assert_eq(b.p[0], '<');
	cr_assert_eq(b.p[1000], '>');
	cr_assert_eq(b.p[1001], '\0');
	strbuf_free(&b);
}

Test(strbuf, max_makes_it_sticky_oom)
{
	struct strbuf b = { .max = 8 };
	strbuf_puts(&b, "12345678");
	cr_assert_not(b.oom);
	strbuf_putc(&b, '9');
	cr_assert(b.oom, "an append past max must fail");
	strbuf_puts(&b, "");
	cr_assert(b.oom, "oom stays set");
	cr_assert_eq(b.len, 8);
	cr_assert_null(strbuf_take(&b), "take of an oom buffer gives NULL");
	cr_assert_eq(b.max, 8, "the cap survives take/free");
	strbuf_puts(&b, "ok");
	char *s = strbuf_take(&b);
	cr_assert_str_eq(s, "ok");
	free(s);
}

Test(strbuf, take_of_empty_is_empty_string_and_reset_keeps_memory)
{
	struct strbuf b = { 0 };
	char *s = strbuf_take(&b);
	cr_assert_str_eq(s, "");
	free(s);
	strbuf_puts(&b, "hello");
	char *before = b.p;
	strbuf_reset(&b);
	cr_assert_eq(b.len, 0);
	cr_assert_str_eq(b.p, "");
	cr_assert_eq(b.p, before);
	strbuf_free(&b);
}
