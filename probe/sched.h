/*
 * sched.h - the probe's schedule: which (target x profile) entry runs when.
 * A pure data structure: no event loop, no clock of its own. Every call
 * takes `now`, monotonic milliseconds, so tests drive it with invented time
 * and the daemon with twtime_mono_ms().
 *
 * Entries. One per target x profile, identified by its key (host, port,
 * sni or none, profile). Each has an interval and a phase:
 *
 *   phase = H(key) mod interval, H = FNV-1a 64 of the encoded key, then
 *           MurmurHash3's fmix64 finaliser (FNV-1a alone mixes its low bits
 *           poorly, and the phase is exactly the low part of a modulus).
 *
 * Slot k of an entry is due at wall-clock time  phase + k * interval  (ms
 * since the Unix epoch), so the same configuration gives the same phases,
 * and the same wall-clock slots, after every restart, and entries spread
 * evenly over their interval instead of firing together.
 *
 * Clocks. Alignment uses the wall clock once: sched_new() is given
 * wall_minus_mono = wall_ms - mono_ms, and slot times are converted to the
 * monotonic clock with it. From then on everything runs on monotonic time:
 * an NTP step or a manual date change neither bursts nor stalls the
 * schedule (it re-aligns to the wall clock on the next restart). Reloads
 * keep the same offset, so surviving entries keep their slots.
 *
 * States. IDLE (waiting for its next slot) -> QUEUED (slot due, waiting for
 * a concurrency slot) -> RUNNING (handed to the caller, until sched_done).
 * Every live entry stays in a binary min-heap keyed by next_due, the next
 * slot not yet accounted for, whatever its state; so each slot is seen
 * exactly once, in due order, and is either run or counted overdue:
 *   - a slot that comes due while the entry is IDLE is queued to run;
 *   - a slot that comes due while the entry is QUEUED (it waited in the run
 *     queue past its next slot) or RUNNING (the previous run outlasted the
 *     interval) is counted overdue, per entry and globally; it is not run
 *     late and never run twice;
 *   - when several slots are due at once for an IDLE entry (the loop itself
 *     was stalled for more than an interval), the newest runs and the older
 *     ones are counted overdue.
 * Lateness (start time - due time of the slot it runs for) goes into a
 * log-linear histogram (exact below 16 ms, 8 sub-buckets per power of two
 * above, so at most 12.5% off) for p50/p99.
 *
 * Cost: sched_pop_due is O(log n) per slot, sched_done O(1), sched_reload
 * O(n); memory about 120 bytes + key per entry.
 *
 * Name: with -Iprobe this file is also what `#include <sched.h>` finds
 * (pthread.h includes it), so it starts by pulling in the system header
 * with #include_next: both are then visible, as the system's users expect.
 * Nothing here may collide with it (hence SCHED_ENTRY_*: <sched.h> has
 * SCHED_IDLE).
 *
 * Ownership: the sched owns its entries; udata is the caller's and is never
 * freed here. An entry removed by a reload while RUNNING stays valid until
 * its sched_done(), which frees it. Not thread-safe.
 */
#include_next <sched.h>

#ifndef TW_SCHED_H
#define TW_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sched_state {
	SCHED_ENTRY_IDLE,      /* waiting for next_due */
	SCHED_ENTRY_QUEUED,    /* a slot is due; waiting for the concurrency limit */
	SCHED_ENTRY_RUNNING    /* handed to the start callback; until sched_done() */
};

struct sched_key {
	const char *host;
	unsigned port;
	const char *sni;         /* NULL: no SNI (differs from "") */
	const char *profile;
};

/* Read-only outside sched.c. */
struct sched_entry {
	uint64_t hash;
	unsigned interval_ms;
	unsigned phase_ms;       /* hash % interval_ms */
	int64_t next_due;        /* monotonic ms of the next slot not yet accounted for */
	int64_t run_due;         /* QUEUED/RUNNING: the slot this run is for */
	enum sched_state state;
	bool removed;            /* dropped by a reload while RUNNING */
	uint64_t runs;           /* slots started */
	uint64_t overdue;        /* slots counted overdue */
	void *udata;             /* the caller's; replaced by a reload */
	/* private */
	size_t heap_idx;
	struct sched_entry *qnext, *qprev;
	char *key;               /* encoded key, keylen bytes */
	size_t keylen;
};

struct sched_stats {
	size_t entries;          /* live entries */
	size_t running;          /* RUNNING, including removed ones still in flight */
	size_t queued;
	uint64_t started;        /* runs started since sched_new */
	uint64_t overdue;        /* slots counted overdue since sched_new */
	uint64_t lateness_count; /* = started */
	int64_t lateness_max_ms;
};

struct sched_reload_stats {
	size_t added, removed, kept;
	size_t retimed;          /* kept, but the interval changed: new phase and slot */
	size_t removed_running;  /* removed while in flight (freed at sched_done) */
};

/* An entry in a sched_reload() list. */
struct sched_spec {
	struct sched_key key;
	unsigned interval_ms;    /* >= 1 */
	void *udata;
};

typedef void (*sched_start_cb)(struct sched_entry *e, void *arg);

/* NULL when out of memory. concurrency >= 1. */
struct sched *sched_new(unsigned concurrency, int64_t wall_minus_mono_ms);
/* Frees every entry, including removed ones still RUNNING: finish or
 * abandon the runs first. NULL is fine. */
void sched_free(struct sched *s);

void sched_set_concurrency(struct sched *s, unsigned concurrency);

/* Adds one entry; its first slot is the first one at or after now.
 * Returns it, or NULL with errno ENOMEM, EEXIST (same key already there)
 * or EINVAL (interval 0). */
struct sched_entry *sched_add(struct sched *s, const struct sched_key *k, unsigned interval_ms,
			      void *udata, int64_t now);

/* Makes the schedule exactly `specs` (reload). An entry whose key was
 * already present is kept: same object, state, next_due, counters and (if
 * RUNNING) its run; its udata is replaced, and if its interval changed it
 * gets the new phase and the new first slot at or after now. Absent entries
 * are removed (freed now, or at sched_done when RUNNING); new ones are added.
 * All or nothing: on failure (-1, errno ENOMEM, EEXIST for a key given twice,
 * EINVAL for interval 0) nothing changed. st may be NULL. */
int sched_reload(struct sched *s, const struct sched_spec *specs, size_t n, int64_t now,
		 struct sched_reload_stats *st) __attribute__((warn_unused_result));

/* Accounts every slot due at or before now (queue or overdue, see above),
 * then starts queued entries, oldest slot first, while fewer than
 * `concurrency` are RUNNING: each is marked RUNNING and passed to cb, which
 * may call sched_done() on it (e.g. when it cannot start). cb must not call
 * sched_pop_due, sched_reload or sched_free. Returns the number started. */
size_t sched_pop_due(struct sched *s, int64_t now, sched_start_cb cb, void *arg);

/* Milliseconds until sched_pop_due has something to do (0: now), or -1
 * when there are no entries. */
int64_t sched_next_due(const struct sched *s, int64_t now);

/* The run of e finished (RUNNING -> IDLE; a removed entry is freed). */
void sched_done(struct sched *s, struct sched_entry *e);

/* The entry with this key, or NULL. */
struct sched_entry *sched_find(const struct sched *s, const struct sched_key *k);

void sched_get_stats(const struct sched *s, struct sched_stats *st);

/* Lateness quantile in ms (q in [0,1]), the upper edge of its histogram
 * bucket capped at the maximum seen; 0 when nothing was started. */
double sched_lateness_ms(const struct sched *s, double q);

/* The hash, exposed for tests and documentation. */
uint64_t sched_fnv1a64(const void *data, size_t len);
uint64_t sched_key_hash(const struct sched_key *k);

#endif
