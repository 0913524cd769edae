/* SPDX-License-Identifier: Apache-2.0 */
/* The Mesos-style fetcher of the launcher; see fetch.h. */
#include "agent/fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/error.h"
#include "base/xalloc.h"

extern char **environ;

static bool ends_with(const char *s, const char *suffix)
{
	size_t sl = strlen(s), xl = strlen(suffix);

	return sl >= xl && !strcmp(s + sl - xl, suffix);
}

/* Is prog an executable file in PATH? */
static bool in_path(const char *prog)
{
	const char *path = getenv("PATH");
	struct strbuf sb = STRBUF_INIT;
	bool found = false;

	if (!path)
		path = "/usr/bin:/bin";
	for (const char *p = path; !found;) {
		const char *e = strchr(p, ':');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		strbuf_reset(&sb);
		strbuf_add(&sb, p, len);
		strbuf_addf(&sb, "/%s", prog);
		found = !access(sb.buf, X_OK);
		if (!e)
			break;
		p = e + 1;
	}
	strbuf_release(&sb);
	return found;
}

/* Runs argv (argv[0] searched in PATH) and waits. Returns its exit status, or -errno. */
static int run(char *const argv[], struct strbuf *why, const char *uri)
{
	pid_t pid;
	int status, err;

	if (!in_path(argv[0])) {
		strbuf_addf(why, "cannot fetch '%s': %s is not installed", uri, argv[0]);
		return -ENOENT;
	}
	err = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
	if (err) {
		strbuf_addf(why, "cannot fetch '%s': cannot run %s: %s", uri, argv[0],
			    strerror(err));
		return -err;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			err = -errno;
			strbuf_addf(why, "cannot fetch '%s': cannot wait for %s: %s", uri, argv[0],
				    strerror(errno));
			return err;
		}
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		strbuf_addf(why, "cannot fetch '%s': %s exited with status %d", uri, argv[0],
			    WEXITSTATUS(status));
	else
		strbuf_addf(why, "cannot fetch '%s': %s was killed by signal %d", uri, argv[0],
			    WTERMSIG(status));
	return PACER_EINTERNAL;
}

static int copy_file(const char *src, const char *dst, const char *uri, struct strbuf *why)
{
	int in, out, err = 0;
	char buf[65536];

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		err = -errno;
		strbuf_addf(why, "cannot fetch '%s': cannot open '%s': %s", uri, src,
			    strerror(errno));
		return err;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		err = -errno;
		strbuf_addf(why, "cannot fetch '%s': cannot create '%s': %s", uri, dst,
			    strerror(errno));
		close(in);
		return err;
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf)), off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0)
				err = -errno;
			break;
		}
		while (off < n) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				err = -errno;
				break;
			}
			off += w;
		}
		if (err)
			break;
	}
	if (close(out) < 0 && !err)
		err = -errno;
	close(in);
	if (err)
		strbuf_addf(why, "cannot fetch '%s': cannot copy to '%s': %s", uri, dst,
			    strerror(-err));
	return err;
}

/* The last path component of a URI, without query or fragment. */
static char *uri_basename(const char *uri)
{
	size_t len = strcspn(uri, "?#");
	const char *end = uri + len, *start = end;

	while (start > uri && start[-1] != '/')
		start--;
	return xstrndup(start, (size_t)(end - start));
}

static bool bad_dest(const char *dest)
{
	if (!*dest || dest[0] == '/')
		return true;
	for (const char *p = dest; p; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		if (!strncmp(p, "..", 2) && (p[2] == '/' || !p[2]))
			return true;
	}
	return false;
}

static int extract(const char *file, const char *dir, const char *uri, struct strbuf *why)
{
	if (ends_with(file, ".zip")) {
		char *argv[] = {"unzip", "-q", "-o", (char *)file, "-d", (char *)dir, NULL};

		return run(argv, why, uri);
	}
	if (ends_with(file, ".tar") || ends_with(file, ".tar.gz") || ends_with(file, ".tgz") ||
	    ends_with(file, ".tar.bz2") || ends_with(file, ".tbz2") ||
	    ends_with(file, ".tar.xz") || ends_with(file, ".txz")) {
		/* GNU tar recognizes the compression by itself when reading */
		char *argv[] = {"tar", "-x", "-f", (char *)file, "-C", (char *)dir, NULL};

		return run(argv, why, uri);
	}
	return 0; /* not an archive: keep the file as it is */
}

int fetch_uri(const struct launch_fetch *f, const char *dir, struct strbuf *why)
{
	const char *uri = f->uri;
	char *name = f->dest_path ? xstrdup(f->dest_path) : uri_basename(uri);
	struct strbuf dst = STRBUF_INIT;
	int err;

	if (bad_dest(name)) {
		strbuf_addf(why, "cannot fetch '%s': invalid destination '%s'", uri, name);
		err = PACER_EBADREQUEST;
		goto out;
	}
	strbuf_addf(&dst, "%s/%s", dir, name);
	if (!strncmp(uri, "file://", 7)) {
		err = copy_file(uri + 7, dst.buf, uri, why);
	} else if (!strncmp(uri, "http://", 7) || !strncmp(uri, "https://", 8) ||
		   !strncmp(uri, "ftp://", 6)) {
		char *argv[] = {"curl", "-fsSL", "--retry", "3", "-o", dst.buf, (char *)uri, NULL};

		err = run(argv, why, uri);
	} else if (strstr(uri, "://")) {
		strbuf_addf(why, "cannot fetch '%s': unsupported URI scheme", uri);
		err = PACER_EBADREQUEST;
	} else {
		err = copy_file(uri, dst.buf, uri, why);
	}
	if (err)
		goto out;
	if (f->executable) {
		if (chmod(dst.buf, 0755) < 0) {
			err = -errno;
			strbuf_addf(why, "cannot fetch '%s': cannot chmod '%s': %s", uri, dst.buf,
				    strerror(errno));
		}
	} else if (f->extract) {
		err = extract(dst.buf, dir, uri, why);
	}
out:
	strbuf_release(&dst);
	free(name);
	return err;
}
