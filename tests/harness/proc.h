/*
 * proc.h - daemons started by integration tests: spawn with output to a log
 * file, signal, wait with a deadline, wait for a TCP port, read logs, and
 * small PostgreSQL queries. No Criterion here (linked into every test).
 *
 * Ownership: strings returned by tw_read_file() are malloc()ed (caller
 * frees). A pid returned by tw_spawn() must be reaped with tw_stop() or
 * tw_wait_exit().
 */
#ifndef TW_PROC_H
#define TW_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <libpq-fe.h>

/* Starts argv[0] (a path) with stdin /dev/null and stdout+stderr appended
 * to logpath. Returns the pid, or -1. */
pid_t tw_spawn(char *const argv[], const char *logpath);
/* Waits up to timeout_ms for pid to exit; returns its wait status, or -1
 * when it is still running (or not our child). */
int tw_wait_exit(pid_t pid, int timeout_ms);
/* Sends sig, waits up to timeout_ms, then SIGKILLs. Returns the status. */
int tw_stop(pid_t pid, int sig, int timeout_ms);
/* True once 127.0.0.1:port accepts a TCP connection within timeout_ms. */
bool tw_wait_port(int port, int timeout_ms);
/* The whole file (NUL-terminated), NULL if unreadable. */
char *tw_read_file(const char *path);
/* Counts occurrences of needle in the file. */
int tw_file_count(const char *path, const char *needle);
/* Writes text to path (mode 0644); 0 or -1. */
int tw_write_file(const char *path, const char *text);
/* printf into a static ring of 16 buffers of 4 KiB: for building paths and
 * command lines, not for keeping. */
const char *tw_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tw_sleep_ms(int ms);
double tw_now_ms(void);

/* PostgreSQL: connection from $TW_PG_CONNINFO with dbname overridden
 * (NULL: as given); NULL on failure (message on stderr). */
PGconn *tw_pg(const char *dbname);
/* First column of the first row as a number; -1 on error or no row (the
 * error is printed). */
long long tw_pg_ll(PGconn *c, const char *sql);
/* Runs a statement; 0 or -1 (error printed). */
int tw_pg_exec(PGconn *c, const char *sql);

#endif
