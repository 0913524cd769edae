/* SPDX-License-Identifier: Apache-2.0 */
/* A libcurl multi handle on a libuv loop; see curl_loop.h. */
#include "http/curl_loop.h"

#include <stdbool.h>
#include <stdlib.h>

#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"

/* A socket curl asked us to watch. */
struct curl_sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct curl_loop *cl;
	struct curl_sock *prev, *next;
};

struct curl_loop {
	uv_loop_t *loop;
	CURLM *multi;
	curl_loop_done_fn *done;
	void *arg;
	uv_timer_t timer;
	struct curl_sock *socks;
	int open_handles; /* the timer and the poll handles not closed yet */
	bool closed;
};

/* ---- handles and memory ---- */

static void handle_closed(struct curl_loop *cl)
{
	if (!--cl->open_handles && cl->closed)
		free(cl);
}

static void on_timer_closed(uv_handle_t *h)
{
	handle_closed(h->data);
}

static void on_sock_closed(uv_handle_t *h)
{
	struct curl_sock *s = (struct curl_sock *)h;
	struct curl_loop *cl = s->cl;

	free(s);
	handle_closed(cl);
}

static void sock_close(struct curl_sock *s)
{
	struct curl_loop *cl = s->cl;

	if (s->prev)
		s->prev->next = s->next;
	else
		cl->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

/* ---- curl on the loop ---- */

static void check_done(struct curl_loop *cl)
{
	CURLMsg *msg;
	int left;

	/* a done callback may close cl: its memory stays until the loop runs again */
	while (!cl->closed && (msg = curl_multi_info_read(cl->multi, &left))) {
		CURL *easy = msg->easy_handle;
		CURLcode result = msg->data.result;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_multi_remove_handle(cl->multi, easy);
		cl->done(cl->arg, easy, result);
	}
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct curl_sock *s = (struct curl_sock *)h;
	struct curl_loop *cl = s->cl;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	else {
		if (events & UV_READABLE)
			flags |= CURL_CSELECT_IN;
		if (events & UV_WRITABLE)
			flags |= CURL_CSELECT_OUT;
	}
	curl_multi_socket_action(cl->multi, s->fd, flags, &running);
	check_done(cl);
}

static int on_curl_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct curl_loop *cl = userp;
	struct curl_sock *s = socketp;
	int events = 0, err;

	if (what == CURL_POLL_REMOVE) {
		if (s) {
			sock_close(s);
			curl_multi_assign(cl->multi, fd, NULL);
		}
		return 0;
	}
	if (!s) {
		s = xcalloc(1, sizeof(*s));
		err = uv_poll_init_socket(cl->loop, &s->poll, fd);
		if (err) {
			log_error("cannot watch socket %d: %s", (int)fd, uv_strerror(err));
			free(s);
			return -1;
		}
		s->fd = fd;
		s->cl = cl;
		s->next = cl->socks;
		if (cl->socks)
			cl->socks->prev = s;
		cl->socks = s;
		cl->open_handles++;
		curl_multi_assign(cl->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&s->poll, events, on_poll);
	return 0;
}

static void on_timeout(uv_timer_t *t)
{
	struct curl_loop *cl = t->data;
	int running;

	curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(cl);
}

static int on_curl_timer(CURLM *m, long timeout_ms, void *userp)
{
	struct curl_loop *cl = userp;

	/* curl forbids calling it back from here: a 0 ms timer runs it next turn */
	if (timeout_ms < 0)
		uv_timer_stop(&cl->timer);
	else
		uv_timer_start(&cl->timer, on_timeout, (uint64_t)timeout_ms, 0);
	return 0;
}

/* ---- the interface ---- */

int curl_loop_new(struct curl_loop **out, uv_loop_t *loop, curl_loop_done_fn *done, void *arg)
{
	struct curl_loop *cl = xcalloc(1, sizeof(*cl));

	*out = NULL;
	cl->multi = curl_multi_init();
	if (!cl->multi) {
		free(cl);
		return PACER_EINTERNAL;
	}
	cl->loop = loop;
	cl->done = done;
	cl->arg = arg;
	curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl);
	curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl);
	uv_timer_init(loop, &cl->timer);
	cl->timer.data = cl;
	cl->open_handles = 1;
	*out = cl;
	return 0;
}

CURLM *curl_loop_multi(struct curl_loop *cl)
{
	return cl->multi;
}

int curl_loop_add(struct curl_loop *cl, CURL *easy)
{
	return curl_multi_add_handle(cl->multi, easy) == CURLM_OK ? 0 : PACER_EINTERNAL;
}

void curl_loop_remove(struct curl_loop *cl, CURL *easy)
{
	/* curl answers CURLM_OK for a handle that is in no multi */
	curl_multi_remove_handle(cl->multi, easy);
}

void curl_loop_close(struct curl_loop *cl)
{
	if (!cl)
		return;
	cl->closed = true;
	/* detaches what is still added and closes curl's sockets, which it may
	 * report through on_curl_socket */
	curl_multi_cleanup(cl->multi);
	cl->multi = NULL;
	while (cl->socks)
		sock_close(cl->socks);
	uv_close((uv_handle_t *)&cl->timer, on_timer_closed);
}
