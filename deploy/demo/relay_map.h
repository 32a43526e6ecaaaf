/*
 * relay_map.h - the routes of tlswatch-demo-relay (relay.c) and the map file
 * they are read from: one route a line, "NAME LISTEN_PORT TARGET_HOST:PORT",
 * '#' starting a comment; errors are logged with file and line.
 *
 * Ownership: relay_map_load() hands the caller a list of malloc'd routes;
 * relay_map_free() frees a list, closing the listeners it holds and ending
 * any target check under way.
 */
#ifndef TW_RELAY_MAP_H
#define TW_RELAY_MAP_H

#include <stdbool.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#define RELAY_NAME_MAX   64
#define RELAY_MAX_ROUTES 1024

struct relay;

/* One listening port and where its connections go. */
struct route {
	char name[RELAY_NAME_MAX];
	unsigned port;
	struct sockaddr_storage to;
	int to_len;
	char to_text[96];
	struct evconnlistener *lis; /* owned; NULL while the target refuses */
	struct event *recheck;      /* owned; while closed: when to try the target again */
	struct bufferevent *check;  /* owned; the try under way, if any */
	struct relay *relay;
	bool seen;                  /* reload bookkeeping */
	struct route *next;
};

/* Parses the map at path into a new list (*out; NULL for an empty map).
 * 0, or -1 with the error logged and nothing allocated. */
int relay_map_load(const char *path, struct route **out);
/* Frees the list, closing each route's listener and target check. */
void relay_map_free(struct route *list);
/* A decimal number 0..max without sign or trailing text; 0 or -1. */
int relay_map_parse_uint(const char *s, unsigned long max, unsigned long *out);

#endif
