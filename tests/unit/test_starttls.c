/*
 * test_starttls.c - the STARTTLS state machine over a socketpair: the test
 * plays the server on one end, the probe end is non-blocking.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "starttls.h"

static int probe_fd = -1, server_fd = -1;
static struct starttls st;

static void setup(void)
{
	int sv[2];
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	probe_fd = sv[0];
	server_fd = sv[1];
	int fl = fcntl(probe_fd, F_GETFL);
	cr_assert_eq(fcntl(probe_fd, F_SETFL, fl | O_NONBLOCK), 0);
	memset(&st, 0, sizeof st);
}

static void teardown(void)
{
	if (probe_fd >= 0)
		close(probe_fd);
	if (server_fd >= 0)
		close(server_fd);
	probe_fd = server_fd = -1;
}

/* The server side writes. */
static void srv_send(const void *data, size_t len)
{
	cr_assert_eq(write(server_fd, data, len), (ssize_t)len);
}

static void srv_say(const char *s)
{
	srv_send(s, strlen(s));
}

/* Everything the probe has sent so far (the server end is blocking, so
 * poll first to avoid hanging when nothing was sent). */
static size_t srv_recv(char *buf, size_t cap)
{
	size_t got = 0;
	struct pollfd p = { .fd = server_fd, .events = POLLIN };
	while (got < cap - 1 && poll(&p, 1, 10) == 1) {
		ssize_t n = read(server_fd, buf + got, cap - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return got;
}

static void expect_recv(const char *want)
{
	char buf[512];
	srv_recv(buf, sizeof buf);
	cr_assert_str_eq(buf, want, "probe sent \"%s\", expected \"%s\"", buf, want);
}

static void expect_nothing_sent(void)
{
	char buf[64];
	cr_assert_eq(srv_recv(buf, sizeof buf), 0, "probe sent unexpected \"%s\"", buf);
}

static enum starttls_status step(void)
{
	return starttls_step(&st, probe_fd);
}

#define ASSERT_STATUS(got, want) \
	cr_assert_eq((got), (want), "status %d, expected %d (why \"%s\")", (int)(got), (int)(want), st.why)

TestSuite(starttls, .init = setup, .fini = teardown);

/* ---- SMTP ---- */

Test(starttls, smtp_happy_path_multiline_ehlo)
{
	starttls_init(&st, STARTTLS_SMTP);
	/* nothing from the server yet: the client waits for the greeting */
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	expect_nothing_sent();

	srv_say("220 mx.example ESMTP\r\n");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	expect_recv("EHLO tlswatch.probe\r\n");

	srv_say("250-x\r\n");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);   /* continuation line: not done */
	expect_nothing_sent();
	srv_say("250 STARTTLS\r\n");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	expect_recv("STARTTLS\r\n");

	srv_say("220 2.0.0 Ready to start TLS\r\n");
	ASSERT_STATUS(step(), STARTTLS_DONE);
	cr_assert_eq(st.len, 0);
}

Test(starttls, smtp_multiline_ehlo_in_one_write)
{
	starttls_init(&st, STARTTLS_SMTP);
	srv_say("220 mx.example ESMTP\r\n");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	expect_recv("EHLO tlswatch.probe\r\n");
	srv_say("250-x\r\n250 STARTTLS\r\n");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	expect_recv("STARTTLS\r\n");
	srv_say("220 go ahead\r\n");
	ASSERT_STATUS(step(), STARTTLS_DONE);
}

Test(starttls, smtp_multiline_greeting)
{
	starttls_init(&st, STARTTLS_SMTP);
	srv_say("220-mx.example ESMTP\r\n220-no UCE\r\n");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	expect_nothing_sent();
	srv_say("220 ready\r\n");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	expect_recv("EHLO tlswatch.probe\r\n");
}

Test(starttls, smtp_starttls_refused_454)
{
	starttls_init(&st, STARTTLS_SMTP);
	srv_say("220 mx.example ESMTP\r\n");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	expect_recv("EHLO tlswatch.probe\r\n");
	srv_say("250-x\r\n250 STARTTLS\r\n");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	expect_recv("STARTTLS\r\n");
	srv_say("454 4.7.0 TLS not available due to local problem\r\n");
	ASSERT_STATUS(step(), STARTTLS_REFUSED);
	cr_assert(strstr(st.why, "454 4.7.0 TLS not available due to local problem") != NULL,
		  "why \"%s\"", st.why);
}

Test(starttls, smtp_greeting_554_refused)
{
	starttls_init(&st, STARTTLS_SMTP);
	srv_say("554 go away\r\n");
	ASSERT_STATUS(step(), STARTTLS_REFUSED);
	cr_assert(strstr(st.why, "554 go away") != NULL, "why \"%s\"", st.why);
}

Test(starttls, smtp_server_closes)
{
	starttls_init(&st, STARTTLS_SMTP);
	srv_say("220 mx.example ESMTP\r\n");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	close(server_fd);
	server_fd = -1;
	ASSERT_STATUS(step(), STARTTLS_IO_ERROR);
	cr_assert(st.why[0] != '\0');
}

Test(starttls, smtp_server_closes_mid_line)
{
	starttls_init(&st, STARTTLS_SMTP);
	srv_say("220 mx.exa");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	close(server_fd);
	server_fd = -1;
	ASSERT_STATUS(step(), STARTTLS_IO_ERROR);
}

Test(starttls, smtp_data_after_go_ahead_refused)
{
	starttls_init(&st, STARTTLS_SMTP);
	srv_say("220 mx\r\n");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	expect_recv("EHLO tlswatch.probe\r\n");
	srv_say("250 STARTTLS\r\n");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	expect_recv("STARTTLS\r\n");
	srv_say("220 go\r\ninjected");
	ASSERT_STATUS(step(), STARTTLS_REFUSED);
}

Test(starttls, reply_split_across_two_writes)
{
	starttls_init(&st, STARTTLS_SMTP);
	srv_say("22");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	expect_nothing_sent();
	srv_say("0 mx.example\r\n");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	expect_recv("EHLO tlswatch.probe\r\n");
	srv_say("250 STARTTLS\r\n");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	expect_recv("STARTTLS\r\n");
	srv_say("220 Ready");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	srv_say(" to start TLS\r\n");
	ASSERT_STATUS(step(), STARTTLS_DONE);
}

/* ---- IMAP, POP3, FTP ---- */

Test(starttls, imap_happy_path)
{
	starttls_init(&st, STARTTLS_IMAP);
	srv_say("* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	expect_recv("a1 STARTTLS\r\n");
	srv_say("a1 OK Begin TLS negotiation now\r\n");
	ASSERT_STATUS(step(), STARTTLS_DONE);
}

Test(starttls, imap_refused)
{
	starttls_init(&st, STARTTLS_IMAP);
	srv_say("* OK ready\r\n");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	expect_recv("a1 STARTTLS\r\n");
	srv_say("a1 BAD unknown command\r\n");
	ASSERT_STATUS(step(), STARTTLS_REFUSED);
	cr_assert(strstr(st.why, "a1 BAD unknown command") != NULL, "why \"%s\"", st.why);
}

Test(starttls, pop3_happy_path)
{
	starttls_init(&st, STARTTLS_POP3);
	srv_say("+OK POP3 ready\r\n");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	expect_recv("STLS\r\n");
	srv_say("+OK Begin TLS\r\n");
	ASSERT_STATUS(step(), STARTTLS_DONE);
}

Test(starttls, pop3_refused)
{
	starttls_init(&st, STARTTLS_POP3);
	srv_say("+OK POP3 ready\r\n");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	expect_recv("STLS\r\n");
	srv_say("-ERR not supported\r\n");
	ASSERT_STATUS(step(), STARTTLS_REFUSED);
}

Test(starttls, ftp_happy_path)
{
	starttls_init(&st, STARTTLS_FTP);
	srv_say("220-Welcome\r\n220 FTP ready\r\n");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	expect_recv("AUTH TLS\r\n");
	srv_say("234 AUTH TLS OK.\r\n");
	ASSERT_STATUS(step(), STARTTLS_DONE);
}

Test(starttls, ftp_refused)
{
	starttls_init(&st, STARTTLS_FTP);
	srv_say("220 FTP ready\r\n");
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	expect_recv("AUTH TLS\r\n");
	srv_say("530 Please login with USER and PASS.\r\n");
	ASSERT_STATUS(step(), STARTTLS_REFUSED);
	cr_assert(strstr(st.why, "530") != NULL, "why \"%s\"", st.why);
}

/* ---- PostgreSQL ---- */

static void pg_expect_sslrequest(void)
{
	static const unsigned char want[8] = { 0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x2f };
	unsigned char buf[64];
	size_t n = srv_recv((char *)buf, sizeof buf);
	cr_assert_eq(n, sizeof want, "probe sent %zu bytes, expected 8", n);
	cr_assert_arr_eq(buf, want, sizeof want);
}

Test(starttls, postgres_accepts)
{
	starttls_init(&st, STARTTLS_POSTGRES);
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	pg_expect_sslrequest();
	srv_send("S", 1);
	ASSERT_STATUS(step(), STARTTLS_DONE);
}

Test(starttls, postgres_refuses)
{
	starttls_init(&st, STARTTLS_POSTGRES);
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	pg_expect_sslrequest();
	srv_send("N", 1);
	ASSERT_STATUS(step(), STARTTLS_REFUSED);
	cr_assert(st.why[0] != '\0');
}

Test(starttls, postgres_extra_bytes_after_S_refused)
{
	starttls_init(&st, STARTTLS_POSTGRES);
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	pg_expect_sslrequest();
	srv_send("S\x16\x03\x03", 4);
	ASSERT_STATUS(step(), STARTTLS_REFUSED);
}

Test(starttls, postgres_server_closes)
{
	starttls_init(&st, STARTTLS_POSTGRES);
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	pg_expect_sslrequest();
	close(server_fd);
	server_fd = -1;
	ASSERT_STATUS(step(), STARTTLS_IO_ERROR);
}

Test(starttls, postgres_sends_request_once)
{
	starttls_init(&st, STARTTLS_POSTGRES);
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	ASSERT_STATUS(step(), STARTTLS_WANT_READ);
	pg_expect_sslrequest();
}

/* ---- names ---- */

Test(starttls, parse_names_case_insensitive)
{
	static const struct { const char *name; enum starttls_proto p; } cases[] = {
		{ "smtp", STARTTLS_SMTP }, { "SMTP", STARTTLS_SMTP }, { "Imap", STARTTLS_IMAP },
		{ "pop3", STARTTLS_POP3 }, { "POP3", STARTTLS_POP3 }, { "ftp", STARTTLS_FTP },
		{ "PostgreS", STARTTLS_POSTGRES }, { "postgres", STARTTLS_POSTGRES },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		enum starttls_proto p = STARTTLS_NONE;
		cr_assert_eq(starttls_parse(cases[i].name, &p), 0, "%s", cases[i].name);
		cr_assert_eq(p, cases[i].p, "%s", cases[i].name);
	}
}

Test(starttls, parse_unknown)
{
	enum starttls_proto p = STARTTLS_SMTP;
	cr_assert_eq(starttls_parse("xmpp", &p), -1);
	cr_assert_eq(p, STARTTLS_NONE);
	p = STARTTLS_SMTP;
	cr_assert_eq(starttls_parse("", &p), -1);
	cr_assert_eq(p, STARTTLS_NONE);
	cr_assert_eq(starttls_parse("smtps", &p), -1);
}

Test(starttls, names_round_trip)
{
	for (int i = STARTTLS_SMTP; i <= STARTTLS_POSTGRES; i++) {
		enum starttls_proto p = STARTTLS_NONE;
		cr_assert_eq(starttls_parse(starttls_name((enum starttls_proto)i), &p), 0);
		cr_assert_eq((int)p, i);
	}
	cr_assert_str_eq(starttls_name(STARTTLS_SMTP), "smtp");
	cr_assert_str_eq(starttls_name(STARTTLS_POSTGRES), "postgres");
}
