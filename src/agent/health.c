/* SPDX-License-Identifier: Apache-2.0 */
/* Health checks of a task on the agent's loop; see health.h. */
#include "agent/health.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/launcher.h"
#include "agent/spawner.h"
#include "base/error.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"

/* Enough for any status line; a longer first line is not HTTP. */
#define STATUS_LINE_MAX 512
/* Used when a check gives 0 (Marathon's minimum is not enforced by the API). */
#define MIN_INTERVAL_MS 1000
#define DEFAULT_TIMEOUT_MS 20000

enum outcome { OUT_OK, OUT_FAIL, OUT_IGNORE };

struct check;

/*
 * One check in flight. It outlives its check when abandoned (ck NULL): its
 * handle is closed (or its process reaped) first, then it frees itself.
 */
struct probe {
	struct check *ck;
	enum health_protocol protocol;
	/* HTTP, TCP */
	uv_tcp_t tcp;
	uv_connect_t conn;
	uv_write_t wr;
	struct strbuf req;
	char buf[STATUS_LINE_MAX];
	size_t len;
	bool ignore_1xx;
	/* COMMAND */
	uv_poll_t poll;
	pid_t pid;
	int pidfd;
};

struct check {
	struct health *h;
	struct health_check_config cfg; /* strings owned */
	struct health_result res;
	uv_timer_t timer;
	struct probe *probe;  /* in flight, or NULL */
	uint64_t started_at;  /* uv_now when the probe in flight started */
};

struct health {
	uv_loop_t *loop;
	char *sandbox;
	char **envp; /* NULL-terminated, PATH added when absent */
	struct check *checks;
	size_t n;
	health_changed_fn *cb;
	void *data;
	uint64_t running_since; /* uv_now at health_start */
	bool started, freed;
	size_t open_timers;
};

/* ---- parsing ---- */

static uint64_t secs_ms(const json_t *o, const char *key, int64_t def)
{
	const json_t *v = json_object_get(o, key);
	int64_t s = json_is_integer(v) ? json_integer_value(v) : def;

	if (s < 0)
		s = 0;
	if (s > INT32_MAX)
		s = INT32_MAX;
	return (uint64_t)s * 1000u;
}

int health_checks_parse(const json_t *arr, const struct env_port *ports, size_t nports,
			struct health_check_config **out, size_t *n, struct strbuf *why)
{
	struct health_check_config *v;
	const json_t *hc;
	size_t i;

	*out = NULL;
	*n = 0;
	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr)) {
		strbuf_addstr(why, "healthChecks must be an array");
		return PACER_EBADREQUEST;
	}
	if (json_array_size(arr) > HEALTH_MAX_CHECKS) {
		strbuf_addf(why, "too many healthChecks (at most %d)", HEALTH_MAX_CHECKS);
		return PACER_EBADREQUEST;
	}
	if (!json_array_size(arr))
		return 0;
	v = xcalloc(json_array_size(arr), sizeof(*v));
	json_array_foreach(arr, i, hc) {
		struct health_check_config *c = &v[i];
		const char *proto = json_string_value(json_object_get(hc, "protocol"));
		const json_t *pi = json_object_get(hc, "portIndex"), *port = json_object_get(hc, "port");
		const json_t *mf = json_object_get(hc, "maxConsecutiveFailures");

		if (!json_is_object(hc))
			goto bad;
		if (!proto)
			proto = "HTTP";
		if (!strncmp(proto, "MESOS_", 6))
			proto += 6;
		if (!strcmp(proto, "HTTP"))
			c->protocol = HEALTH_HTTP;
		else if (!strcmp(proto, "HTTPS"))
			c->protocol = HEALTH_HTTPS;
		else if (!strcmp(proto, "TCP"))
			c->protocol = HEALTH_TCP;
		else if (!strcmp(proto, "COMMAND"))
			c->protocol = HEALTH_COMMAND;
		else
			goto bad;
		c->path = json_string_value(json_object_get(hc, "path"));
		if (!c->path || c->path[0] != '/')
			c->path = "/";
		c->ignore_1xx = json_is_true(json_object_get(hc, "ignoreHttp1xx"));
		c->command = json_string_value(json_object_get(json_object_get(hc, "command"),
							       "value"));
		if (c->protocol == HEALTH_COMMAND && !c->command)
			goto bad;
		if (json_is_integer(port) && json_integer_value(port) > 0 &&
		    json_integer_value(port) <= 65535)
			c->port = (int)json_integer_value(port);
		else if (json_is_integer(pi) && json_integer_value(pi) >= 0 &&
			 (size_t)json_integer_value(pi) < nports)
			c->port = ports[json_integer_value(pi)].host_port;
		else if (!pi && !port && nports)
			c->port = ports[0].host_port;
		c->grace_ms = secs_ms(hc, "gracePeriodSeconds", 300);
		c->interval_ms = secs_ms(hc, "intervalSeconds", 60);
		c->timeout_ms = secs_ms(hc, "timeoutSeconds", 20);
		c->delay_ms = secs_ms(hc, "delaySeconds", 15);
		c->max_failures = json_is_integer(mf) && json_integer_value(mf) >= 0 &&
						  json_integer_value(mf) <= INT32_MAX
					  ? (unsigned)json_integer_value(mf)
					  : 3;
		(*n)++;
	}
	*out = v;
	return 0;
bad:
	strbuf_addf(why, "healthChecks[%zu] is not a health check", i);
	free(v);
	*n = 0;
	return PACER_EBADREQUEST;
}

/* ---- results ---- */

static void on_timer(uv_timer_t *t);

/* A probe ended (or could not start): record it, schedule the next, tell on a transition. */
static void check_done(struct check *ck, enum outcome out, const char *cause)
{
	struct health *h = ck->h;
	struct health_result *r = &ck->res;
	uint64_t now = uv_now(h->loop), interval, took = now - ck->started_at;
	int64_t wall = time_now_ms();
	bool changed = false;

	ck->probe = NULL;
	interval = ck->cfg.interval_ms ? ck->cfg.interval_ms : MIN_INTERVAL_MS;
	uv_timer_start(&ck->timer, on_timer, took >= interval ? 0 : interval - took, 0);
	if (out == OUT_OK) {
		changed = !r->known || !r->alive;
		r->known = r->alive = true;
		r->consecutive_failures = 0;
		if (!r->first_success)
			r->first_success = wall;
		r->last_success = wall;
	} else if (out == OUT_FAIL) {
		if (!r->first_success && now - h->running_since < ck->cfg.grace_ms) {
			log_debug("health check failed within the grace period: %s", cause);
			return;
		}
		r->consecutive_failures++;
		changed = !r->known || r->alive ||
			  (ck->cfg.max_failures && r->consecutive_failures == ck->cfg.max_failures);
		r->known = true;
		r->alive = false;
		r->last_failure = wall;
		free(r->last_failure_cause);
		r->last_failure_cause = xstrdup(cause);
	}
	/* last: the callback may free h */
	if (changed && h->cb)
		h->cb(h, h->data);
}

/* ---- probes ---- */

static void probe_free(struct probe *p)
{
	strbuf_release(&p->req);
	free(p);
}

static void on_tcp_closed(uv_handle_t *hd)
{
	probe_free(hd->data);
}

/* Ends an HTTP or TCP probe: reports (unless abandoned), then closes its handle. */
static void net_finish(struct probe *p, enum outcome out, const char *cause)
{
	struct check *ck = p->ck;

	p->ck = NULL;
	if (!uv_is_closing((uv_handle_t *)&p->tcp))
		uv_close((uv_handle_t *)&p->tcp, on_tcp_closed);
	if (ck)
		check_done(ck, out, cause);
}

static void on_alloc(uv_handle_t *hd, size_t hint, uv_buf_t *buf)
{
	struct probe *p = hd->data;

	buf->base = p->buf + p->len;
	buf->len = sizeof(p->buf) - p->len;
}

/* Parses "HTTP/1.x NNN ..." once a line is complete. */
static void parse_status(struct probe *p)
{
	char cause[96];
	int status = 0;

	if (sscanf(p->buf, "HTTP/%*d.%*d %3d", &status) != 1 || status < 100 || status > 999) {
		net_finish(p, OUT_FAIL, "invalid HTTP response: no status line");
		return;
	}
	if (status >= 200 && status <= 399) {
		net_finish(p, OUT_OK, NULL);
		return;
	}
	if (status < 200 && p->ignore_1xx) {
		net_finish(p, OUT_IGNORE, NULL);
		return;
	}
	snprintf(cause, sizeof(cause), "HTTP status %d", status);
	net_finish(p, OUT_FAIL, cause);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct probe *p = s->data;
	char cause[128];

	if (!p->ck)
		return;
	if (nread < 0) {
		if (nread == UV_EOF) {
			net_finish(p, OUT_FAIL, "connection closed before the status line");
		} else {
			snprintf(cause, sizeof(cause), "cannot read the response: %s",
				 uv_strerror((int)nread));
			net_finish(p, OUT_FAIL, cause);
		}
		return;
	}
	p->len += (size_t)nread;
	if (memchr(p->buf, '\n', p->len)) {
		p->buf[sizeof(p->buf) - 1] = '\0';
		if (p->len < sizeof(p->buf))
			p->buf[p->len] = '\0';
		parse_status(p);
	} else if (p->len >= sizeof(p->buf) - 1) {
		net_finish(p, OUT_FAIL, "invalid HTTP response: status line too long");
	}
}

static void on_written(uv_write_t *w, int status)
{
	struct probe *p = w->data;
	char cause[128];
	int err;

	if (!p->ck)
		return;
	if (status) {
		snprintf(cause, sizeof(cause), "cannot send the request: %s", uv_strerror(status));
		net_finish(p, OUT_FAIL, cause);
		return;
	}
	err = uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read);
	if (err) {
		snprintf(cause, sizeof(cause), "cannot read the response: %s", uv_strerror(err));
		net_finish(p, OUT_FAIL, cause);
	}
}

static void on_connected(uv_connect_t *req, int status)
{
	struct probe *p = req->data;
	char cause[160];
	uv_buf_t b;
	int err;

	if (!p->ck)
		return;
	if (status) {
		snprintf(cause, sizeof(cause), "cannot connect to 127.0.0.1:%d: %s",
			 p->ck->cfg.port, uv_strerror(status));
		net_finish(p, OUT_FAIL, cause);
		return;
	}
	if (p->protocol == HEALTH_TCP) {
		net_finish(p, OUT_OK, NULL);
		return;
	}
	b = uv_buf_init(p->req.buf, (unsigned)p->req.len);
	p->wr.data = p;
	err = uv_write(&p->wr, (uv_stream_t *)&p->tcp, &b, 1, on_written);
	if (err) {
		snprintf(cause, sizeof(cause), "cannot send the request: %s", uv_strerror(err));
		net_finish(p, OUT_FAIL, cause);
	}
}

static void start_net(struct check *ck)
{
	struct probe *p = xcalloc(1, sizeof(*p));
	struct sockaddr_in addr;
	char cause[128];
	int err;

	p->ck = ck;
	p->protocol = ck->cfg.protocol;
	p->ignore_1xx = ck->cfg.ignore_1xx;
	strbuf_init(&p->req, 0);
	if (p->protocol == HEALTH_HTTP)
		strbuf_addf(&p->req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n"
				     "User-Agent: pacer-health\r\nConnection: close\r\n\r\n",
			    ck->cfg.path, ck->cfg.port);
	ck->probe = p;
	if (!ck->cfg.port) {
		probe_free(p);
		check_done(ck, OUT_FAIL, "the task has no port for this health check");
		return;
	}
	err = uv_tcp_init(ck->h->loop, &p->tcp);
	if (err) {
		probe_free(p);
		snprintf(cause, sizeof(cause), "cannot open a socket: %s", uv_strerror(err));
		check_done(ck, OUT_FAIL, cause);
		return;
	}
	p->tcp.data = p;
	p->conn.data = p;
	uv_ip4_addr("127.0.0.1", ck->cfg.port, &addr);
	err = uv_tcp_connect(&p->conn, &p->tcp, (const struct sockaddr *)&addr, on_connected);
	if (err) {
		snprintf(cause, sizeof(cause), "cannot connect to 127.0.0.1:%d: %s", ck->cfg.port,
			 uv_strerror(err));
		net_finish(p, OUT_FAIL, cause);
	}
}

static void on_poll_closed(uv_handle_t *hd)
{
	probe_free(hd->data);
}

/* The command's process exited (or was killed after being abandoned): reap it. */
static void on_cmd_exit(uv_poll_t *hd, int status, int events)
{
	struct probe *p = hd->data;
	struct check *ck = p->ck;
	siginfo_t info = {0};
	char cause[96];
	int r;

	r = waitid(P_PIDFD, (id_t)p->pidfd, &info, WEXITED | WNOHANG);
	if (r == 0 && info.si_pid == 0)
		return; /* not yet */
	/* whatever the command left in its group goes with it */
	kill(-p->pid, SIGKILL);
	uv_close((uv_handle_t *)&p->poll, on_poll_closed);
	close(p->pidfd);
	p->pidfd = -1;
	p->ck = NULL;
	if (!ck)
		return;
	if (r == 0 && info.si_code == CLD_EXITED && info.si_status == 0) {
		check_done(ck, OUT_OK, NULL);
		return;
	}
	if (r)
		snprintf(cause, sizeof(cause), "cannot read the command's exit status: %s",
			 strerror(errno));
	else if (info.si_code == CLD_EXITED)
		snprintf(cause, sizeof(cause), "command exited with status %d", info.si_status);
	else
		snprintf(cause, sizeof(cause), "command terminated by signal %d", info.si_status);
	check_done(ck, OUT_FAIL, cause);
}

static void start_command(struct check *ck)
{
	struct health *h = ck->h;
	char *argv[] = {(char *)"sh", (char *)"-c", (char *)ck->cfg.command, NULL};
	struct spawn_child child;
	struct probe *p;
	char cause[160];
	int null_fd, dir_fd, err;

	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null_fd < 0) {
		snprintf(cause, sizeof(cause), "cannot open '/dev/null': %s", strerror(errno));
		check_done(ck, OUT_FAIL, cause);
		return;
	}
	dir_fd = open(h->sandbox, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	{
		struct spawn_fd fds[] = {{null_fd, 1}, {null_fd, 2}};

		err = spawn_process_at(dir_fd, "/bin/sh", argv, h->envp, fds, 2,
				       SPAWN_SETSID | SPAWN_STDIN_NULL | SPAWN_CLOSE_OTHERS, &child);
	}
	if (dir_fd >= 0)
		close(dir_fd);
	close(null_fd);
	if (err) {
		snprintf(cause, sizeof(cause), "cannot run the command: %s", strerror(-err));
		check_done(ck, OUT_FAIL, cause);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	strbuf_init(&p->req, 0);
	p->ck = ck;
	p->protocol = HEALTH_COMMAND;
	p->pid = child.pid;
	p->pidfd = child.pidfd;
	err = uv_poll_init(h->loop, &p->poll, p->pidfd);
	p->poll.data = p;
	if (!err) {
		err = uv_poll_start(&p->poll, UV_READABLE, on_cmd_exit);
		if (err)
			uv_close((uv_handle_t *)&p->poll, on_poll_closed); /* frees p */
	} else {
		strbuf_release(&p->req);
	}
	if (err) {
		/* cannot watch it: take it down and reap it now (rare) */
		kill(-child.pid, SIGKILL);
		waitid(P_PIDFD, (id_t)child.pidfd, &(siginfo_t){0}, WEXITED);
		close(child.pidfd);
		if (!uv_is_closing((uv_handle_t *)&p->poll))
			free(p);
		snprintf(cause, sizeof(cause), "cannot watch the command: %s", uv_strerror(err));
		check_done(ck, OUT_FAIL, cause);
		return;
	}
	ck->probe = p;
}

/* Gives up the probe in flight: it cleans up after itself. */
static void abandon(struct check *ck)
{
	struct probe *p = ck->probe;

	ck->probe = NULL;
	if (!p)
		return;
	p->ck = NULL;
	if (p->protocol == HEALTH_COMMAND) {
		/* on_cmd_exit reaps it and frees the probe */
		kill(-p->pid, SIGKILL);
		spawn_pidfd_signal(p->pidfd, SIGKILL);
	} else if (!uv_is_closing((uv_handle_t *)&p->tcp)) {
		uv_close((uv_handle_t *)&p->tcp, on_tcp_closed);
	}
}

static void on_timer(uv_timer_t *t)
{
	struct check *ck = t->data;
	char cause[96];

	if (ck->probe) {
		snprintf(cause, sizeof(cause), "no answer within %g s",
			 (double)(ck->cfg.timeout_ms ? ck->cfg.timeout_ms : DEFAULT_TIMEOUT_MS) /
				 1000);
		abandon(ck);
		check_done(ck, OUT_FAIL, cause);
		return;
	}
	if (ck->cfg.protocol == HEALTH_HTTPS) {
		/* one result saying why, and nothing more: it must not get the task killed */
		ck->res.known = true;
		ck->res.alive = false;
		ck->res.last_failure = time_now_ms();
		ck->res.last_failure_cause =
			xstrdup("HTTPS health checks are not supported by the agent yet");
		if (ck->h->cb)
			ck->h->cb(ck->h, ck->h->data);
		return;
	}
	ck->started_at = uv_now(ck->h->loop);
	uv_timer_start(&ck->timer, on_timer,
		       ck->cfg.timeout_ms ? ck->cfg.timeout_ms : DEFAULT_TIMEOUT_MS, 0);
	if (ck->cfg.protocol == HEALTH_COMMAND)
		start_command(ck);
	else
		start_net(ck);
}

/* ---- lifecycle ---- */

int health_new(struct health **out, const struct health_config *cfg, health_changed_fn *cb,
	       void *data)
{
	struct health *h;
	bool has_path = false;
	size_t n = 0;

	*out = NULL;
	if (!cfg->nchecks || cfg->nchecks > HEALTH_MAX_CHECKS)
		return PACER_EBADREQUEST;
	h = xcalloc(1, sizeof(*h));
	h->loop = cfg->loop;
	h->sandbox = xstrdup(cfg->sandbox);
	h->cb = cb;
	h->data = data;
	h->envp = xcalloc(st_add(cfg->nenv, 2), sizeof(*h->envp));
	for (size_t i = 0; i < cfg->nenv; i++) {
		h->envp[n++] = xstrdup(cfg->env[i]);
		has_path |= !strncmp(cfg->env[i], "PATH=", 5);
	}
	if (!has_path)
		h->envp[n++] = xstrdup("PATH=" LAUNCH_DEFAULT_PATH);
	h->checks = xcalloc(cfg->nchecks, sizeof(*h->checks));
	h->n = cfg->nchecks;
	for (size_t i = 0; i < h->n; i++) {
		struct check *ck = &h->checks[i];

		ck->h = h;
		ck->cfg = cfg->checks[i];
		ck->cfg.path = cfg->checks[i].path ? xstrdup(cfg->checks[i].path) : NULL;
		ck->cfg.command = cfg->checks[i].command ? xstrdup(cfg->checks[i].command) : NULL;
		uv_timer_init(h->loop, &ck->timer);
		ck->timer.data = ck;
		h->open_timers++;
	}
	*out = h;
	return 0;
}

void health_start(struct health *h)
{
	if (!h || h->started)
		return;
	h->started = true;
	uv_update_time(h->loop);
	h->running_since = uv_now(h->loop);
	for (size_t i = 0; i < h->n; i++)
		uv_timer_start(&h->checks[i].timer, on_timer, h->checks[i].cfg.delay_ms, 0);
}

static void on_timer_closed(uv_handle_t *hd)
{
	struct check *ck = hd->data;
	struct health *h = ck->h;

	if (--h->open_timers)
		return;
	for (size_t i = 0; i < h->n; i++) {
		free((char *)h->checks[i].cfg.path);
		free((char *)h->checks[i].cfg.command);
		free(h->checks[i].res.last_failure_cause);
	}
	for (char **e = h->envp; *e; e++)
		free(*e);
	free(h->envp);
	free(h->checks);
	free(h->sandbox);
	free(h);
}

void health_free(struct health *h)
{
	if (!h || h->freed)
		return;
	h->freed = true;
	h->cb = NULL;
	for (size_t i = 0; i < h->n; i++) {
		abandon(&h->checks[i]);
		uv_close((uv_handle_t *)&h->checks[i].timer, on_timer_closed);
	}
}

/* ---- accessors ---- */

size_t health_count(const struct health *h)
{
	return h->n;
}

const struct health_result *health_result(const struct health *h, size_t i)
{
	return i < h->n ? &h->checks[i].res : NULL;
}

bool health_healthy(const struct health *h)
{
	for (size_t i = 0; i < h->n; i++)
		if (!h->checks[i].res.known || !h->checks[i].res.alive)
			return false;
	return true;
}

static void add_time(struct strbuf *out, const char *key, int64_t ms)
{
	char iso[TIME_ISO_LEN];

	strbuf_addf(out, ",\"%s\":", key);
	if (!ms) {
		strbuf_addstr(out, "null");
		return;
	}
	time_format_iso(ms, iso);
	strbuf_add_json_str(out, iso);
}

void health_results_json(const struct health *h, struct strbuf *out)
{
	strbuf_addf(out, "\"healthy\":%s,\"healthResults\":[",
		    health_healthy(h) ? "true" : "false");
	for (size_t i = 0; i < h->n; i++) {
		const struct health_result *r = &h->checks[i].res;

		if (i)
			strbuf_addch(out, ',');
		if (!r->known) {
			strbuf_addstr(out, "null");
			continue;
		}
		strbuf_addf(out, "{\"alive\":%s,\"consecutiveFailures\":%u",
			    r->alive ? "true" : "false", r->consecutive_failures);
		add_time(out, "firstSuccess", r->first_success);
		add_time(out, "lastSuccess", r->last_success);
		add_time(out, "lastFailure", r->last_failure);
		strbuf_addstr(out, ",\"lastFailureCause\":");
		if (r->last_failure_cause)
			strbuf_add_json_str(out, r->last_failure_cause);
		else
			strbuf_addstr(out, "null");
		strbuf_addch(out, '}');
	}
	strbuf_addch(out, ']');
}
