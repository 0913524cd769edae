/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP callback subscribers on libcurl multi; see callbacks.h. */
#include "events/callbacks.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/error.h"
#include "base/hashmap.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "http/curl_loop.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 30000
#define CONNECT_TIMEOUT_MS 5000
#define REQUEST_TIMEOUT_MS 10000
#define URL_MAX 2048

struct cb_sub {
	struct event_callbacks *cbs;
	char *url;
	char key[64];              /* eventsubs/<hash> */
	struct event_filter f;
	struct curl_slist *resolve; /* host:port:address, or NULL until resolved */
	struct event **q;          /* queued events (references), a ring */
	size_t qhead, qcount;
	struct event *inflight;    /* being sent or waiting for its retry */
	CURL *easy;                /* the transfer in flight, or NULL */
	struct curl_slist *headers;
	unsigned attempt;          /* failures in a row of inflight */
	uv_timer_t retry;
	int removed;
};

struct event_callbacks {
	uv_loop_t *loop;
	struct store *store;
	size_t queue_max;
	struct curl_loop *cl;
	struct hashmap by_url;     /* url -> struct cb_sub */
	int open_handles;
	int freed;
	struct event_callbacks_stats stats;
};

/* ---- handles and memory ---- */

static void really_free(struct event_callbacks *cbs)
{
	hashmap_release(&cbs->by_url);
	free(cbs);
	curl_global_cleanup();
}

static void transfer_end(struct cb_sub *sub)
{
	if (sub->easy) {
		curl_loop_remove(sub->cbs->cl, sub->easy);
		curl_easy_cleanup(sub->easy);
		sub->easy = NULL;
	}
	curl_slist_free_all(sub->headers);
	sub->headers = NULL;
}

static void sub_closed(uv_handle_t *h)
{
	struct cb_sub *sub = h->data;
	struct event_callbacks *cbs = sub->cbs;

	free(sub);
	if (!--cbs->open_handles && cbs->freed)
		really_free(cbs);
}

/* Frees sub (it must be out of the map already). */
static void sub_free(struct cb_sub *sub)
{
	transfer_end(sub);
	event_unref(sub->inflight);
	for (size_t i = 0; i < sub->qcount; i++)
		event_unref(sub->q[(sub->qhead + i) % sub->cbs->queue_max]);
	free(sub->q);
	free(sub->url);
	curl_slist_free_all(sub->resolve);
	event_filter_release(&sub->f);
	uv_timer_stop(&sub->retry);
	uv_close((uv_handle_t *)&sub->retry, sub_closed);
}

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	return size * nmemb;
}

/* ---- URLs ---- */

/*
 * Parses url and resolves its host once. Returns 0 with *resolve (a
 * CURLOPT_RESOLVE list) or PACER_EBADREQUEST with why filled.
 */
static int parse_url(const char *url, struct curl_slist **resolve, struct strbuf *why)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;
	char addr[INET6_ADDRSTRLEN + 2];
	int err = PACER_EBADREQUEST, gai;

	PACER_ASSERT(u);
	if (strlen(url) > URL_MAX) {
		strbuf_addf(why, "invalid callbackUrl: longer than %d bytes", URL_MAX);
		goto out;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0)) {
		strbuf_addf(why, "invalid callbackUrl '%s': not an absolute http(s) URL", url);
		goto out;
	}
	if (strcmp(scheme, "http") && strcmp(scheme, "https")) {
		strbuf_addf(why, "invalid callbackUrl '%s': the scheme must be http or https", url);
		goto out;
	}
	curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
	if (resolve) {
		const char *h = host;
		size_t hl = strlen(host);
		char *bare = NULL;
		struct strbuf entry = STRBUF_INIT;

		if (hl > 2 && host[0] == '[') /* an IPv6 literal */
			h = bare = xstrndup(host + 1, hl - 2);
		gai = getaddrinfo(h, NULL, &hints, &res);
		free(bare);
		if (gai || !res) {
			strbuf_addf(why, "invalid callbackUrl '%s': cannot resolve '%s': %s", url,
				    host, gai_strerror(gai));
			goto out;
		}
		/* IPv4 first: "localhost" often lists ::1 first, servers often bind 127.0.0.1 */
		for (ai = res; ai; ai = ai->ai_next)
			if (ai->ai_family == AF_INET)
				break;
		if (!ai)
			ai = res;
		if (ai->ai_family == AF_INET6) {
			addr[0] = '[';
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr,
				  addr + 1, INET6_ADDRSTRLEN);
			strcat(addr, "]");
		} else {
			inet_ntop(AF_INET, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, addr,
				  sizeof(addr));
		}
		strbuf_addf(&entry, "%s:%s:%s", host, port ? port : "80", addr);
		*resolve = curl_slist_append(NULL, entry.buf);
		strbuf_release(&entry);
	}
	err = 0;
out:
	if (res)
		freeaddrinfo(res);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return err;
}

int event_callbacks_check_url(const char *url, struct strbuf *why)
{
	struct curl_slist *r = NULL;
	int err = parse_url(url, &r, why);

	curl_slist_free_all(r);
	return err;
}

/* ---- delivery ---- */

static void send_next(struct cb_sub *sub);

static void on_retry(uv_timer_t *t)
{
	send_next(t->data);
}

static void start_transfer(struct cb_sub *sub)
{
	struct event *e = sub->inflight;
	int err;

	if (!sub->resolve) {
		struct strbuf why = STRBUF_INIT;

		if (parse_url(sub->url, &sub->resolve, &why)) {
			log_warn("cannot deliver events to '%s': %s", sub->url, why.buf);
			strbuf_release(&why);
			sub->cbs->stats.failed++;
			sub->attempt++;
			uv_timer_start(&sub->retry, on_retry, BACKOFF_MAX_MS, 0);
			return;
		}
		strbuf_release(&why);
	}
	sub->easy = curl_easy_init();
	PACER_ASSERT(sub->easy);
	curl_easy_setopt(sub->easy, CURLOPT_URL, sub->url);
	curl_easy_setopt(sub->easy, CURLOPT_PRIVATE, sub);
	curl_easy_setopt(sub->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(sub->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(sub->easy, CURLOPT_USERAGENT, "pacer/" PACER_VERSION);
	curl_easy_setopt(sub->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(sub->easy, CURLOPT_TIMEOUT_MS, (long)REQUEST_TIMEOUT_MS);
	curl_easy_setopt(sub->easy, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(sub->easy, CURLOPT_RESOLVE, sub->resolve);
	sub->headers = curl_slist_append(NULL, "Content-Type: application/json");
	sub->headers = curl_slist_append(sub->headers, "Expect:");
	curl_easy_setopt(sub->easy, CURLOPT_HTTPHEADER, sub->headers);
	/* the event's own bytes: it stays referenced until the transfer ends */
	curl_easy_setopt(sub->easy, CURLOPT_POSTFIELDSIZE, (long)e->data_len);
	curl_easy_setopt(sub->easy, CURLOPT_POSTFIELDS, e->frame + e->data_off);
	err = curl_loop_add(sub->cbs->cl, sub->easy);
	PACER_ASSERT(!err);
}

/* Sends the event in flight again, or the next queued one. */
static void send_next(struct cb_sub *sub)
{
	struct event_callbacks *cbs = sub->cbs;

	if (sub->easy || sub->removed || uv_is_active((uv_handle_t *)&sub->retry))
		return;
	if (!sub->inflight) {
		if (!sub->qcount)
			return;
		sub->inflight = sub->q[sub->qhead];
		sub->qhead = (sub->qhead + 1) % cbs->queue_max;
		sub->qcount--;
		sub->attempt = 0;
	}
	start_transfer(sub);
}

static void transfer_done(struct cb_sub *sub, CURLcode res)
{
	long status = 0;

	curl_easy_getinfo(sub->easy, CURLINFO_RESPONSE_CODE, &status);
	transfer_end(sub);
	if (res == CURLE_OK && status >= 200 && status < 300) {
		sub->cbs->stats.delivered++;
		event_unref(sub->inflight);
		sub->inflight = NULL;
		sub->attempt = 0;
		send_next(sub);
		return;
	}
	{
		uint64_t delay = BACKOFF_FIRST_MS;

		for (unsigned i = 0; i < sub->attempt && delay < BACKOFF_MAX_MS; i++)
			delay *= 2;
		if (delay > BACKOFF_MAX_MS)
			delay = BACKOFF_MAX_MS;
		sub->attempt++;
		sub->cbs->stats.failed++;
		if (res != CURLE_OK)
			log_warn("cannot deliver event %llu to '%s': %s; retrying in %llu ms",
				 (unsigned long long)sub->inflight->id, sub->url,
				 curl_easy_strerror(res), (unsigned long long)delay);
		else
			log_warn("cannot deliver event %llu to '%s': it answered %ld; retrying "
				 "in %llu ms",
				 (unsigned long long)sub->inflight->id, sub->url, status,
				 (unsigned long long)delay);
		uv_timer_start(&sub->retry, on_retry, delay, 0);
	}
}

/* A transfer finished (curl_loop_done_fn). */
static void on_done(void *arg, CURL *easy, CURLcode res)
{
	struct cb_sub *sub = NULL;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&sub);
	if (sub)
		transfer_done(sub, res);
}

void event_callbacks_deliver(struct event_callbacks *cbs, struct event *e)
{
	const char *key;
	void *val;

	if (!cbs || e->type == EVENT_EVENT_STREAM_ATTACHED || e->type == EVENT_EVENT_STREAM_DETACHED)
		return; /* those concern event streams, not callbacks */
	for (size_t i = 0; hashmap_next(&cbs->by_url, &i, &key, &val);) {
		struct cb_sub *sub = val;

		if (!event_filter_match(&sub->f, e))
			continue;
		if (sub->qcount == cbs->queue_max) {
			event_unref(sub->q[sub->qhead]);
			sub->qhead = (sub->qhead + 1) % cbs->queue_max;
			sub->qcount--;
			cbs->stats.dropped++;
		}
		sub->q[(sub->qhead + sub->qcount) % cbs->queue_max] = event_ref(e);
		sub->qcount++;
		send_next(sub);
	}
}

/* ---- subscriptions ---- */

static void key_of(char out[64], const char *url)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)url; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	snprintf(out, 64, "eventsubs/%016llx", (unsigned long long)h);
}

static struct cb_sub *sub_new(struct event_callbacks *cbs, const char *url,
			      struct curl_slist *resolve, struct event_filter *f)
{
	struct cb_sub *sub = xcalloc(1, sizeof(*sub));

	sub->cbs = cbs;
	sub->url = xstrdup(url);
	key_of(sub->key, url);
	sub->resolve = resolve;
	sub->f = *f;
	memset(f, 0, sizeof(*f));
	sub->q = xcalloc(cbs->queue_max, sizeof(*sub->q));
	uv_timer_init(cbs->loop, &sub->retry);
	sub->retry.data = sub;
	cbs->open_handles++;
	hashmap_put(&cbs->by_url, sub->url, sub);
	cbs->stats.subscribers++;
	return sub;
}

static void record_json(const struct cb_sub *sub, struct strbuf *b)
{
	strbuf_addstr(b, "{\"callbackUrl\":");
	strbuf_add_json_str(b, sub->url);
	strbuf_addstr(b, ",\"eventTypes\":[");
	for (unsigned t = 0, n = 0; t < EVENT_NTYPES; t++)
		if (sub->f.types & (1u << t)) {
			strbuf_addstr(b, n++ ? "," : "");
			strbuf_add_json_str(b, event_type_name((enum event_type)t));
		}
	strbuf_addstr(b, "],\"appIds\":[");
	for (size_t i = 0; i < sub->f.nprefixes; i++) {
		strbuf_addstr(b, i ? "," : "");
		strbuf_add_json_str(b, sub->f.prefixes[i]);
	}
	strbuf_addstr(b, "]}");
}

struct commit_ctx {
	event_callbacks_done_fn *done;
	void *arg;
};

static void committed(void *arg, int status)
{
	struct commit_ctx *c = arg;

	if (status)
		log_error("cannot store an event subscription: %s", pacer_strerror(status));
	c->done(c->arg, status);
	free(c);
}

static int commit(struct event_callbacks *cbs, struct store_batch *b,
		  event_callbacks_done_fn *done, void *arg)
{
	struct commit_ctx *c = xcalloc(1, sizeof(*c));
	int err;

	c->done = done;
	c->arg = arg;
	err = store_commit(cbs->store, b, committed, c);
	if (err)
		free(c);
	return err;
}

int event_callbacks_add(struct event_callbacks *cbs, const char *url, struct event_filter *f,
			event_callbacks_done_fn *done, void *arg, struct strbuf *why)
{
	struct cb_sub *sub = hashmap_get(&cbs->by_url, url);
	struct curl_slist *resolve = NULL;
	struct store_batch *b;
	struct strbuf rec = STRBUF_INIT;
	int err;

	err = parse_url(url, &resolve, why);
	if (err)
		return err;
	if (sub) {
		event_filter_release(&sub->f);
		sub->f = *f;
		memset(f, 0, sizeof(*f));
		curl_slist_free_all(resolve);
	} else {
		sub = sub_new(cbs, url, resolve, f);
	}
	record_json(sub, &rec);
	b = store_batch_new();
	store_batch_put(b, sub->key, rec.buf, rec.len);
	strbuf_release(&rec);
	return commit(cbs, b, done, arg);
}

int event_callbacks_remove(struct event_callbacks *cbs, const char *url,
			   event_callbacks_done_fn *done, void *arg)
{
	struct cb_sub *sub = hashmap_remove(&cbs->by_url, url);
	struct store_batch *b;

	if (!sub)
		return PACER_ENOTFOUND;
	b = store_batch_new();
	store_batch_del(b, sub->key);
	sub->removed = 1;
	cbs->stats.subscribers--;
	sub_free(sub);
	return commit(cbs, b, done, arg);
}

void event_callbacks_json(const struct event_callbacks *cbs, struct strbuf *out)
{
	const char *key;
	void *val;
	int n = 0;

	strbuf_addstr(out, "{\"callbackUrls\":[");
	for (size_t i = 0; hashmap_next(&cbs->by_url, &i, &key, &val);) {
		strbuf_addstr(out, n++ ? "," : "");
		strbuf_add_json_str(out, key);
	}
	strbuf_addstr(out, "]}");
}

void event_callbacks_get_stats(const struct event_callbacks *cbs,
			       struct event_callbacks_stats *out)
{
	*out = cbs->stats;
}

static int load_cb(void *arg, const char *key, size_t key_len, const void *val, size_t val_len)
{
	struct event_callbacks *cbs = arg;
	json_t *rec = json_loadb(val, val_len, 0, NULL), *v;
	struct event_filter f = EVENT_FILTER_INIT;
	struct strbuf why = STRBUF_INIT;
	const char *url = json_string_value(json_object_get(rec, "callbackUrl"));
	size_t i;

	if (!url || hashmap_get(&cbs->by_url, url)) {
		log_warn("ignoring corrupt event subscription record '%s'", key);
		goto out;
	}
	json_array_foreach(json_object_get(rec, "eventTypes"), i, v)
		if (json_is_string(v))
			event_filter_add_type(&f, json_string_value(v), &why);
	json_array_foreach(json_object_get(rec, "appIds"), i, v)
		if (json_is_string(v))
			event_filter_add_prefix(&f, json_string_value(v), &why);
	/* resolved at its first delivery: start-up does not wait for DNS */
	sub_new(cbs, url, NULL, &f);
out:
	event_filter_release(&f);
	strbuf_release(&why);
	json_decref(rec);
	return 0;
}

int event_callbacks_new(struct event_callbacks **out, uv_loop_t *loop, struct store *store,
			size_t queue_max)
{
	struct event_callbacks *cbs = xcalloc(1, sizeof(*cbs));
	int err;

	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		free(cbs);
		log_error("cannot initialize libcurl");
		return PACER_EINTERNAL;
	}
	cbs->loop = loop;
	cbs->store = store;
	cbs->queue_max = queue_max ? queue_max : 1;
	hashmap_init(&cbs->by_url);
	err = curl_loop_new(&cbs->cl, loop, on_done, cbs);
	PACER_ASSERT(!err);
	err = store_scan(store, "eventsubs/", load_cb, cbs);
	if (err < 0) {
		log_error("cannot load event subscriptions: %s", pacer_strerror(err));
		event_callbacks_free(cbs);
		return err;
	}
	if (cbs->stats.subscribers)
		log_info("events: %llu callback subscriptions",
			 (unsigned long long)cbs->stats.subscribers);
	*out = cbs;
	return 0;
}

void event_callbacks_free(struct event_callbacks *cbs)
{
	const char *key;
	void *val;

	if (!cbs)
		return;
	for (size_t i = 0; hashmap_next(&cbs->by_url, &i, &key, &val);) {
		struct cb_sub *sub = val;

		sub->removed = 1;
		transfer_end(sub);
	}
	for (size_t i = 0; hashmap_next(&cbs->by_url, &i, &key, &val);)
		sub_free(val); /* the map is not changed: it is released at the end */
	cbs->freed = 1;
	curl_loop_close(cbs->cl);
	cbs->cl = NULL;
	if (!cbs->open_handles)
		really_free(cbs); /* no subscriber's timer to wait for */
}
