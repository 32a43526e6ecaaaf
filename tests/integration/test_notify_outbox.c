/*
 * test_notify_outbox.c - the notifier's durable outbox (collector/
 * notify_outbox.c) across notifiers and failures, against a real
 * PostgreSQL and scripted webhook receivers (tests/integration/
 * test_notify_outbox.sh, the same fixture as test_notify): two notifiers
 * deliver each row exactly once, a dead notifier's lease expires and
 * another delivers, and an outcome is recorded after a database outage.
 * Delivery, retries, signatures and sinks: test_notify.c. Helpers:
 * notify_env.h.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <event2/event.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "notify.h"
#include "notify_config.h"
#include "notify_env.h"
#include "twtime.h"

TestSuite(notify, .timeout = 180, .fini = stop_all);

/* ------------------------------------------------------------ several collectors */

struct runner {
	pthread_t th;
	const char *ci;
	struct notify_config *cfg;
	atomic_bool stop;
	struct notifier_stats st;
	char err[256];
};

static void *runner_main(void *arg)
{
	struct runner *ru = arg;
	struct event_base *b = event_base_new();
	struct notifier *n = notify_new_config(b, ru->ci, ru->cfg, ru->err, sizeof ru->err);
	if (n) {
		while (!atomic_load(&ru->stop)) {
			struct timeval tv = { 0, 20000 };
			event_base_loopexit(b, &tv);
			event_base_dispatch(b);
		}
		notify_get_stats(n, &ru->st);
		notify_free(n);
	}
	event_base_free(b);
	return NULL;
}

Test(notify, two_notifiers_deliver_each_row_exactly_once)
{
	char *ci = new_db("notify_two");
	PGconn *c = pg(ci);
	struct recv r;
	/* a slow receiver (40 ms per request) so that both notifiers have work in flight */
	recv_start(&r, "TW_PORT_R6", "two", "200", "--delay-ms", "40");
	const char *y = tw_fmt("sinks:\n"
			       "  - name: hook\n"
			       "    type: webhook\n"
			       "    url: http://127.0.0.1:%d/two\n"
			       "    secret: " SECRET "\n"
			       "delivery: {poll_interval: 20ms, batch: 5, max_in_flight: 4}\n", r.port);
	struct runner a = { .ci = ci, .cfg = config("two_a", y) };
	struct runner b2 = { .ci = ci, .cfg = config("two_b", y) };
	atomic_init(&a.stop, false);
	atomic_init(&b2.stop, false);
	cr_assert_eq(pthread_create(&a.th, NULL, runner_main, &a), 0);
	cr_assert_eq(pthread_create(&b2.th, NULL, runner_main, &b2), 0);
	const int N = 60;
	for (int i = 0; i < N; i++)
		fire(c, tw_fmt("k-two-%d", i), "cert_expiry_7d", "ticket", NULL);
	double end = twtime_mono_ms() + 60000;
	while (q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered'") < N &&
	       twtime_mono_ms() < end)
		tw_sleep_ms(50);
	tw_sleep_ms(300);
	atomic_store(&a.stop, true);
	atomic_store(&b2.stop, true);
	pthread_join(a.th, NULL);
	pthread_join(b2.th, NULL);
	cr_assert_str_empty(a.err);
	cr_assert_str_empty(b2.err);

	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries"), N);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered' "
			   "AND attempts = 1"), N);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_attempts"), N);
	json_t *reqs = recv_requests(&r);
	cr_assert_eq(json_array_size(reqs), (size_t)N, "%zu requests for %d rows",
		     json_array_size(reqs), N);
	for (size_t i = 0; i < json_array_size(reqs); i++)
		for (size_t j = i + 1; j < json_array_size(reqs); j++)
			cr_assert_str_neq(req_header(json_array_get(reqs, i), "webhook-id"),
					  req_header(json_array_get(reqs, j), "webhook-id"));
	json_decref(reqs);
	cr_assert_eq(a.st.delivered + b2.st.delivered, (uint64_t)N);
	cr_assert_eq(a.st.routed + b2.st.routed, (uint64_t)N);
	cr_log_info("notifier A delivered %llu, B %llu", (unsigned long long)a.st.delivered,
		    (unsigned long long)b2.st.delivered);
	recv_stop(&r);
	PQfinish(c);
	free(ci);
}

/* ------------------------------------------------------------ failures of our own */

struct inflight {
	struct notifier *n;
	unsigned want;
};

static bool in_flight_is(void *arg)
{
	struct inflight *f = arg;
	struct notifier_stats st;
	notify_get_stats(f->n, &st);
	return st.in_flight == f->want;
}

/* A collector that dies with a request in flight: its lease expires and
 * another one sends the delivery again, with the same idempotency key. */
Test(notify, lease_of_a_dead_notifier_expires_and_another_delivers)
{
	char *ci = new_db("notify_lease");
	PGconn *c = pg(ci);
	struct recv r;
	recv_start(&r, "TW_PORT_R3", "lease", "200", "--delay-ms", "1500");
	const char *y = tw_fmt("sinks:\n"
			       "  - name: hook\n"
			       "    type: webhook\n"
			       "    url: http://127.0.0.1:%d/lease\n"
			       "    secret: " SECRET "\n"
			       "    timeout: 1s\n"
			       "delivery: {poll_interval: 50ms, lease: 2s}\n", r.port);
	struct event_base *b1 = event_base_new();
	struct notifier *n1 = start(b1, ci, config("lease1", y));
	long long oid = fire(c, "k-lease", "clock_skew", "ticket", NULL);
	struct inflight f = { n1, 1 };
	cr_assert(run_until(b1, in_flight_is, &f, 10), "no request in flight");
	double t0 = twtime_mono_ms();
	notify_free(n1);  /* dies: nothing recorded, the lease stays */
	event_base_free(b1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'pending' "
			   "AND locked_until > now() AND attempts = 0"), 1);

	struct event_base *b2 = event_base_new();
	struct notifier *n2 = start(b2, ci, config("lease2", y));
	/* the receiver answers in 1.5 s > timeout 1 s: n2's attempts time out too,
	 * so let it answer at once from now on */
	recv_stop(&r);
	recv_start(&r, "TW_PORT_R3", "lease-b", "200", NULL, NULL);
	settle(b2, c, 1, 20);
	double waited = (twtime_mono_ms() - t0) / 1000;
	cr_assert(waited >= 1.5, "delivered %.2f s after the first holder died: before its lease "
		  "(2 s from the claim) ran out", waited);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered' "
			   "AND attempts = 1"), 1);
	json_t *reqs = recv_requests(&r);
	cr_assert_eq(json_array_size(reqs), 1u);
	cr_assert_str_eq(req_header(json_array_get(reqs, 0), "webhook-id"), tw_fmt("tw-%lld-hook", oid));
	json_decref(reqs);
	notify_free(n2);
	event_base_free(b2);
	recv_stop(&r);
	PQfinish(c);
	free(ci);
}

/* The database goes away while a request is in flight: the outcome is
 * recorded after the reconnect, once, and the delivery is not sent again. */
Test(notify, outcome_recorded_after_a_database_outage)
{
	char *ci = new_db("notify_outage");
	PGconn *c = pg(ci);
	struct recv r;
	recv_start(&r, "TW_PORT_R5", "outage", "202", "--delay-ms", "800");
	struct event_base *b = event_base_new();
	struct notifier *n = start(b, ci, config("outage", tw_fmt(
		"sinks:\n"
		"  - name: hook\n"
		"    type: webhook\n"
		"    url: http://127.0.0.1:%d/outage\n"
		"    secret: " SECRET "\n"
		"delivery: {poll_interval: 50ms}\n", r.port)));
	fire(c, "k-outage", "slo_burn_fast", "page", NULL);
	PQfinish(c);
	struct inflight f = { n, 1 };
	cr_assert(run_until(b, in_flight_is, &f, 10), "no request in flight");
	cr_assert_eq(system(env("TW_PG_STOP")), 0, "pg_ctl stop failed");
	f.want = 0;
	cr_assert(run_until(b, in_flight_is, &f, 10), "request did not finish");
	run_for(b, 1.0);  /* reconnect attempts fail meanwhile */
	struct notifier_stats st;
	notify_get_stats(n, &st);
	cr_assert(!st.db_up);
	cr_assert_eq(st.attempts, 0u);
	cr_assert_eq(system(env("TW_PG_START")), 0, "pg_ctl start failed");
	c = pg(ci);
	settle(b, c, 1, 30);
	run_for(b, 0.5);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_deliveries WHERE state = 'delivered' "
			   "AND attempts = 1 AND last_status = 202"), 1);
	cr_assert_eq(q_int(c, "SELECT count(*) FROM notification_attempts"), 1);
	json_t *reqs = recv_requests(&r);
	cr_assert_eq(json_array_size(reqs), 1u);
	json_decref(reqs);
	notify_get_stats(n, &st);
	cr_assert(st.db_up);
	cr_assert_eq(st.delivered, 1u);
	notify_free(n);
	event_base_free(b);
	recv_stop(&r);
	PQfinish(c);
	free(ci);
}
