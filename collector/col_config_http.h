/*
 * col_config_http.h - the API's keys of collector.yaml's `http:` mapping
 * (col_config_http.c), parsed by col_config.c into cfg->http_api:
 *
 *   http:
 *     token_file: FILE        write token (else env TLSWATCH_API_TOKEN)
 *     read_token_file: FILE   read token (else env TLSWATCH_API_READ_TOKEN)
 *     tls: {cert_file: FILE, key_file: FILE}   HTTPS, TLS 1.2+
 *
 * Ownership: struct col_config_http owns its strings
 * (col_config_http_free).
 */
#ifndef TW_COL_CONFIG_HTTP_H
#define TW_COL_CONFIG_HTTP_H

#include <stddef.h>
#include "yamlcfg.h"

/* 1-based line and column of a value, for file errors. */
struct col_config_http_pos {
	unsigned line, column;
};

struct col_config_http {
	char *token_file;          /* NULL: env or no write token */
	char *read_token_file;     /* NULL: env or open reads */
	char *tls_cert_file;       /* both NULL: plain HTTP */
	char *tls_key_file;
	struct col_config_http_pos token_pos, read_token_pos, tls_cert_pos, tls_key_pos;
};

/* The keys above of the mapping m ("http"). 0 or -1 (error in yc). */
int col_config_http_parse(struct yc *yc, yaml_node_t *m, struct col_config_http *h);
/* Files readable; token files and the key not accessible by group/others.
 * Errors are "PATH:LINE:COLUMN: http.KEY: why" (path: the config file). */
int col_config_http_check_files(const struct col_config_http *h, const char *path, char *err,
				size_t errlen);
void col_config_http_free(struct col_config_http *h);

#endif
