/*
 * ingest_batch.h - the probe server's batch queue.
 *
 * Test seam: every allocation the queue makes for a submission goes through
 * ingest_batch_malloc (malloc unless a test injects failures).
 */
#ifndef TW_INGEST_BATCH_H
#define TW_INGEST_BATCH_H

#include <stddef.h>

extern void *(*ingest_batch_malloc)(size_t n);

#endif
