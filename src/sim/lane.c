/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The simulator's connections (see sim.h): K lanes on one libcurl multi
 * handle driven by the libuv loop (http/curl_loop.h), as src/agent/client.c
 * does for one agent. A lane's session: register its agents one after the other, open
 * the multiplexed command stream for all of them, then send batched updates
 * whenever some are pending and at least every heartbeat interval. When the
 * stream ends or breaks (the server restarted), the lane registers its
 * agents again, each listing the tasks it runs, and reopens the stream.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/error.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "http/curl_loop.h"
#include "sim/sim_int.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 2000
#define CONNECT_TIMEOUT_MS 5000
#define REQUEST_TIMEOUT_MS 30000
#define STREAM_IDLE_MS 15000
/* Largest updates body; the rest follows once it is answered. */
#define MAX_BATCH_BYTES (2u << 20)
/* Updates wait this long to gather into one batch. */
#define KICK_DELAY_MS 5

static struct lane *lane_of(struct sim *s, uint32_t agent)
{
	return &s->lanes[agent % s->cfg.connections];
}

/* ---- requests ---- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata);

static struct sim_req *req_new(struct lane *l, enum req_kind kind, const char *path,
			       const struct strbuf *body)
{
	struct sim *s = l->s;
	struct sim_req *r = xcalloc(1, sizeof(*r));
	struct strbuf url = STRBUF_INIT;

	r->l = l;
	r->kind = kind;
	strbuf_init(&r->resp, 0);
	r->easy = curl_easy_init();
	PACER_ASSERT(r->easy);
	strbuf_addf(&url, "%s%s", s->base, path);
	curl_easy_setopt(r->easy, CURLOPT_URL, url.buf);
	strbuf_release(&url);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "pacer-sim/" PACER_VERSION);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	if (s->resolve)
		curl_easy_setopt(r->easy, CURLOPT_RESOLVE, s->resolve);
	if (kind == REQ_STREAM)
		curl_easy_setopt(r->easy, CURLOPT_BUFFERSIZE, 256L * 1024);
	else
		curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)REQUEST_TIMEOUT_MS);
	r->headers = curl_slist_append(r->headers, "Content-Type: application/json");
	r->headers = curl_slist_append(r->headers, "Expect:");
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, (long)body->len);
	curl_easy_setopt(r->easy, CURLOPT_COPYPOSTFIELDS, body->buf);
	PACER_ASSERT(curl_loop_add(s->cl, r->easy) == 0);
	return r;
}

static void req_free(struct sim_req *r)
{
	if (!r)
		return;
	curl_loop_remove(r->l->s->cl, r->easy);
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	strbuf_release(&r->resp);
	free(r);
}

static void stream_line(struct lane *l, const char *buf, size_t len)
{
	json_t *cmd;

	if (!len)
		return;
	cmd = json_loadb(buf, len, 0, NULL);
	if (json_is_object(cmd))
		sim_command(l->s, cmd);
	else
		log_warn("ignoring a command that is not a JSON object");
	json_decref(cmd);
}

static void on_idle(uv_timer_t *t);

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct sim_req *r = userdata;
	struct lane *l = r->l;
	size_t n = size * nmemb, left = n;
	long code = 0;
	const char *nl;

	if (r->kind != REQ_STREAM || (curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code),
				      code != 200)) {
		strbuf_add(&r->resp, ptr, n);
		return n;
	}
	uv_timer_start(&l->idle_timer, on_idle, STREAM_IDLE_MS, 0);
	l->backoff_ms = BACKOFF_FIRST_MS;
	while (left && (nl = memchr(ptr, '\n', left))) {
		size_t part = (size_t)(nl - ptr);

		if (l->line.len) {
			strbuf_add(&l->line, ptr, part);
			stream_line(l, l->line.buf, l->line.len);
			strbuf_reset(&l->line);
		} else {
			stream_line(l, ptr, part);
		}
		ptr = (char *)nl + 1;
		left -= part + 1;
	}
	strbuf_add(&l->line, ptr, left);
	return n;
}

/* ---- a lane's session ---- */

static void register_next(struct lane *l);
static void send_updates(struct lane *l);

static uint64_t next_backoff(struct lane *l)
{
	uint64_t now = l->backoff_ms;

	l->backoff_ms = now * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : now * 2;
	return now;
}

/* The batch in flight failed or was dropped: its updates go again. */
static void batch_fail(struct lane *l)
{
	for (size_t k = 0; k < l->nbatch; k++)
		sim_agent_batch_done(l->s, l->batch[k], false, 0);
	l->nbatch = 0;
}

static void on_retry(uv_timer_t *t)
{
	struct lane *l = t->data;

	if (l->phase == LANE_ONLINE)
		send_updates(l);
	else
		register_next(l);
}

/* The session broke: register every agent of the lane again after a backoff. */
static void lane_restart(struct lane *l, const char *why)
{
	struct sim *s = l->s;
	uint64_t delay = next_backoff(l);

	if (l->phase == LANE_ONLINE) {
		s->st.stream_breaks++;
		log_warn("lane %u: %s; registering its agents again in %llu ms", l->idx, why,
			 (unsigned long long)delay);
	}
	req_free(l->stream);
	l->stream = NULL;
	req_free(l->req);
	l->req = NULL;
	batch_fail(l);
	strbuf_reset(&l->line);
	uv_timer_stop(&l->idle_timer);
	for (uint32_t i = l->idx; i < s->cfg.agents; i += s->cfg.connections)
		s->agents[i].registered = 0;
	l->phase = LANE_REGISTER;
	l->reg_next = l->idx;
	uv_timer_start(&l->retry_timer, on_retry, delay, 0);
}

static void on_idle(uv_timer_t *t)
{
	lane_restart(t->data, "commands stream silent for 15 s");
}

static void register_next(struct lane *l)
{
	struct sim *s = l->s;
	struct strbuf body = STRBUF_INIT;

	if (l->reg_next >= s->cfg.agents) {
		/* all registered: one stream for all of them */
		strbuf_addstr(&body, "{\"agents\":[");
		for (uint32_t i = l->idx; i < s->cfg.agents; i += s->cfg.connections) {
			strbuf_addstr(&body, i == l->idx ? "\"" : ",\"");
			sim_agent_id(s, i, &body);
			strbuf_addch(&body, '"');
		}
		strbuf_addstr(&body, "]}");
		l->stream = req_new(l, REQ_STREAM, "/v1/agents/commands", &body);
		strbuf_release(&body);
		uv_timer_start(&l->idle_timer, on_idle, STREAM_IDLE_MS, 0);
		l->phase = LANE_ONLINE;
		l->hb_due = true;
		send_updates(l);
		return;
	}
	sim_registration_body(s, l->reg_next, &body);
	l->req = req_new(l, REQ_REGISTER, "/v1/agents", &body);
	l->req->agent = l->reg_next;
	strbuf_release(&body);
}

static long finished(struct sim_req *r, CURLcode res, struct strbuf *why)
{
	long code = 0;

	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
	if (res != CURLE_OK)
		strbuf_addf(why, "%s", curl_easy_strerror(res));
	else if (code != 200)
		strbuf_addf(why, "HTTP %ld %.200s", code, r->resp.buf);
	return res == CURLE_OK ? code : 0;
}

static void reg_done(struct lane *l, CURLcode res)
{
	struct sim_req *r = l->req;
	struct strbuf why = STRBUF_INIT;
	long code = finished(r, res, &why);
	json_t *ans = code == 200 ? json_loadb(r->resp.buf, r->resp.len, 0, NULL) : NULL;
	json_int_t epoch = json_integer_value(json_object_get(ans, "epoch"));
	json_int_t acked = json_integer_value(json_object_get(ans, "ackedSeq"));
	json_int_t hb = json_integer_value(json_object_get(ans, "heartbeatIntervalMs"));

	l->req = NULL;
	if (!json_is_object(ans)) {
		if (!why.len)
			strbuf_addstr(&why, "the answer is not JSON");
		log_warn("lane %u: registration failed: %s", l->idx, why.buf);
		uv_timer_start(&l->retry_timer, on_retry, next_backoff(l), 0);
	} else {
		sim_registered(l->s, r->agent, epoch > 0 ? (uint64_t)epoch : 0,
			       acked > 0 ? (uint64_t)acked : 0);
		if (hb >= 50 && hb <= 60000 && (uint64_t)hb != l->s->hb_ms) {
			l->s->hb_ms = (uint64_t)hb;
			uv_timer_start(&l->s->hb_timer, l->s->hb_timer.timer_cb, l->s->hb_ms,
				       l->s->hb_ms);
		}
		l->reg_next += l->s->cfg.connections;
		register_next(l);
	}
	json_decref(ans);
	req_free(r);
	strbuf_release(&why);
}

static void send_updates(struct lane *l)
{
	struct sim *s = l->s;
	struct strbuf body = STRBUF_INIT;
	char iso[TIME_ISO_LEN];
	bool hb = l->hb_due, any = false;

	if (l->phase != LANE_ONLINE || l->req || uv_is_active((uv_handle_t *)&l->retry_timer)) {
		l->upd_again = true;
		return;
	}
	l->upd_again = false;
	time_format_iso(time_now_ms(), iso);
	strbuf_addstr(&body, "{\"agents\":[");
	for (uint32_t i = l->idx; i < s->cfg.agents; i += s->cfg.connections) {
		struct sim_agent *a = &s->agents[i];

		if (!hb && !a->pending)
			continue;
		if (a->sent_seq)
			continue; /* already in flight (cannot happen: one batch at a time) */
		if (body.len > MAX_BATCH_BYTES) {
			l->upd_again = true;
			break;
		}
		if (any)
			strbuf_addch(&body, ',');
		any = true;
		sim_agent_updates(s, i, iso, &body);
		ALLOC_GROW(l->batch, l->nbatch + 1, l->abatch);
		l->batch[l->nbatch++] = i;
	}
	strbuf_addstr(&body, "]}");
	if (!l->upd_again)
		l->hb_due = false;
	if (any)
		l->req = req_new(l, REQ_UPDATES, "/v1/agents/updates", &body);
	strbuf_release(&body);
}

static void upd_done(struct lane *l, CURLcode res)
{
	struct sim *s = l->s;
	struct sim_req *r = l->req;
	struct strbuf why = STRBUF_INIT;
	long code = finished(r, res, &why);
	json_t *ans = code == 200 ? json_loadb(r->resp.buf, r->resp.len, 0, NULL) : NULL;
	json_t *acked = json_object_get(ans, "acked"), *unknown = json_object_get(ans, "unknown");
	struct strbuf id = STRBUF_INIT;

	l->req = NULL;
	if (!json_is_object(acked)) {
		if (!why.len)
			strbuf_addstr(&why, "the answer lacks acked");
		log_warn("lane %u: updates failed: %s", l->idx, why.buf);
		batch_fail(l);
		uv_timer_start(&l->retry_timer, on_retry, next_backoff(l), 0);
	} else {
		for (size_t k = 0; k < l->nbatch; k++) {
			json_t *v;

			strbuf_reset(&id);
			sim_agent_id(s, l->batch[k], &id);
			v = json_object_get(acked, id.buf);
			sim_agent_batch_done(s, l->batch[k], json_is_integer(v),
					     json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0);
		}
		l->nbatch = 0;
		if (json_array_size(unknown))
			lane_restart(l, "the server does not know some of its agents");
		else if (l->upd_again || l->hb_due)
			send_updates(l);
	}
	json_decref(ans);
	req_free(r);
	strbuf_release(&why);
	strbuf_release(&id);
}

static void stream_done(struct lane *l, CURLcode res)
{
	struct strbuf why = STRBUF_INIT;

	finished(l->stream, res, &why);
	if (!why.len)
		strbuf_addstr(&why, "commands stream ended");
	lane_restart(l, why.buf);
	strbuf_release(&why);
}

/* A transfer finished (curl_loop_done_fn); its handler frees the request. */
static void on_done(void *arg, CURL *easy, CURLcode res)
{
	struct sim_req *r = NULL;
	struct lane *l;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
	l = r->l;
	if (r == l->stream)
		stream_done(l, res);
	else if (r == l->req && r->kind == REQ_REGISTER)
		reg_done(l, res);
	else if (r == l->req)
		upd_done(l, res);
}

static void on_kick(uv_timer_t *t)
{
	struct sim *s = t->data;

	for (unsigned k = 0; k < s->cfg.connections; k++)
		if (s->lanes[k].upd_again || s->lanes[k].hb_due)
			send_updates(&s->lanes[k]);
}

void lane_kick(struct sim *s, uint32_t agent)
{
	struct lane *l = lane_of(s, agent);

	l->upd_again = true;
	if (!uv_is_active((uv_handle_t *)&s->kick_timer))
		uv_timer_start(&s->kick_timer, on_kick, KICK_DELAY_MS, 0);
}

/* ---- set-up ---- */

/* base = the URL without a final '/'; a host name is resolved here, once. */
static int parse_server(struct sim *s, const char *url, struct strbuf *why)
{
	const char *auth, *end, *colon;
	char *host;
	unsigned char probe[16];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_INET}, *res = NULL;
	size_t len = strlen(url);
	char addr[INET_ADDRSTRLEN];
	int err;

	if (strncmp(url, "http://", 7)) {
		strbuf_addf(why, "invalid server URL '%s': http://HOST:PORT expected", url);
		return PACER_EBADCONFIG;
	}
	while (len > 7 && url[len - 1] == '/')
		len--;
	s->base = xstrndup(url, len);
	auth = s->base + 7;
	end = auth + strcspn(auth, "/");
	colon = memchr(auth, ':', (size_t)(end - auth));
	if (!colon || colon == auth) {
		strbuf_addf(why, "invalid server URL '%s': http://HOST:PORT expected", url);
		return PACER_EBADCONFIG;
	}
	host = xstrndup(auth, (size_t)(colon - auth));
	if (inet_pton(AF_INET, host, probe) == 1 || inet_pton(AF_INET6, host, probe) == 1) {
		free(host);
		return 0;
	}
	/* curl would resolve on a thread of its own: do it here */
	err = getaddrinfo(host, NULL, &hints, &res);
	if (err) {
		strbuf_addf(why, "cannot resolve server host '%s': %s", host, gai_strerror(err));
		free(host);
		return PACER_EBADCONFIG;
	}
	inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, addr, sizeof(addr));
	{
		struct strbuf e = STRBUF_INIT;

		strbuf_addf(&e, "%s:%.*s:%s", host, (int)(end - colon - 1), colon + 1, addr);
		s->resolve = curl_slist_append(NULL, e.buf);
		strbuf_release(&e);
	}
	freeaddrinfo(res);
	free(host);
	return 0;
}

int lanes_init(struct sim *s, struct strbuf *why)
{
	int err;

	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		strbuf_addstr(why, "cannot initialize libcurl");
		return PACER_EINTERNAL;
	}
	s->multi_inited = true;
	err = parse_server(s, s->cfg.server, why);
	if (err)
		return err;
	err = curl_loop_new(&s->cl, s->loop, on_done, s);
	PACER_ASSERT(!err);
	/* a stream and a request connection per lane, kept alive */
	curl_multi_setopt(curl_loop_multi(s->cl), CURLMOPT_MAXCONNECTS,
			  (long)s->cfg.connections * 2 + 4);
	uv_timer_init(s->loop, &s->kick_timer);
	s->kick_timer.data = s;
	s->open_handles++;
	s->lanes = xcalloc(s->cfg.connections, sizeof(*s->lanes));
	for (unsigned k = 0; k < s->cfg.connections; k++) {
		struct lane *l = &s->lanes[k];

		l->s = s;
		l->idx = k;
		l->backoff_ms = BACKOFF_FIRST_MS;
		strbuf_init(&l->line, 0);
		uv_timer_init(s->loop, &l->retry_timer);
		uv_timer_init(s->loop, &l->idle_timer);
		l->retry_timer.data = l->idle_timer.data = l;
		s->open_handles += 2;
	}
	return 0;
}

void lanes_start(struct sim *s)
{
	for (unsigned k = 0; k < s->cfg.connections; k++) {
		struct lane *l = &s->lanes[k];

		l->phase = LANE_REGISTER;
		l->reg_next = k;
		register_next(l);
	}
}

void lanes_free(struct sim *s)
{
	for (unsigned k = 0; s->lanes && k < s->cfg.connections; k++) {
		struct lane *l = &s->lanes[k];

		req_free(l->stream);
		req_free(l->req);
		l->stream = l->req = NULL;
		strbuf_release(&l->line);
		free(l->batch);
		l->retry_timer.data = l->idle_timer.data = s;
		uv_close((uv_handle_t *)&l->retry_timer, sim_handle_closed);
		uv_close((uv_handle_t *)&l->idle_timer, sim_handle_closed);
	}
	curl_loop_close(s->cl);
	s->cl = NULL;
	if (s->kick_timer.loop)
		uv_close((uv_handle_t *)&s->kick_timer, sim_handle_closed);
}
