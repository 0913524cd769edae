/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's HTTP client: libcurl multi on the libuv loop; see client.h. */
#include "agent/client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "http/curl_loop.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000
#define CONNECT_TIMEOUT_MS 5000
#define REQUEST_TIMEOUT_MS 10000
/* No byte on the commands stream for this long: the connection is dead. */
#define STREAM_IDLE_MS 15000
#define DEFAULT_HEARTBEAT_MS 1000
#define MIN_HEARTBEAT_MS 50
#define MAX_HEARTBEAT_MS 60000
#define COMMAND_MAX_DEPTH 16

enum req_kind { REQ_REGISTER, REQ_STREAM, REQ_UPDATES };

static const char *const req_names[] = {"registration", "commands stream", "updates"};

/* One transfer; owned by the client field naming its kind. */
struct request {
	struct client *c;
	enum req_kind kind;
	CURL *easy;
	struct curl_slist *headers;
	struct strbuf resp;  /* the answer (on the stream: only a non-200 one) */
	struct strbuf line;  /* stream: the partial line */
	uint64_t last_seq;   /* updates: the last seq sent */
	bool too_big;        /* the answer or a line passed CLIENT_MAX_LINE */
};

struct client {
	uv_loop_t *loop;
	struct curl_loop *cl;
	const struct client_ops *ops;
	void *data;
	char *base; /* "http://host:port[/prefix]", no final '/' */
	struct curl_slist *resolve;
	char *agent_id;
	uint64_t heartbeat_ms;

	struct request *reg, *stream, *upd;
	bool online;    /* registered; the stream is open or opening */
	bool upd_again; /* kicked while a POST was in flight */
	uint64_t reg_backoff_ms, upd_backoff_ms;

	uv_timer_t reg_timer, upd_timer, hb_timer, kick_timer, idle_timer;
	int open_handles;
	bool freed;
};

/* ---- handles and memory ---- */

static void really_free(struct client *c)
{
	curl_slist_free_all(c->resolve);
	free(c->base);
	free(c->agent_id);
	free(c);
	curl_global_cleanup();
}

static void on_handle_closed(uv_handle_t *h)
{
	struct client *c = h->data;

	if (!--c->open_handles && c->freed)
		really_free(c);
}

static void request_free(struct request *r)
{
	if (!r)
		return;
	if (r->easy) {
		curl_loop_remove(r->c->cl, r->easy);
		curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->headers);
	strbuf_release(&r->resp);
	strbuf_release(&r->line);
	free(r);
}

/* ---- requests ---- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata);

static struct request *request_new(struct client *c, enum req_kind kind, const char *path)
{
	struct request *r = xcalloc(1, sizeof(*r));
	struct strbuf url = STRBUF_INIT;

	r->c = c;
	r->kind = kind;
	strbuf_init(&r->resp, 0);
	strbuf_init(&r->line, 0);
	r->easy = curl_easy_init();
	PACER_ASSERT(r->easy);
	strbuf_addf(&url, "%s%s", c->base, path);
	curl_easy_setopt(r->easy, CURLOPT_URL, url.buf);
	strbuf_release(&url);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "pacer-agent/" PACER_VERSION);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	if (c->resolve)
		curl_easy_setopt(r->easy, CURLOPT_RESOLVE, c->resolve);
	if (kind != REQ_STREAM)
		curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)REQUEST_TIMEOUT_MS);
	return r;
}

static void request_post(struct request *r, const struct strbuf *body)
{
	r->headers = curl_slist_append(r->headers, "Content-Type: application/json");
	r->headers = curl_slist_append(r->headers, "Expect:");
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, (long)body->len);
	curl_easy_setopt(r->easy, CURLOPT_COPYPOSTFIELDS, body->buf);
}

static void request_add(struct request *r)
{
	int err = curl_loop_add(r->c->cl, r->easy);

	PACER_ASSERT(!err);
}

/* "agent-..." made safe for a path segment; caller frees. */
static char *agent_path(struct client *c, const char *suffix)
{
	struct strbuf p = STRBUF_INIT;
	char *esc = curl_easy_escape(NULL, c->agent_id, 0);

	PACER_ASSERT(esc);
	strbuf_addf(&p, "/v1/agents/%s%s", esc, suffix);
	curl_free(esc);
	return strbuf_detach(&p, NULL);
}

static void stop_session(struct client *c)
{
	c->online = false;
	c->upd_again = false;
	uv_timer_stop(&c->hb_timer);
	uv_timer_stop(&c->upd_timer);
	uv_timer_stop(&c->idle_timer);
	request_free(c->stream);
	c->stream = NULL;
	request_free(c->upd);
	c->upd = NULL;
}

static void start_register(struct client *c)
{
	struct strbuf body = STRBUF_INIT;

	stop_session(c);
	request_free(c->reg);
	c->ops->registration_body(c->data, &body);
	c->reg = request_new(c, REQ_REGISTER, "/v1/agents");
	request_post(c->reg, &body);
	strbuf_release(&body);
	log_debug("registering with '%s'", c->base);
	request_add(c->reg);
}

static void on_reg_timer(uv_timer_t *t)
{
	start_register(t->data);
}

static uint64_t next_backoff(uint64_t *b)
{
	uint64_t now = *b;

	*b = now * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : now * 2;
	return now;
}

/* The session is broken: register again after the backoff. */
static void schedule_register(struct client *c, const char *why)
{
	uint64_t delay = next_backoff(&c->reg_backoff_ms);

	log_warn("%s; registering again in %llu ms", why, (unsigned long long)delay);
	stop_session(c);
	request_free(c->reg);
	c->reg = NULL;
	uv_timer_start(&c->reg_timer, on_reg_timer, delay, 0);
}

static void send_updates(struct client *c)
{
	struct strbuf body = STRBUF_INIT;
	char *path;

	if (!c->online || uv_is_active((uv_handle_t *)&c->upd_timer))
		return;
	if (c->upd) {
		c->upd_again = true;
		return;
	}
	c->upd_again = false;
	path = agent_path(c, "/updates");
	c->upd = request_new(c, REQ_UPDATES, path);
	free(path);
	c->upd->last_seq = c->ops->updates_body(c->data, CLIENT_MAX_BATCH, &body);
	request_post(c->upd, &body);
	strbuf_release(&body);
	request_add(c->upd);
}

static void on_upd_timer(uv_timer_t *t)
{
	send_updates(t->data);
}

static void on_hb_timer(uv_timer_t *t)
{
	send_updates(t->data);
}

static void on_kick_timer(uv_timer_t *t)
{
	send_updates(t->data);
}

static void on_idle_timer(uv_timer_t *t)
{
	struct client *c = t->data;
	char msg[128];

	snprintf(msg, sizeof(msg), "commands stream silent for %d ms", STREAM_IDLE_MS);
	schedule_register(c, msg);
}

static void open_stream(struct client *c)
{
	char *path = agent_path(c, "/commands");

	c->stream = request_new(c, REQ_STREAM, path);
	free(path);
	c->stream->headers = curl_slist_append(NULL, "Accept: application/x-ndjson");
	curl_easy_setopt(c->stream->easy, CURLOPT_HTTPHEADER, c->stream->headers);
	uv_timer_start(&c->idle_timer, on_idle_timer, STREAM_IDLE_MS, 0);
	request_add(c->stream);
}

/* ---- answers ---- */

static void stream_line(struct request *r, const char *buf, size_t len)
{
	struct client *c = r->c;
	struct strbuf why = STRBUF_INIT;
	json_t *cmd = NULL;

	while (len && (buf[len - 1] == '\r' || buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	if (!len)
		return;
	/* a line is a sign of life: what follows a failure starts over quickly */
	c->reg_backoff_ms = BACKOFF_FIRST_MS;
	if (json_parse_limited(buf, len, COMMAND_MAX_DEPTH, &cmd, &why)) {
		log_warn("ignoring command that is not JSON: %s", why.buf);
	} else if (!json_is_object(cmd)) {
		log_warn("ignoring command that is not a JSON object");
	} else {
		c->ops->command(c->data, cmd);
	}
	json_decref(cmd);
	strbuf_release(&why);
}

static size_t stream_body(struct request *r, const char *ptr, size_t n)
{
	struct client *c = r->c;
	const char *nl;

	uv_timer_start(&c->idle_timer, on_idle_timer, STREAM_IDLE_MS, 0);
	while (n && (nl = memchr(ptr, '\n', n))) {
		size_t part = (size_t)(nl - ptr);

		if (r->line.len + part > CLIENT_MAX_LINE)
			goto too_long;
		if (r->line.len) {
			strbuf_add(&r->line, ptr, part);
			stream_line(r, r->line.buf, r->line.len);
			strbuf_reset(&r->line);
		} else {
			stream_line(r, ptr, part);
		}
		ptr = nl + 1;
		n -= part + 1;
	}
	if (r->line.len + n > CLIENT_MAX_LINE)
		goto too_long;
	strbuf_add(&r->line, ptr, n);
	return 0;
too_long:
	r->too_big = true;
	return 1; /* abort: curl sees fewer bytes taken than given */
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct request *r = userdata;
	size_t n = size * nmemb;
	long code = 0;

	if (r->kind == REQ_STREAM) {
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
		if (code == 200)
			return stream_body(r, ptr, n) ? 0 : n;
	}
	if (r->resp.len + n > CLIENT_MAX_LINE) {
		r->too_big = true;
		return 0;
	}
	strbuf_add(&r->resp, ptr, n);
	return n;
}

/* What went wrong with a finished transfer, for the log; "" when it got 200. */
static long describe(struct request *r, CURLcode res, struct strbuf *why)
{
	long code = 0;

	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
	if (r->too_big)
		strbuf_addf(why, "%s from '%s' failed: answer longer than %u bytes",
			    req_names[r->kind], r->c->base, CLIENT_MAX_LINE);
	else if (res != CURLE_OK)
		strbuf_addf(why, "%s to '%s' failed: %s", req_names[r->kind], r->c->base,
			    curl_easy_strerror(res));
	else if (code != 200)
		strbuf_addf(why, "%s to '%s' failed: HTTP %ld %.200s", req_names[r->kind],
			    r->c->base, code, r->resp.buf);
	return res == CURLE_OK && !r->too_big ? code : 0;
}

static json_t *answer_json(struct request *r)
{
	struct strbuf why = STRBUF_INIT;
	json_t *v = NULL;

	if (json_parse_limited(r->resp.buf, r->resp.len, COMMAND_MAX_DEPTH, &v, &why) ||
	    !json_is_object(v)) {
		json_decref(v);
		v = NULL;
	}
	strbuf_release(&why);
	return v;
}

static int64_t json_int_or(json_t *o, const char *key, int64_t dflt)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static void reg_done(struct client *c, CURLcode res)
{
	struct request *r = c->reg;
	struct strbuf why = STRBUF_INIT;
	long code = describe(r, res, &why);
	json_t *ans = code == 200 ? answer_json(r) : NULL;
	json_t *id = json_object_get(ans, "agentId");
	int64_t epoch = json_int_or(ans, "epoch", -1), hb, acked;

	c->reg = NULL;
	if (code == 200 && (!json_is_string(id) || !*json_string_value(id) || epoch < 0))
		strbuf_addf(&why, "registration with '%s' failed: the answer lacks agentId or "
				  "epoch", c->base);
	if (why.len) {
		schedule_register(c, why.buf);
		goto out;
	}
	hb = json_int_or(ans, "heartbeatIntervalMs", DEFAULT_HEARTBEAT_MS);
	acked = json_int_or(ans, "ackedSeq", 0);
	c->heartbeat_ms = (uint64_t)(hb < MIN_HEARTBEAT_MS   ? MIN_HEARTBEAT_MS
				     : hb > MAX_HEARTBEAT_MS ? MAX_HEARTBEAT_MS
							     : hb);
	free(c->agent_id);
	c->agent_id = xstrdup(json_string_value(id));
	log_info("registered with '%s' as '%s' (epoch %lld)", c->base, c->agent_id,
		 (long long)epoch);
	c->ops->registered(c->data, c->agent_id, epoch, acked < 0 ? 0 : (uint64_t)acked);
	c->online = true;
	c->upd_backoff_ms = BACKOFF_FIRST_MS;
	open_stream(c);
	uv_timer_start(&c->hb_timer, on_hb_timer, c->heartbeat_ms, c->heartbeat_ms);
	send_updates(c); /* the first heartbeat, and whatever waited */
out:
	json_decref(ans);
	request_free(r);
	strbuf_release(&why);
}

static void stream_done(struct client *c, CURLcode res)
{
	struct request *r = c->stream;
	struct strbuf why = STRBUF_INIT;

	c->stream = NULL;
	describe(r, res, &why);
	if (!why.len)
		strbuf_addf(&why, "commands stream from '%s' ended", c->base);
	request_free(r);
	schedule_register(c, why.buf);
	strbuf_release(&why);
}

static void upd_done(struct client *c, CURLcode res)
{
	struct request *r = c->upd;
	struct strbuf why = STRBUF_INIT;
	long code = describe(r, res, &why);
	json_t *ans = code == 200 ? answer_json(r) : NULL;
	int64_t acked = json_int_or(ans, "ackedSeq", -1);
	bool again = c->upd_again;

	c->upd = NULL;
	c->upd_again = false;
	if (code == 404) {
		schedule_register(c, why.buf);
	} else if (code == 200 && acked >= 0) {
		c->upd_backoff_ms = BACKOFF_FIRST_MS;
		c->ops->acked(c->data, (uint64_t)acked);
		if (again)
			send_updates(c);
	} else {
		uint64_t delay = next_backoff(&c->upd_backoff_ms);

		if (!why.len)
			strbuf_addf(&why, "updates to '%s' failed: the answer lacks ackedSeq",
				    c->base);
		log_warn("%s; retrying in %llu ms", why.buf, (unsigned long long)delay);
		uv_timer_start(&c->upd_timer, on_upd_timer, delay, 0);
	}
	json_decref(ans);
	request_free(r);
	strbuf_release(&why);
}

/* A transfer finished (curl_loop_done_fn); its handler frees the request. */
static void on_done(void *arg, CURL *easy, CURLcode res)
{
	struct client *c = arg;
	struct request *r = NULL;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
	if (r == c->reg)
		reg_done(c, res);
	else if (r == c->stream)
		stream_done(c, res);
	else if (r == c->upd)
		upd_done(c, res);
}

/* ---- set-up ---- */

/*
 * Splits url into base (scheme://authority[/prefix]), host and port, and
 * resolves a host name once, here. Fills c->base and c->resolve.
 */
static int parse_server(struct client *c, const char *url, struct strbuf *why)
{
	const char *p, *auth, *end, *host_end, *port_s = NULL;
	bool https = !strncmp(url, "https://", 8);
	char *host = NULL, addr_s[INET6_ADDRSTRLEN];
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai, *pick = NULL;
	unsigned long port;
	unsigned char probe[16];
	size_t len;
	int err;

	if (!https && strncmp(url, "http://", 7)) {
		strbuf_addf(why, "invalid server URL '%s': http:// or https:// expected", url);
		return PACER_EBADCONFIG;
	}
	auth = url + (https ? 8 : 7);
	end = auth + strcspn(auth, "/?#");
	if (*auth == '[') {
		host_end = memchr(auth, ']', (size_t)(end - auth));
		if (!host_end)
			goto bad;
		host = xstrndup(auth + 1, (size_t)(host_end - auth - 1));
		p = host_end + 1;
	} else {
		host_end = memchr(auth, ':', (size_t)(end - auth));
		if (!host_end)
			host_end = end;
		host = xstrndup(auth, (size_t)(host_end - auth));
		p = host_end;
	}
	if (p < end && *p == ':')
		port_s = p + 1;
	else if (p != end)
		goto bad;
	port = https ? 443 : 80;
	if (port_s) {
		char *e;

		port = strtoul(port_s, &e, 10);
		if (e != end || port_s == end || port == 0 || port > 65535)
			goto bad;
	}
	if (!*host || strchr(host, '@'))
		goto bad;
	len = strlen(url);
	while (len > (size_t)(end - url) && url[len - 1] == '/')
		len--;
	if (*end == '?' || *end == '#')
		goto bad;
	c->base = xstrndup(url, len);

	if (inet_pton(AF_INET, host, probe) == 1 || inet_pton(AF_INET6, host, probe) == 1) {
		free(host);
		return 0;
	}
	err = getaddrinfo(host, NULL, &hints, &res);
	if (err) {
		strbuf_addf(why, "cannot resolve server host '%s': %s", host, gai_strerror(err));
		free(host);
		return PACER_EBADCONFIG;
	}
	for (ai = res; ai && !pick; ai = ai->ai_next)
		if (ai->ai_family == AF_INET)
			pick = ai;
	if (!pick)
		pick = res;
	if (pick->ai_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)pick->ai_addr)->sin_addr, addr_s,
			  sizeof(addr_s));
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)pick->ai_addr)->sin6_addr, addr_s,
			  sizeof(addr_s));
	{
		struct strbuf entry = STRBUF_INIT;

		strbuf_addf(&entry, pick->ai_family == AF_INET ? "%s:%lu:%s" : "%s:%lu:[%s]", host,
			    port, addr_s);
		c->resolve = curl_slist_append(NULL, entry.buf);
		strbuf_release(&entry);
	}
	log_info("server host '%s' resolved to %s", host, addr_s);
	freeaddrinfo(res);
	free(host);
	return 0;
bad:
	strbuf_addf(why, "invalid server URL '%s': expected http://HOST[:PORT][/PATH]", url);
	free(host);
	return PACER_EBADCONFIG;
}

static void timer_init(struct client *c, uv_timer_t *t)
{
	uv_timer_init(c->loop, t);
	t->data = c;
	c->open_handles++;
}

int client_new(struct client **out, uv_loop_t *loop, const char *server_url,
	       const struct client_ops *ops, void *data, struct strbuf *why)
{
	struct client *c = xcalloc(1, sizeof(*c));
	int err;

	*out = NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		free(c);
		strbuf_addstr(why, "cannot initialize libcurl");
		return PACER_EINTERNAL;
	}
	c->loop = loop;
	c->ops = ops;
	c->data = data;
	err = parse_server(c, server_url, why);
	if (err) {
		really_free(c);
		return err;
	}
	err = curl_loop_new(&c->cl, loop, on_done, c);
	PACER_ASSERT(!err);
	c->heartbeat_ms = DEFAULT_HEARTBEAT_MS;
	c->reg_backoff_ms = c->upd_backoff_ms = BACKOFF_FIRST_MS;
	timer_init(c, &c->reg_timer);
	timer_init(c, &c->upd_timer);
	timer_init(c, &c->hb_timer);
	timer_init(c, &c->kick_timer);
	timer_init(c, &c->idle_timer);
	*out = c;
	return 0;
}

void client_start(struct client *c)
{
	uv_timer_start(&c->reg_timer, on_reg_timer, 0, 0);
}

void client_kick(struct client *c)
{
	if (!uv_is_active((uv_handle_t *)&c->kick_timer))
		uv_timer_start(&c->kick_timer, on_kick_timer, 0, 0);
}

void client_free(struct client *c)
{
	if (!c)
		return;
	stop_session(c);
	request_free(c->reg);
	c->reg = NULL;
	c->freed = true;
	curl_loop_close(c->cl);
	c->cl = NULL;
	uv_close((uv_handle_t *)&c->reg_timer, on_handle_closed);
	uv_close((uv_handle_t *)&c->upd_timer, on_handle_closed);
	uv_close((uv_handle_t *)&c->hb_timer, on_handle_closed);
	uv_close((uv_handle_t *)&c->kick_timer, on_handle_closed);
	uv_close((uv_handle_t *)&c->idle_timer, on_handle_closed);
}
