/*
 * spool_state.c - the spool's durable writes: the `state` file (acked and
 * reserved sequence numbers, replaced atomically) and, when the spool has
 * a background worker (bio.h), the jobs that keep fsync, rename and unlink
 * off the event loop.
 *
 * Jobs carry copies (the directory fd and path, which do not change until
 * spool_close() has drained the worker; their own dup'ed fds; numbers) and
 * write only their own result fields. Their done callbacks run on the loop
 * and are the only place the spool changes because of them.
 *
 * One `state` write is queued at a time (state_busy). Acks and
 * reservations asked for meanwhile only raise ack_want / reserve_want; the
 * done callback queues the next write with everything wanted by then, so a
 * burst of acks costs one write, and `state` never goes backwards (jobs run
 * in order, each with the maximum so far).
 */
#include "spool.h"
#include "spool_int.h"
#include "bio.h"
#include "bytes.h"
#include "log.h"

#include <openssl/rand.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the state file ---- */

/* Writes `state` in dirfd: tmp, fsync, rename, fsync dir. No logging and no
 * spool fields, so the worker can run it. */
static int state_write_at(int dirfd, const char *dir, const char *epoch, uint64_t acked,
			  uint64_t reserved, char *err, size_t errlen)
{
	char buf[128];
	int fd, n, rc = -1;
	size_t off = 0;

	/* a spool without an epoch keeps the old two-line form, so that it
	 * goes on being read the same way (and by an older probe) */
	n = snprintf(buf, sizeof buf, "acked %llu\nreserved %llu\n%s%s%s",
		     (ull)acked, (ull)reserved, epoch[0] ? "epoch " : "", epoch,
		     epoch[0] ? "\n" : "");
	if (n < 0 || (size_t)n >= sizeof buf) {
		bytes_set_err(err, errlen, "%s/%s: state does not fit", dir, STATE_TMP);
		return -1;
	}
	fd = openat(dirfd, STATE_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		bytes_set_err(err, errlen, "%s/%s: open: %s", dir, STATE_TMP, strerror(errno));
		return -1;
	}
	while (off < (size_t)n) {
		ssize_t w = write(fd, buf + off, (size_t)n - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			bytes_set_err(err, errlen, "%s/%s: write: %s", dir, STATE_TMP,
				strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		bytes_set_err(err, errlen, "%s/%s: fsync: %s", dir, STATE_TMP, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (close(fd) != 0 && rc == 0) {
		bytes_set_err(err, errlen, "%s/%s: close: %s", dir, STATE_TMP, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && renameat(dirfd, STATE_TMP, dirfd, STATE_FILE) != 0) {
		bytes_set_err(err, errlen, "%s/%s: rename to %s: %s", dir, STATE_TMP,
			STATE_FILE, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && fsync(dirfd) != 0) {
		bytes_set_err(err, errlen, "%s: fsync: %s", dir, strerror(errno));
		rc = -1;
	}
	/* a tmp left behind is harmless: the next write truncates it and open
	 * reads only `state`. errno stays the failure's, so that callers can
	 * tell a full disk (ENOSPC) from other errors. */
	if (rc != 0) {
		int eno = errno;

		if (unlinkat(dirfd, STATE_TMP, 0) != 0 && errno != ENOENT)
			log_warn("spool: %s/%s: unlink: %s", dir, STATE_TMP, strerror(errno));
		errno = eno;
	}
	return rc;
}

int spool_state_write(struct spool *s, uint64_t acked, uint64_t reserved,
		      char *err, size_t errlen)
{
	return state_write_at(s->dirfd, s->dir, s->epoch, acked, reserved, err, errlen);
}

/* Parses "NAME <digits>\n" at *p; advances *p. */
static int parse_state_line(const char **p, const char *key, uint64_t *v)
{
	size_t kl = strlen(key);
	const char *q = *p;
	char *end;
	unsigned long long x;

	if (strncmp(q, key, kl) != 0 || q[kl] != ' ')
		return -1;
	q += kl + 1;
	if (*q < '0' || *q > '9')
		return -1;
	errno = 0;
	x = strtoull(q, &end, 10);
	if (errno != 0 || *end != '\n')
		return -1;
	*v = x;
	*p = end + 1;
	return 0;
}

/* "epoch <32 hex digits>\n" at *p into epoch; advances *p. */
static int parse_epoch_line(const char **p, char *epoch)
{
	const char *q = *p;

	if (strncmp(q, "epoch ", 6) != 0)
		return -1;
	q += 6;
	for (int i = 0; i < SPOOL_EPOCH_HEX; i++)
		if (!((q[i] >= '0' && q[i] <= '9') || (q[i] >= 'a' && q[i] <= 'f')))
			return -1;
	if (q[SPOOL_EPOCH_HEX] != '\n')
		return -1;
	memcpy(epoch, q, SPOOL_EPOCH_HEX);
	epoch[SPOOL_EPOCH_HEX] = '\0';
	*p = q + SPOOL_EPOCH_HEX + 1;
	return 0;
}

/* 128 random bits as hex: the identity of a new spool. */
static int new_epoch(char *epoch, char *err, size_t errlen, const char *dir)
{
	unsigned char r[SPOOL_EPOCH_HEX / 2];
	static const char hex[] = "0123456789abcdef";

	if (RAND_bytes(r, sizeof r) != 1) {
		bytes_set_err(err, errlen, "%s: no random bytes for the spool epoch", dir);
		return -1;
	}
	for (size_t i = 0; i < sizeof r; i++) {
		epoch[2 * i] = hex[r[i] >> 4];
		epoch[2 * i + 1] = hex[r[i] & 15];
	}
	epoch[SPOOL_EPOCH_HEX] = '\0';
	return 0;
}

int spool_state_read(struct spool *s, bool *fresh, char *err, size_t errlen)
{
	char buf[160];
	const char *p = buf;
	size_t got = 0;
	int fd, rc = -1;

	*fresh = false;
	s->epoch[0] = '\0';
	fd = openat(s->dirfd, STATE_FILE, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) {
			*fresh = true;
			return new_epoch(s->epoch, err, errlen, s->dir);
		}
		bytes_set_err(err, errlen, "%s/%s: open: %s", s->dir, STATE_FILE, strerror(errno));
		return -1;
	}
	while (got < sizeof buf - 1) {
		ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			bytes_set_err(err, errlen, "%s/%s: read: %s", s->dir, STATE_FILE,
				strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	/* A damaged state could make us reuse seqs; refuse rather than guess. */
	if (strlen(buf) != got || parse_state_line(&p, "acked", &s->acked) != 0 ||
	    parse_state_line(&p, "reserved", &s->reserved) != 0 ||
	    (*p != '\0' && parse_epoch_line(&p, s->epoch) != 0) || *p != '\0') {
		bytes_set_err(err, errlen, "%s/%s: malformed (want \"acked N\\nreserved N\\n"
			"[epoch HEX32\\n]\")", s->dir, STATE_FILE);
		goto out;
	}
	rc = 0;
out:
	if (close(fd) != 0)
		log_warn("spool: %s/%s: close: %s", s->dir, STATE_FILE, strerror(errno));
	return rc;
}

/* ---- background jobs ---- */

struct state_job {
	struct spool *s;            /* read by done() only */
	int dirfd;
	const char *dir;
	const char *epoch;          /* the spool's: fixed while it is open */
	uint64_t acked, reserved;
	int rc, eno;
	char err[256];
};

static void state_work(void *arg)
{
	struct state_job *j = arg;

	j->rc = state_write_at(j->dirfd, j->dir, j->epoch, j->acked, j->reserved, j->err,
			       sizeof j->err);
	j->eno = j->rc != 0 ? errno : 0;
}

static void state_done(void *arg)
{
	struct state_job *j = arg;
	struct spool *s = j->s;
	char err[256];

	s->state_busy = false;
	if (j->rc != 0) {
		size_t freed = 0;

		s->state_errors++;
		log_error("spool: cannot persist acked %llu / reserved %llu: %s",
			  (ull)j->acked, (ull)j->reserved, j->err);
		/* A full disk: free the segments this ack covers and write again
		 * (the unlinks are queued ahead of that write). Otherwise not
		 * retried from here (a broken disk would spin): the next ack or
		 * reservation asks again. */
		if (j->eno == ENOSPC &&
		    spool_delete_acked_early(s, j->acked, &freed, err, sizeof err) != 0)
			log_error("spool: %s", err);
		free(j);
		if (freed > 0 && spool_state_kick(s) != 0)
			log_error("spool: %s: cannot queue a state write: out of memory", s->dir);
		return;
	}
	if (j->reserved > s->reserved)
		s->reserved = j->reserved;
	if (spool_ack_persisted(s, j->acked, err, sizeof err) != 0)
		log_error("spool: after ack %llu: %s", (ull)j->acked, err);
	free(j);
	if (spool_state_kick(s) != 0)
		log_error("spool: %s: cannot queue a state write: out of memory", s->dir);
}

int spool_state_kick(struct spool *s)
{
	if (s->state_busy || (s->ack_want <= s->acked && s->reserve_want <= s->reserved))
		return 0;
	struct state_job *j = calloc(1, sizeof *j);
	if (!j)
		return -1;
	j->s = s;
	j->dirfd = s->dirfd;
	j->dir = s->dir;
	j->epoch = s->epoch;
	j->acked = max_u64(s->ack_want, s->acked);
	j->reserved = max_u64(s->reserve_want, s->reserved);
	if (bio_submit(s->bio, state_work, state_done, j) != 0) {
		free(j);
		return -1;
	}
	s->state_busy = true;
	return 0;
}

/* fsync and/or close of one fd, or fsync of the directory. */
struct fd_job {
	struct spool *s;
	int fd;                     /* the job's own; closed by the work */
	int dirfd;                  /* the job's own dup, or -1 */
	bool sync, is_sync_job;
	char name[40];
	int fd_errno, dir_errno;    /* 0: fine */
};

static void fd_work(void *arg)
{
	struct fd_job *j = arg;

	if (j->fd >= 0) {
		if (j->sync && fsync(j->fd) != 0)
			j->fd_errno = errno;
		if (close(j->fd) != 0 && j->fd_errno == 0)
			j->fd_errno = errno;
	}
	if (j->dirfd >= 0) {
		if (fsync(j->dirfd) != 0)
			j->dir_errno = errno;
		if (close(j->dirfd) != 0 && j->dir_errno == 0)
			j->dir_errno = errno;
	}
}

static void fd_done(void *arg)
{
	struct fd_job *j = arg;
	struct spool *s = j->s;
	bool failed = j->fd_errno || j->dir_errno;

	if (j->is_sync_job)
		s->sync_busy = false;
	if (j->dir_errno)
		s->dir_dirty = true;    /* the next sync tries again */
	if (failed) {
		s->sync_errors++;
		if (!s->sync_failed || !j->is_sync_job)
			log_error("spool: fsync failed: %s/%s: %s", s->dir,
				  j->fd_errno ? j->name : ".",
				  strerror(j->fd_errno ? j->fd_errno : j->dir_errno));
	} else if (s->sync_failed && j->is_sync_job) {
		log_info("spool: fsync works again");
	}
	if (j->is_sync_job)
		s->sync_failed = failed;
	free(j);
}

static struct fd_job *fd_job_new(struct spool *s, int fd, const char *name)
{
	struct fd_job *j = calloc(1, sizeof *j);

	if (!j)
		return NULL;
	j->s = s;
	j->fd = fd;
	j->dirfd = -1;
	snprintf(j->name, sizeof j->name, "%s", name);
	return j;
}

int spool_fsync_close(struct spool *s, int fd, const char *name, char *err, size_t errlen)
{
	if (s->bio) {
		struct fd_job *j = fd_job_new(s, fd, name);

		if (j) {
			j->sync = true;
			if (bio_submit(s->bio, fd_work, fd_done, j) == 0)
				return 0;
			free(j);
		}
	}
	int rc = 0;
	if (fsync(fd) != 0) {
		bytes_set_err(err, errlen, "%s/%s: fsync: %s", s->dir, name, strerror(errno));
		rc = -1;
	}
	if (close(fd) != 0 && rc == 0) {
		bytes_set_err(err, errlen, "%s/%s: close: %s", s->dir, name, strerror(errno));
		rc = -1;
	}
	return rc;
}

struct unlink_job {
	struct spool *s;
	int dirfd;
	char name[40];
	int eno;
};

static void unlink_work(void *arg)
{
	struct unlink_job *j = arg;

	if (unlinkat(j->dirfd, j->name, 0) != 0 && errno != ENOENT)
		j->eno = errno;
}

static void unlink_done(void *arg)
{
	struct unlink_job *j = arg;

	/* left on disk: open finds it wholly acked and deletes it */
	if (j->eno)
		log_warn("spool: %s/%s: unlink: %s", j->s->dir, j->name, strerror(j->eno));
	free(j);
}

int spool_unlink(struct spool *s, const char *name, char *err, size_t errlen)
{
	if (s->bio) {
		struct unlink_job *j = calloc(1, sizeof *j);

		if (j) {
			j->s = s;
			j->dirfd = s->dirfd;
			snprintf(j->name, sizeof j->name, "%s", name);
			if (bio_submit(s->bio, unlink_work, unlink_done, j) == 0)
				return 0;
			free(j);
		}
	}
	if (unlinkat(s->dirfd, name, 0) != 0 && errno != ENOENT) {
		bytes_set_err(err, errlen, "%s/%s: unlink: %s", s->dir, name, strerror(errno));
		return -1;
	}
	return 0;
}

int spool_sync_start(struct spool *s, char *err, size_t errlen)
{
	if (!s->bio)
		return spool_sync_now(s, err, errlen);
	if (s->sync_busy || (s->active_fd < 0 && !s->dir_dirty))
		return 0;
	char name[SEG_NAME_LEN + 8] = ".";
	int fd = -1, dfd = -1;
	if (s->active_fd >= 0) {
		seg_filename(name, sizeof name, s->segs[s->nsegs - 1].name);
		fd = fcntl(s->active_fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			goto fail;
	}
	if (s->dir_dirty) {
		dfd = fcntl(s->dirfd, F_DUPFD_CLOEXEC, 0);
		if (dfd < 0)
			goto fail;
	}
	struct fd_job *j = fd_job_new(s, fd, name);
	if (!j) {
		errno = ENOMEM;
		goto fail;
	}
	j->dirfd = dfd;
	j->sync = true;
	j->is_sync_job = true;
	if (bio_submit(s->bio, fd_work, fd_done, j) != 0) {
		free(j);
		errno = ENOMEM;
		goto fail;
	}
	s->sync_busy = true;
	s->dir_dirty = false;
	return 0;
fail:
	bytes_set_err(err, errlen, "%s: cannot queue an fsync: %s", s->dir, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	return -1;
}
