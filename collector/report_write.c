/*
 * report_write.c - the formats a report is asked in, and writing them into
 * a directory: STEM.EXT through STEM.EXT.tmp.PID, fsync'ed and renamed into
 * place, so a reader (a web server, a sync job) sees the old file or the new
 * one, never half of one. The stem is stable per period (report_file_stem),
 * so a rerun replaces the file.
 */
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
	const char *name;
	enum report_format f;
} formats[] = {
	{ "html", REPORT_FMT_HTML },
	{ "pdf", REPORT_FMT_PDF },
	{ "md", REPORT_FMT_MD },
	{ "json", REPORT_FMT_JSON },
};

unsigned report_parse_formats(const char *s, char *err, size_t errlen)
{
	unsigned mask = 0;
	const char *p = s;
	while (*p) {
		size_t n = strcspn(p, ",");
		bool found = false;
		for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
			if (strlen(formats[i].name) == n && !strncmp(p, formats[i].name, n)) {
				mask |= formats[i].f;
				found = true;
			}
		}
		if (!found) {
			snprintf(err, errlen, "unknown format \"%.*s\" (expected a comma-separated list "
				 "of html, pdf, md, json)", (int)(n > 40 ? 40 : n), p);
			return 0;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	if (!mask)
		snprintf(err, errlen, "no format given (expected a comma-separated list of html, "
			 "pdf, md, json)");
	return mask;
}

const char *report_format_ext(enum report_format f)
{
	for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
		if (formats[i].f == f)
			return formats[i].name;
	return "bin";
}

static int write_atomic(const char *path, const char *data, size_t len, char *err, size_t errlen)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot create: %s", tmp, strerror(errno));
		return -1;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: write: %s", tmp, strerror(errno));
			close(fd);
			unlink(tmp);
			return -1;
		}
		off += (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int report_write(const struct report *r, unsigned mask, const char *dir,
		 char paths[][4096], size_t *npaths, char *err, size_t errlen)
{
	char stem[512];
	report_file_stem(r, stem, sizeof stem);
	*npaths = 0;
	for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
		if (!(mask & formats[i].f))
			continue;
		struct strbuf b = { 0 };
		int rc;
		switch (formats[i].f) {
		case REPORT_FMT_HTML:
			rc = report_render_html(r, &b);
			break;
		case REPORT_FMT_PDF:
			rc = report_render_pdf(r, &b);
			break;
		case REPORT_FMT_MD:
			rc = report_render_md(r, &b);
			break;
		default:
			rc = report_render_json(r, false, &b);
			break;
		}
		if (rc < 0 || b.oom || !b.p) {
			snprintf(err, errlen, "cannot render the %s report (out of memory or cairo "
				 "failed)", formats[i].name);
			strbuf_free(&b);
			return -1;
		}
		char *path = paths[*npaths];
		if ((size_t)snprintf(path, 4096, "%s/%s.%s", dir, stem, formats[i].name) >= 4096) {
			snprintf(err, errlen, "%s: path too long", dir);
			strbuf_free(&b);
			return -1;
		}
		rc = write_atomic(path, b.p, b.len, err, errlen);
		strbuf_free(&b);
		if (rc < 0)
			return -1;
		(*npaths)++;
	}
	return 0;
}
