/* trust_store.c - see trust_store.h. */
#include "trust_store.h"
#include "tlsutil.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/err.h>

struct trust_store {
	char *path;              /* NULL: the system store */
	dev_t dev;               /* identity of the file when it was parsed */
	ino_t ino;
	off_t size;
	struct timespec mtime;
	X509_STORE *store;
	unsigned users;          /* handles given out and not yet put back */
	struct trust_store *next;
};

static struct trust_store *stores;
static unsigned long loads;

/* The file a store is read from: ca_file, or OpenSSL's default file
 * (which $SSL_CERT_FILE overrides, as OpenSSL itself does). */
static const char *source_file(const char *ca_file)
{
	if (ca_file)
		return ca_file;
	const char *env = getenv(X509_get_default_cert_file_env());
	return env && *env ? env : X509_get_default_cert_file();
}

static bool same_file(const struct trust_store *ts, const struct stat *st)
{
	return ts->dev == st->st_dev && ts->ino == st->st_ino && ts->size == st->st_size &&
	       ts->mtime.tv_sec == st->st_mtim.tv_sec && ts->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static bool same_path(const struct trust_store *ts, const char *ca_file)
{
	return ca_file ? ts->path && strcmp(ts->path, ca_file) == 0 : ts->path == NULL;
}

struct trust_store *trust_store_get(const char *ca_file, char *err, size_t errlen)
{
	struct stat st;
	char why[512];
	struct trust_store *ts;

	memset(&st, 0, sizeof st);
	if (stat(source_file(ca_file), &st) != 0) {
		if (ca_file) {
			snprintf(err, errlen, "cannot load CA file %s: %s", ca_file, strerror(errno));
			return NULL;
		}
		/* no default file: the system store may be a directory only */
		memset(&st, 0, sizeof st);
	}
	for (ts = stores; ts; ts = ts->next) {
		if (same_path(ts, ca_file) && same_file(ts, &st)) {
			ts->users++;
			return ts;
		}
	}

	ts = calloc(1, sizeof *ts);
	if (!ts || (ca_file && !(ts->path = strdup(ca_file))) || !(ts->store = X509_STORE_new())) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (ca_file) {
		if (X509_STORE_load_file(ts->store, ca_file) != 1) {
			snprintf(err, errlen, "cannot load CA file %s: %s", ca_file,
				 tlsutil_err_drain(why, sizeof why));
			goto fail;
		}
	} else if (X509_STORE_set_default_paths(ts->store) != 1) {
		snprintf(err, errlen, "cannot load the system trust store: %s",
			 tlsutil_err_drain(why, sizeof why));
		goto fail;
	}
	/* the default paths leave "file not found" entries when one is absent */
	ERR_clear_error();
	loads++;
	ts->dev = st.st_dev;
	ts->ino = st.st_ino;
	ts->size = st.st_size;
	ts->mtime = st.st_mtim;
	ts->users = 1;
	ts->next = stores;
	stores = ts;
	return ts;
fail:
	if (ts) {
		X509_STORE_free(ts->store);
		free(ts->path);
		free(ts);
	}
	return NULL;
}

X509_STORE *trust_store_x509(const struct trust_store *ts)
{
	return ts->store;
}

void trust_store_put(struct trust_store *ts)
{
	if (!ts || --ts->users > 0)
		return;
	for (struct trust_store **pp = &stores; *pp; pp = &(*pp)->next) {
		if (*pp == ts) {
			*pp = ts->next;
			break;
		}
	}
	X509_STORE_free(ts->store);
	free(ts->path);
	free(ts);
}

unsigned long trust_store_loads(void)
{
	return loads;
}

size_t trust_store_count(void)
{
	size_t n = 0;
	for (const struct trust_store *ts = stores; ts; ts = ts->next)
		n++;
	return n;
}
