/*
 * store_firing.h - the firing alerts (store_firing.c), in the Alert shape
 * of collector/openapi.json ({"items": [...], "next_cursor": null}), page
 * alerts first, then the most recently fired. What `tlswatch-collector
 * status` prints under the grid.
 */
#ifndef TW_STORE_FIRING_H
#define TW_STORE_FIRING_H

#include "store.h"

/* service: only that service's alerts; NULL: all. */
void store_firing(struct store *s, const char *service, store_cb cb, void *arg);

#endif
