/*
 * col_config_http.c - the API's keys of the `http:` mapping (see
 * col_config_http.h).
 */
#include "col_config_http.h"
#include "tlsutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const HTTP_TLS_KEYS[] = { "cert_file", "key_file", NULL };

static struct col_config_http_pos pos_of(const yaml_node_t *n)
{
	struct col_config_http_pos p = { (unsigned)n->start_mark.line + 1,
				    (unsigned)n->start_mark.column + 1 };
	return p;
}

static int opt_file(struct yc *yc, yaml_node_t *m, const char *key, const char *ctx, char **out,
		    struct col_config_http_pos *pos)
{
	yaml_node_t *v = yamlcfg_get(yc, m, key, NULL);
	if (!v)
		return 0;
	if (yamlcfg_copy_string(yc, v, ctx, out) < 0)
		return -1;
	*pos = pos_of(v);
	return 0;
}

int col_config_http_parse(struct yc *yc, yaml_node_t *m, struct col_config_http *h)
{
	if (opt_file(yc, m, "token_file", "http.token_file", &h->token_file, &h->token_pos) < 0 ||
	    opt_file(yc, m, "read_token_file", "http.read_token_file", &h->read_token_file,
		     &h->read_token_pos) < 0)
		return -1;
	yaml_node_t *t = yamlcfg_get(yc, m, "tls", NULL);
	if (!t)
		return 0;
	/* check_keys also says "expected a mapping" and marks it walked */
	if (yamlcfg_check_keys(yc, t, "http.tls", HTTP_TLS_KEYS) < 0)
		return -1;
	if (!yamlcfg_need(yc, t, "cert_file", "http.tls") || !yamlcfg_need(yc, t, "key_file", "http.tls"))
		return -1;
	if (opt_file(yc, t, "cert_file", "http.tls.cert_file", &h->tls_cert_file,
		     &h->tls_cert_pos) < 0 ||
	    opt_file(yc, t, "key_file", "http.tls.key_file", &h->tls_key_file,
		     &h->tls_key_pos) < 0)
		return -1;
	return 0;
}

static int file_err(const char *path, struct col_config_http_pos pos, const char *ctx,
		    char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "%s:%u:%u: %s: %s", path, pos.line, pos.column, ctx, why);
	return -1;
}

/* secret: refused when group or others may access it */
static int check(const char *path, const char *file, struct col_config_http_pos pos,
		 const char *ctx, bool secret, char *err, size_t errlen)
{
	char why[512];
	if (!file)
		return 0;
	if (access(file, R_OK) != 0) {
		snprintf(why, sizeof why, "cannot read %s: %s", file, strerror(errno));
		return file_err(path, pos, ctx, err, errlen, why);
	}
	if (secret && tlsutil_check_key_file(file, why, sizeof why) != 0)
		return file_err(path, pos, ctx, err, errlen, why);
	return 0;
}

int col_config_http_check_files(const struct col_config_http *h, const char *path, char *err,
				size_t errlen)
{
	if (check(path, h->token_file, h->token_pos, "http.token_file", true, err, errlen) < 0 ||
	    check(path, h->read_token_file, h->read_token_pos, "http.read_token_file", true, err,
		  errlen) < 0 ||
	    check(path, h->tls_cert_file, h->tls_cert_pos, "http.tls.cert_file", false, err,
		  errlen) < 0 ||
	    check(path, h->tls_key_file, h->tls_key_pos, "http.tls.key_file", true, err, errlen) < 0)
		return -1;
	return 0;
}

void col_config_http_free(struct col_config_http *h)
{
	free(h->token_file);
	free(h->read_token_file);
	free(h->tls_cert_file);
	free(h->tls_key_file);
}
