/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The simulated agents and their tasks (see sim.h): commands in, updates
 * and registrations out. The network side is lane.c.
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "sim/sim_int.h"

uint32_t sim_now(const struct sim *s)
{
	return (uint32_t)(uv_now(s->loop) - s->start_ms);
}

/* xorshift32: the fail and unhealthy draws, reproducible from the seed */
static double draw(struct sim *s)
{
	uint32_t x = s->rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	s->rng = x;
	return (double)x / 4294967296.0;
}

int sim_template_expand(const char *tmpl, unsigned i, struct strbuf *out, struct strbuf *why)
{
	for (const char *p = tmpl; *p;) {
		const char *end;
		char *num_end;
		unsigned long n;

		if (*p != '{') {
			strbuf_addch(out, *p++);
			continue;
		}
		end = strchr(p, '}');
		if (!end || p[1] != 'i')
			goto bad;
		if (end == p + 2) {
			strbuf_addf(out, "%u", i);
		} else if (p[2] == '%' || p[2] == '/') {
			n = strtoul(p + 3, &num_end, 10);
			if (num_end != end || !n)
				goto bad;
			strbuf_addf(out, "%lu", p[2] == '%' ? i % n : i / n);
		} else {
			goto bad;
		}
		p = end + 1;
	}
	return 0;
bad:
	strbuf_addf(why, "invalid template '%s': expected {i}, {i%%N} or {i/N}", tmpl);
	return PACER_EBADCONFIG;
}

void sim_agent_id(const struct sim *s, uint32_t i, struct strbuf *out)
{
	strbuf_addf(out, "%s%u", s->id_prefix, i);
}

uint32_t sim_agent_index(const struct sim *s, const char *id)
{
	size_t n = strlen(s->id_prefix);
	unsigned long i;
	char *end;

	if (strncmp(id, s->id_prefix, n) || id[n] < '0' || id[n] > '9')
		return UINT32_MAX;
	i = strtoul(id + n, &end, 10);
	return *end || i >= s->cfg.agents ? UINT32_MAX : (uint32_t)i;
}

/* ---- task records ---- */

static void hdr_get(const char *rec, struct task_hdr *h)
{
	memcpy(&h->due_ms, rec, 4);
	h->state = (uint8_t)rec[4];
	h->sent = (uint8_t)rec[5];
	h->acked = (uint8_t)rec[6];
	h->flags = (uint8_t)rec[7];
	memcpy(&h->idlen, rec + 8, 2);
}

static void hdr_put(char *rec, const struct task_hdr *h)
{
	memcpy(rec, &h->due_ms, 4);
	rec[4] = (char)h->state;
	rec[5] = (char)h->sent;
	rec[6] = (char)h->acked;
	rec[7] = (char)h->flags;
	memcpy(rec + 8, &h->idlen, 2);
}

/* Offset of the task's record in a's arena, or UINT32_MAX. */
static uint32_t task_find(const struct sim_agent *a, const char *id, size_t idlen)
{
	struct task_hdr h;

	for (uint32_t off = 0; off < a->len; off += TASK_HDR + h.idlen) {
		hdr_get(a->arena + off, &h);
		if (h.idlen == idlen && !memcmp(a->arena + off + TASK_HDR, id, idlen))
			return off;
	}
	return UINT32_MAX;
}

static uint32_t task_add(struct sim *s, struct sim_agent *a, const char *id, size_t idlen,
			 const struct task_hdr *h)
{
	size_t need = st_add(st_add(a->len, TASK_HDR), idlen);
	uint32_t off = a->len;

	if (need > a->alloc) {
		size_t n = a->alloc ? a->alloc : 64;

		while (n < need)
			n = n + n / 2;
		s->st.task_bytes += n - a->alloc;
		a->arena = xrealloc(a->arena, n);
		a->alloc = (uint32_t)n;
	}
	hdr_put(a->arena + off, h);
	memcpy(a->arena + off + TASK_HDR, id, idlen);
	a->len = (uint32_t)need;
	a->ntasks++;
	s->st.tasks++;
	return off;
}

static void task_remove(struct sim *s, struct sim_agent *a, uint32_t off)
{
	struct task_hdr h;
	uint32_t size;

	hdr_get(a->arena + off, &h);
	size = TASK_HDR + h.idlen;
	memmove(a->arena + off, a->arena + off + size, a->len - off - size);
	a->len -= size;
	a->ntasks--;
	s->st.tasks--;
	if (!a->ntasks) {
		s->st.task_bytes -= a->alloc;
		free(a->arena);
		a->arena = NULL;
		a->alloc = 0;
	}
}

static void count_state(struct sim *s, uint8_t state, int delta)
{
	if (state == ST_STARTING)
		s->st.starting += (uint64_t)(int64_t)delta;
	else if (state == ST_RUNNING)
		s->st.running += (uint64_t)(int64_t)delta;
}

static void set_state(struct sim *s, struct sim_agent *a, uint32_t off, struct task_hdr *h,
		      uint8_t state)
{
	count_state(s, h->state, -1);
	count_state(s, state, 1);
	h->state = state;
	hdr_put(a->arena + off, h);
	a->pending = 1;
}

static const char *state_name(uint8_t st)
{
	static const char *const names[] = {"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING",
					    "TASK_KILLED", "TASK_FAILED"};

	return names[st];
}

/* ---- protocol bodies ---- */

void sim_registration_body(struct sim *s, uint32_t i, struct strbuf *out)
{
	struct sim_agent *a = &s->agents[i];
	struct strbuf t = STRBUF_INIT, why = STRBUF_INIT;
	struct task_hdr h;
	int first = 1;

	strbuf_addstr(out, "{\"agentId\":\"");
	sim_agent_id(s, i, out);
	strbuf_addf(out, "\",\"hostname\":\"%s%u\",\"resources\":", s->cfg.hostname_prefix, i);
	sim_template_expand(s->cfg.resources, i, &t, &why); /* checked in sim_new */
	strbuf_add_json_str(out, t.buf);
	strbuf_reset(&t);
	strbuf_addstr(out, ",\"attributes\":");
	sim_template_expand(s->cfg.attributes, i, &t, &why);
	strbuf_add_json_str(out, t.buf);
	strbuf_addstr(out, ",\"cgroups\":\"none\",\"tasks\":[");
	/* what it runs; terminal tasks not yet acknowledged follow as updates */
	for (uint32_t off = 0; off < a->len; off += TASK_HDR + h.idlen) {
		hdr_get(a->arena + off, &h);
		if (h.state != ST_STARTING && h.state != ST_RUNNING)
			continue;
		strbuf_addstr(out, first ? "{\"taskId\":" : ",{\"taskId\":");
		first = 0;
		strbuf_add_json_strn(out, a->arena + off + TASK_HDR, h.idlen);
		strbuf_addf(out, ",\"state\":\"%s\"}", state_name(h.state));
	}
	strbuf_addstr(out, "]}");
	strbuf_release(&t);
	strbuf_release(&why);
}

void sim_registered(struct sim *s, uint32_t i, uint64_t epoch, uint64_t acked_seq)
{
	struct sim_agent *a = &s->agents[i];

	if (epoch > s->epoch)
		s->epoch = epoch;
	/* a new life of the sim under a known id continues the server's numbering */
	if (acked_seq > a->seq)
		a->seq = (uint32_t)acked_seq;
	a->registered = 1;
	s->st.registrations++;
}

bool sim_agent_updates(struct sim *s, uint32_t i, const char *iso, struct strbuf *out)
{
	struct sim_agent *a = &s->agents[i];
	struct task_hdr h;
	bool any = false;

	strbuf_addstr(out, "{\"agentId\":\"");
	sim_agent_id(s, i, out);
	strbuf_addf(out, "\",\"epoch\":%llu,\"updates\":[", (unsigned long long)s->epoch);
	for (uint32_t off = 0; a->pending && off < a->len; off += TASK_HDR + h.idlen) {
		hdr_get(a->arena + off, &h);
		if (h.state == h.acked || (h.flags & TF_INFLIGHT))
			continue;
		strbuf_addf(out, "%s{\"seq\":%u,\"taskId\":", any ? "," : "", ++a->seq);
		any = true;
		strbuf_add_json_strn(out, a->arena + off + TASK_HDR, h.idlen);
		strbuf_addf(out, ",\"state\":\"%s\",\"timestamp\":\"%s\",\"message\":\"%s\"",
			    state_name(h.state), iso,
			    h.state == ST_FAILED ? "simulated failure" : "");
		if (h.state == ST_RUNNING)
			strbuf_addf(out, ",\"healthy\":%s", h.flags & TF_UNHEALTHY ? "false" : "true");
		strbuf_addch(out, '}');
		h.sent = h.state;
		h.flags |= TF_INFLIGHT;
		hdr_put(a->arena + off, &h);
		s->st.updates_sent++;
	}
	strbuf_addstr(out, "]}");
	a->pending = 0;
	if (any)
		a->sent_seq = a->seq;
	return any;
}

void sim_agent_batch_done(struct sim *s, uint32_t i, bool acked, uint64_t acked_seq)
{
	struct sim_agent *a = &s->agents[i];
	struct task_hdr h;
	bool ok = acked && a->sent_seq && acked_seq >= a->sent_seq;

	for (uint32_t off = 0; off < a->len;) {
		hdr_get(a->arena + off, &h);
		if (!(h.flags & TF_INFLIGHT)) {
			off += TASK_HDR + h.idlen;
			continue;
		}
		h.flags &= (uint8_t)~TF_INFLIGHT;
		if (ok)
			h.acked = h.sent;
		if (h.state != h.acked)
			a->pending = 1; /* moved on meanwhile, or to be sent again */
		hdr_put(a->arena + off, &h);
		if (h.acked == h.state && h.state >= ST_KILLED) {
			task_remove(s, a, off); /* the server knows its end: forget it */
			continue;
		}
		off += TASK_HDR + h.idlen;
	}
	a->sent_seq = 0;
	if (a->pending)
		lane_kick(s, i);
}

/* ---- commands ---- */

static void due_push(struct sim *s, uint32_t agent, uint32_t due_ms)
{
	if (s->due_len == s->due_alloc) {
		size_t n = s->due_alloc ? s->due_alloc * 2 : 1024;
		struct due *d = xcalloc(n, sizeof(*d));

		for (size_t k = 0; k < s->due_len; k++)
			d[k] = s->dues[(s->due_head + k) % s->due_alloc];
		free(s->dues);
		s->dues = d;
		s->due_alloc = n;
		s->due_head = 0;
	}
	s->dues[(s->due_head + s->due_len) % s->due_alloc] = (struct due){agent, due_ms};
	s->due_len++;
	if (!uv_is_active((uv_handle_t *)&s->due_timer)) {
		uint32_t now = sim_now(s);

		uv_timer_start(&s->due_timer, s->due_timer.timer_cb,
			       due_ms > now ? due_ms - now : 0, 0);
	}
}

static void launch(struct sim *s, uint32_t i, const char *tid)
{
	struct sim_agent *a = &s->agents[i];
	size_t idlen = strlen(tid);
	struct task_hdr h = {0};
	uint32_t off;

	if (idlen > UINT16_MAX)
		return;
	s->st.launches++;
	off = task_find(a, tid, idlen);
	if (off != UINT32_MAX) {
		/* launched again: say where it is */
		hdr_get(a->arena + off, &h);
		h.acked = ST_NONE;
		hdr_put(a->arena + off, &h);
		a->pending = 1;
		lane_kick(s, i);
		return;
	}
	h.due_ms = sim_now(s) + s->cfg.start_delay_ms;
	h.idlen = (uint16_t)idlen;
	if (s->cfg.fail_rate > 0 && draw(s) < s->cfg.fail_rate)
		h.flags |= TF_FAIL;
	if (s->cfg.unhealthy_rate > 0 && draw(s) < s->cfg.unhealthy_rate)
		h.flags |= TF_UNHEALTHY;
	h.state = ST_STARTING;
	task_add(s, a, tid, idlen, &h);
	count_state(s, ST_STARTING, 1);
	a->pending = 1;
	due_push(s, i, h.due_ms);
	lane_kick(s, i);
}

static void kill_task(struct sim *s, uint32_t i, const char *tid)
{
	struct sim_agent *a = &s->agents[i];
	size_t idlen = strlen(tid);
	struct task_hdr h = {0};
	uint32_t off;

	if (idlen > UINT16_MAX)
		return;
	s->st.kills++;
	off = task_find(a, tid, idlen);
	if (off == UINT32_MAX) {
		/* not here: report it killed, which the server takes as its end */
		h.idlen = (uint16_t)idlen;
		h.state = ST_KILLED;
		off = task_add(s, a, tid, idlen, &h);
	} else {
		hdr_get(a->arena + off, &h);
		if (h.state >= ST_KILLED) {
			h.acked = ST_NONE; /* say so again */
			hdr_put(a->arena + off, &h);
		} else {
			set_state(s, a, off, &h, ST_KILLED);
			s->st.killed++;
		}
	}
	a->pending = 1;
	lane_kick(s, i);
}

void sim_command(struct sim *s, json_t *cmd)
{
	const char *type = json_string_value(json_object_get(cmd, "type"));
	const char *id = json_string_value(json_object_get(cmd, "agentId"));
	json_int_t epoch = json_integer_value(json_object_get(cmd, "epoch"));
	uint32_t i;

	if (!type || !strcmp(type, "ping"))
		return;
	if ((uint64_t)epoch < s->epoch) {
		log_warn("refusing a command of epoch %lld: epoch %llu was seen", (long long)epoch,
			 (unsigned long long)s->epoch);
		return;
	}
	s->epoch = (uint64_t)epoch;
	i = id ? sim_agent_index(s, id) : UINT32_MAX;
	if (i == UINT32_MAX) {
		log_warn("ignoring a command for agent '%s', which is not simulated here",
			 id ? id : "(none)");
		return;
	}
	if (!strcmp(type, "launch")) {
		const char *tid = json_string_value(json_object_get(json_object_get(cmd, "task"), "taskId"));

		if (tid)
			launch(s, i, tid);
	} else if (!strcmp(type, "kill")) {
		const char *tid = json_string_value(json_object_get(cmd, "taskId"));

		if (tid)
			kill_task(s, i, tid);
	}
}

/* Tasks whose start delay is over become TASK_RUNNING (or TASK_FAILED). */
static void on_due(uv_timer_t *t)
{
	struct sim *s = t->data;
	uint32_t now = sim_now(s);

	while (s->due_len) {
		struct due d = s->dues[s->due_head];
		struct sim_agent *a = &s->agents[d.agent];
		struct task_hdr h;

		if ((int32_t)(d.due_ms - now) > 0) {
			uv_timer_start(&s->due_timer, on_due, d.due_ms - now, 0);
			return;
		}
		s->due_head = (s->due_head + 1) % s->due_alloc;
		s->due_len--;
		for (uint32_t off = 0; off < a->len; off += TASK_HDR + h.idlen) {
			hdr_get(a->arena + off, &h);
			if (h.state != ST_STARTING || (int32_t)(h.due_ms - now) > 0)
				continue;
			if (h.flags & TF_FAIL)
				s->st.failed++;
			set_state(s, a, off, &h, h.flags & TF_FAIL ? ST_FAILED : ST_RUNNING);
		}
		if (a->pending)
			lane_kick(s, d.agent);
	}
}

/* Every agent is heard from at least once per heartbeat interval. */
static void on_heartbeat(uv_timer_t *t)
{
	struct sim *s = t->data;

	for (unsigned k = 0; k < s->cfg.connections; k++) {
		s->lanes[k].hb_due = true;
		lane_kick(s, k);
	}
}

/* ---- lifecycle ---- */

int sim_new(struct sim **out, uv_loop_t *loop, const struct sim_config *cfg, struct strbuf *why)
{
	struct sim *s;
	struct strbuf t = STRBUF_INIT;
	int err;

	*out = NULL;
	if (!cfg->agents || !cfg->connections) {
		strbuf_addstr(why, "--agents and --connections must be at least 1");
		return PACER_EBADCONFIG;
	}
	err = sim_template_expand(cfg->resources, 0, &t, why);
	if (!err)
		err = sim_template_expand(cfg->attributes, 0, &t, why);
	strbuf_release(&t);
	if (err)
		return err;
	s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->cfg = *cfg;
	if (s->cfg.connections > s->cfg.agents)
		s->cfg.connections = s->cfg.agents;
	s->rng = cfg->seed ? cfg->seed : 0x9e3779b9u;
	s->start_ms = uv_now(loop);
	s->hb_ms = 1000;
	{
		struct strbuf p = STRBUF_INIT;

		strbuf_addf(&p, "agent-%s", cfg->hostname_prefix);
		s->id_prefix = strbuf_detach(&p, NULL);
	}
	s->agents = xcalloc(s->cfg.agents, sizeof(*s->agents));
	s->st.agents = s->cfg.agents;
	s->st.agent_bytes = (uint64_t)s->cfg.agents * sizeof(*s->agents);
	uv_timer_init(loop, &s->due_timer);
	uv_timer_init(loop, &s->hb_timer);
	s->due_timer.data = s->hb_timer.data = s;
	s->due_timer.timer_cb = on_due;
	s->open_handles = 2;
	err = lanes_init(s, why);
	if (err) {
		sim_free(s);
		return err;
	}
	*out = s;
	return 0;
}

void sim_start(struct sim *s)
{
	lanes_start(s);
	uv_timer_start(&s->hb_timer, on_heartbeat, s->hb_ms, s->hb_ms);
}

void sim_stats(const struct sim *s, struct sim_stats *out)
{
	*out = s->st;
	out->registered = 0;
	for (unsigned k = 0; k < s->cfg.connections; k++) {
		const struct lane *l = &s->lanes[k];

		if (l->phase == LANE_ONLINE)
			out->registered += (s->cfg.agents - k + s->cfg.connections - 1) / s->cfg.connections;
	}
}

static void really_free(struct sim *s)
{
	for (unsigned i = 0; i < s->cfg.agents; i++)
		free(s->agents[i].arena);
	free(s->agents);
	free(s->lanes);
	free(s->dues);
	free(s->id_prefix);
	curl_slist_free_all(s->resolve);
	free(s->base);
	if (s->multi_inited)
		curl_global_cleanup();
	free(s);
}

void sim_handle_closed(uv_handle_t *h)
{
	struct sim *s = h->data;

	if (!--s->open_handles)
		really_free(s);
}

void sim_free(struct sim *s)
{
	if (!s)
		return;
	lanes_free(s);
	uv_close((uv_handle_t *)&s->due_timer, sim_handle_closed);
	uv_close((uv_handle_t *)&s->hb_timer, sim_handle_closed);
}
