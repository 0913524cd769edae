/* SPDX-License-Identifier: Apache-2.0 */
/* The launcher mode of the pacer binary; see launcher.h for the protocol. */
#include "agent/launcher.h"
#include "agent/spawner.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/fetch.h"
#include "base/error.h"
#include "base/xalloc.h"

extern char **environ;

/* ---- the spec as JSON ---- */

static void add_str_array(struct strbuf *out, const char *key, const char *const *v, size_t n)
{
	strbuf_addf(out, ",\"%s\":[", key);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_addch(out, ',');
		strbuf_add_json_str(out, v[i]);
	}
	strbuf_addch(out, ']');
}

void launch_spec_to_json(const struct launch_spec *spec, struct strbuf *out)
{
	strbuf_addstr(out, "{\"sandbox\":");
	strbuf_add_json_str(out, spec->sandbox);
	add_str_array(out, "cgroupProcs", spec->cgroup_procs, spec->ncgroup_procs);
	if (spec->user) {
		strbuf_addstr(out, ",\"user\":");
		strbuf_add_json_str(out, spec->user);
	}
	strbuf_addstr(out, ",\"fetch\":[");
	for (size_t i = 0; i < spec->nfetch; i++) {
		const struct launch_fetch *f = &spec->fetch[i];

		strbuf_addstr(out, i ? ",{\"uri\":" : "{\"uri\":");
		strbuf_add_json_str(out, f->uri);
		if (f->dest_path) {
			strbuf_addstr(out, ",\"destPath\":");
			strbuf_add_json_str(out, f->dest_path);
		}
		strbuf_addf(out, ",\"extract\":%s,\"executable\":%s}", f->extract ? "true" : "false",
			    f->executable ? "true" : "false");
	}
	strbuf_addch(out, ']');
	add_str_array(out, "env", spec->env, spec->nenv);
	if (spec->cmd) {
		strbuf_addstr(out, ",\"cmd\":");
		strbuf_add_json_str(out, spec->cmd);
	} else {
		add_str_array(out, "args", spec->args, spec->nargs);
	}
	strbuf_addch(out, '}');
}

/* Strings of a JSON array into a new NULL-terminated array; -1 if not all strings. */
static int get_str_array(json_t *root, const char *key, const char *const **out, size_t *n,
			 struct strbuf *why)
{
	json_t *a = json_object_get(root, key);
	const char **v;
	size_t i;
	json_t *e;

	*out = NULL;
	*n = 0;
	if (!a)
		return 0;
	if (!json_is_array(a)) {
		strbuf_addf(why, "invalid launch spec: '%s' is not an array", key);
		return -1;
	}
	v = xcalloc(json_array_size(a) + 1, sizeof(*v));
	json_array_foreach(a, i, e) {
		if (!json_is_string(e)) {
			strbuf_addf(why, "invalid launch spec: '%s[%zu]' is not a string", key, i);
			free(v);
			return -1;
		}
		v[i] = json_string_value(e);
	}
	*out = v;
	*n = json_array_size(a);
	return 0;
}

void launch_spec_release(struct launch_spec *spec)
{
	free((void *)spec->cgroup_procs);
	free((void *)spec->fetch);
	free((void *)spec->env);
	free((void *)spec->args);
	memset(spec, 0, sizeof(*spec));
}

int launch_spec_from_json(json_t *root, struct launch_spec *spec, struct strbuf *why)
{
	json_t *fetch;

	memset(spec, 0, sizeof(*spec));
	spec->sandbox = json_string_value(json_object_get(root, "sandbox"));
	spec->user = json_string_value(json_object_get(root, "user"));
	spec->cmd = json_string_value(json_object_get(root, "cmd"));
	if (!spec->sandbox) {
		strbuf_addstr(why, "invalid launch spec: no 'sandbox'");
		goto fail;
	}
	if (get_str_array(root, "cgroupProcs", &spec->cgroup_procs, &spec->ncgroup_procs, why) ||
	    get_str_array(root, "env", &spec->env, &spec->nenv, why) ||
	    get_str_array(root, "args", &spec->args, &spec->nargs, why))
		goto fail;
	if (!spec->cmd && !spec->nargs) {
		strbuf_addstr(why, "invalid launch spec: neither 'cmd' nor 'args'");
		goto fail;
	}
	fetch = json_object_get(root, "fetch");
	if (json_is_array(fetch) && json_array_size(fetch)) {
		struct launch_fetch *f = xcalloc(json_array_size(fetch), sizeof(*f));
		size_t i;
		json_t *e;

		spec->fetch = f;
		spec->nfetch = json_array_size(fetch);
		json_array_foreach(fetch, i, e) {
			f[i].uri = json_string_value(json_object_get(e, "uri"));
			f[i].dest_path = json_string_value(json_object_get(e, "destPath"));
			f[i].extract = json_is_true(json_object_get(e, "extract"));
			f[i].executable = json_is_true(json_object_get(e, "executable"));
			if (!f[i].uri) {
				strbuf_addf(why, "invalid launch spec: 'fetch[%zu]' has no 'uri'", i);
				goto fail;
			}
		}
	}
	return 0;
fail:
	launch_spec_release(spec);
	return PACER_EBADREQUEST;
}

/* ---- the launcher process ---- */

struct launcher {
	int err_fd;
	bool redirected; /* stderr is the task's stderr file */
	uid_t uid;
	gid_t gid;
};

__attribute__((noreturn, format(printf, 2, 3))) static void die(struct launcher *l,
								 const char *fmt, ...)
{
	char msg[LAUNCHER_MSG_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	if (l->err_fd >= 0 && write(l->err_fd, msg, (size_t)n) < 0) {
		/* nobody listens: the exit code still tells */
	}
	if (l->redirected)
		dprintf(2, "pacer launcher: %s\n", msg);
	_exit(LAUNCHER_EXIT_CODE);
}

static int read_spec(int fd, json_t **root, struct strbuf *why)
{
	json_error_t jerr;

	*root = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
	if (!*root) {
		strbuf_addf(why, "cannot parse launch spec: %s at line %d", jerr.text, jerr.line);
		return -1;
	}
	if (!json_is_object(*root)) {
		strbuf_addstr(why, "cannot parse launch spec: not an object");
		json_decref(*root);
		return -1;
	}
	return 0;
}

static void join_cgroups(struct launcher *l, const struct launch_spec *spec)
{
	for (size_t i = 0; i < spec->ncgroup_procs; i++) {
		int fd = open(spec->cgroup_procs[i], O_WRONLY | O_CLOEXEC);

		if (fd < 0 || write(fd, "0", 1) != 1)
			die(l, "cannot join cgroup '%s': %s", spec->cgroup_procs[i], strerror(errno));
		close(fd);
	}
}

static void redirect(struct launcher *l, const char *name, int target)
{
	int fd = open(name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	if (fd < 0)
		die(l, "cannot open '%s' in the sandbox: %s", name, strerror(errno));
	if (dup2(fd, target) < 0)
		die(l, "cannot redirect %s: %s", name, strerror(errno));
	close(fd);
}

static uid_t chown_uid;
static gid_t chown_gid;

static int chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	/* lchown: never follow a link the fetch brought in */
	return lchown(path, chown_uid, chown_gid) < 0 ? -1 : 0;
}

static void drop_privileges(struct launcher *l, const char *user, struct launch_spec *spec)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(user);
	if (!pw)
		die(l, "unknown user '%s'%s%s", user, errno ? ": " : "", errno ? strerror(errno) : "");
	/* nftw takes no context pointer; this process is single-threaded */
	chown_uid = pw->pw_uid;
	chown_gid = pw->pw_gid;
	if (nftw(".", chown_one, 16, FTW_PHYS) < 0)
		die(l, "cannot chown sandbox '%s' to '%s': %s", spec->sandbox, user,
		    strerror(errno));
	if (initgroups(pw->pw_name, pw->pw_gid) < 0)
		die(l, "cannot set supplementary groups of '%s': %s", user, strerror(errno));
	if (setgid(pw->pw_gid) < 0)
		die(l, "cannot set group id %ld: %s", (long)pw->pw_gid, strerror(errno));
	if (setuid(pw->pw_uid) < 0)
		die(l, "cannot set user id %ld of '%s': %s", (long)pw->pw_uid, user,
		    strerror(errno));
}

static char **build_env(const struct launch_spec *spec)
{
	char **env = xcalloc(spec->nenv + 2, sizeof(*env));
	bool has_path = false;
	size_t n = 0;

	for (size_t i = 0; i < spec->nenv; i++) {
		env[n++] = (char *)spec->env[i];
		if (!strncmp(spec->env[i], "PATH=", 5))
			has_path = true;
	}
	if (!has_path)
		env[n++] = (char *)"PATH=" LAUNCH_DEFAULT_PATH;
	env[n] = NULL;
	return env;
}

static int parse_fd(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	return (*end || v < 0 || v > 1 << 20) ? -1 : (int)v;
}

int launcher_main(int argc, char **argv)
{
	struct launcher l = {.err_fd = -1};
	int spec_fd = LAUNCHER_SPEC_FD, err_fd = LAUNCHER_ERROR_FD;
	struct strbuf why = STRBUF_INIT;
	struct launch_spec spec;
	json_t *root;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--spec-fd") && i + 1 < argc) {
			spec_fd = parse_fd(argv[++i]);
		} else if (!strcmp(argv[i], "--error-fd") && i + 1 < argc) {
			err_fd = parse_fd(argv[++i]);
		} else {
			fprintf(stderr, "usage: %s [--spec-fd N] [--error-fd N]\n", argv[0]);
			return 2;
		}
	}
	if (spec_fd < 0 || err_fd < 0) {
		fprintf(stderr, "%s: invalid file descriptor\n", argv[0]);
		return 2;
	}
	l.err_fd = err_fd;
	/* no fd of ours may reach the task, the error pipe least of all */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		fcntl(err_fd, F_SETFD, FD_CLOEXEC);

	if (read_spec(spec_fd, &root, &why))
		die(&l, "%s", why.buf);
	close(spec_fd);
	if (launch_spec_from_json(root, &spec, &why))
		die(&l, "%s", why.buf);

	join_cgroups(&l, &spec);
	if (getsid(0) != getpid() && setsid() < 0)
		die(&l, "cannot start a new session: %s", strerror(errno));
	if (chdir(spec.sandbox) < 0)
		die(&l, "cannot chdir into '%s': %s", spec.sandbox, strerror(errno));
	redirect(&l, "stdout", 1);
	redirect(&l, "stderr", 2);
	l.redirected = true;

	for (size_t i = 0; i < spec.nfetch; i++) {
		strbuf_reset(&why);
		if (fetch_uri(&spec.fetch[i], ".", &why))
			die(&l, "%s", why.buf);
	}
	if (spec.user)
		drop_privileges(&l, spec.user, &spec);

	environ = build_env(&spec);
	if (spec.cmd) {
		execl("/bin/sh", "sh", "-c", spec.cmd, (char *)NULL);
		die(&l, "cannot exec '/bin/sh': %s", strerror(errno));
	}
	execvp(spec.args[0], (char *const *)spec.args);
	die(&l, "cannot exec '%s': %s", spec.args[0], strerror(errno));
}

void launcher_locate(struct spawn_launcher *out, char *path_buf, size_t size)
{
	static const char *const small_argv[] = {"pacer-launch", NULL};
	static const char *const self_argv[] = {"pacer", "_launch", NULL};
	ssize_t n = readlink("/proc/self/exe", path_buf, size - 1);
	char *slash;

	if (n > 0) {
		path_buf[n] = '\0';
		slash = strrchr(path_buf, '/');
		if (slash && (size_t)(slash - path_buf) + sizeof("/pacer-launch") <= size) {
			strcpy(slash, "/pacer-launch");
			if (!access(path_buf, X_OK)) {
				out->path = path_buf;
				out->argv = small_argv;
				return;
			}
		}
	}
	out->path = "/proc/self/exe";
	out->argv = self_argv;
}
