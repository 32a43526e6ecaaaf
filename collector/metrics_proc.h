/*
 * metrics_proc.h - tlswatch_build_info and the process metrics under the
 * names the Prometheus client libraries use (process_cpu_seconds_total,
 * process_resident_memory_bytes, process_virtual_memory_bytes,
 * process_open_fds, process_max_fds, process_start_time_seconds), read from
 * /proc/self at scrape time (cheap reads of kernel memory, no disk).
 *
 * Ownership: version is borrowed for the call.
 */
#ifndef TW_COL_METRICS_PROC_H
#define TW_COL_METRICS_PROC_H

#include <event2/buffer.h>

void metrics_proc_render(struct evbuffer *b, const char *version);

#endif
