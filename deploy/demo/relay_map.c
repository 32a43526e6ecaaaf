/* relay_map.c - see relay_map.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/util.h>

#include "log.h"
#include "relay_map.h"

int relay_map_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-' || *s == '+')
		return -1;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Parses MAP into a new list; 0, or -1 with the error logged (file:line). */
int relay_map_load(const char *path, struct route **out)
{
	FILE *f = fopen(path, "r");
	struct route *list = NULL;
	char line[512];
	unsigned lineno = 0, n = 0;
	int rc = -1;

	*out = NULL;
	if (!f) {
		log_error("msg=\"cannot open the map\" file=%s error=\"%s\"", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f)) {
		char name[RELAY_NAME_MAX], port_s[16], to_s[96], extra[8];
		unsigned long port;
		char *hash = strchr(line, '#');
		lineno++;
		if (hash)
			*hash = '\0';
		int k = sscanf(line, "%63s %15s %95s %7s", name, port_s, to_s, extra);
		if (k <= 0)
			continue;
		if (k != 3) {
			log_error("msg=\"map line wants: NAME LISTEN_PORT TARGET_HOST:PORT\" file=%s line=%u",
				  path, lineno);
			goto out;
		}
		if (relay_map_parse_uint(port_s, 65535, &port) < 0 || port == 0) {
			log_error("msg=\"bad listen port\" file=%s line=%u port=\"%s\"", path, lineno, port_s);
			goto out;
		}
		struct route *rt = calloc(1, sizeof *rt);
		if (!rt) {
			log_error("msg=\"out of memory\"");
			goto out;
		}
		rt->next = list;
		list = rt;
		snprintf(rt->name, sizeof rt->name, "%s", name);
		snprintf(rt->to_text, sizeof rt->to_text, "%s", to_s);
		rt->port = (unsigned)port;
		rt->to_len = (int)sizeof rt->to;
		if (evutil_parse_sockaddr_port(to_s, (struct sockaddr *)&rt->to, &rt->to_len) < 0 ||
		    !strchr(to_s, ':')) {
			log_error("msg=\"bad target, want a numeric HOST:PORT\" file=%s line=%u target=\"%s\"",
				  path, lineno, to_s);
			goto out;
		}
		for (struct route *o = list->next; o; o = o->next)
			if (strcmp(o->name, rt->name) == 0 || o->port == rt->port) {
				log_error("msg=\"duplicate route name or port\" file=%s line=%u name=%s",
					  path, lineno, rt->name);
				goto out;
			}
		if (++n > RELAY_MAX_ROUTES) {
			log_error("msg=\"too many routes\" file=%s max=%d", path, RELAY_MAX_ROUTES);
			goto out;
		}
	}
	if (ferror(f)) {
		log_error("msg=\"read error\" file=%s", path);
		goto out;
	}
	*out = list;
	list = NULL;
	rc = 0;
out:
	fclose(f);
	while (list) {
		struct route *nx = list->next;
		free(list);
		list = nx;
	}
	return rc;
}

void relay_map_free(struct route *l)
{
	while (l) {
		struct route *nx = l->next;
		if (l->lis)
			evconnlistener_free(l->lis);
		if (l->check)
			bufferevent_free(l->check);
		if (l->recheck)
			event_free(l->recheck);
		free(l);
		l = nx;
	}
}
