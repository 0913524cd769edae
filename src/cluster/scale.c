/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Keeping apps at their instance count: placing missing instances with the
 * scheduler and launching them, killing extra and outdated ones (by the
 * app's killSelection), replacing failed ones with backoff
 * (backoffSeconds, backoffFactor, maxLaunchDelaySeconds), replacing
 * unreachable ones after unreachableStrategy.inactiveAfterSeconds and
 * forgetting them after expungeAfterSeconds.
 */
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "base/error.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "cluster/cluster_int.h"

/* Launches per check; the rest waits for the next check (soon), to keep loop turns short. */
#define LAUNCHES_PER_CHECK 512
/* At most one kill for failed health checks per app in this time (docs/architecture.md). */
#define HEALTH_KILL_GAP_MS 10000

static double num(const json_t *o, const char *key, double def)
{
	const json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : def;
}

static void on_check(uv_timer_t *t)
{
	scale_check(t->data);
}

void scale_schedule(struct cluster *c)
{
	/*
	 * Soon, but not sooner than the last check took: a stream of changes
	 * (hundreds of PUTs a second) then costs at most about half the loop.
	 */
	if (!c->closing && !uv_is_active((uv_handle_t *)&c->check_timer))
		uv_timer_start(&c->check_timer, on_check, c->check_cost_ms, 0);
}

/* "prod_web" for "/prod/web": Marathon 1.4's task id prefix. */
static void safe_app_id(const char *app_id, struct strbuf *out)
{
	for (const char *p = app_id + 1; *p; p++)
		strbuf_addch(out, *p == '/' ? '_' : *p);
}

/* Builds (or keeps) the app's scheduling spec for its current definition. */
static int ensure_spec(struct cluster *c, struct app_run *run, const struct app *app)
{
	const json_t *j = app->def->json, *v, *pd, *pm;
	uint16_t ports[SCHED_MAX_PORTS];
	const char *cons[SCHED_MAX_CONSTRAINTS][3];
	const char *roles[SCHED_MAX_ROLES];
	struct sched_spec_desc d = {0};
	struct strbuf why = STRBUF_INIT;
	struct sched_spec *spec;
	int require;
	size_t i;
	int err;

	if (run->spec && run->spec_version == app->version)
		return 0;
	require = json_is_true(json_object_get(j, "requirePorts"));
	d.cpus = app->def->cpus;
	d.mem = app->def->mem;
	d.disk = app->def->disk;
	d.gpus = (double)app->def->gpus;
	pd = json_object_get(j, "portDefinitions");
	json_array_foreach(pd, i, v)
		if (d.nports < SCHED_MAX_PORTS)
			ports[d.nports++] = require ? (uint16_t)json_integer_value(json_object_get(v, "port")) : 0;
	pm = json_object_get(json_object_get(j, "container"), "portMappings");
	json_array_foreach(pm, i, v)
		if (json_object_get(v, "hostPort") && d.nports < SCHED_MAX_PORTS)
			ports[d.nports++] = (uint16_t)json_integer_value(json_object_get(v, "hostPort"));
	d.ports = ports;
	json_array_foreach(json_object_get(j, "constraints"), i, v) {
		if (d.nconstraints >= SCHED_MAX_CONSTRAINTS)
			break;
		cons[d.nconstraints][0] = json_string_value(json_array_get(v, 0));
		cons[d.nconstraints][1] = json_string_value(json_array_get(v, 1));
		cons[d.nconstraints][2] = json_string_value(json_array_get(v, 2));
		d.nconstraints++;
	}
	d.constraints = (const char *const(*)[3])cons;
	json_array_foreach(json_object_get(j, "acceptedResourceRoles"), i, v)
		if (d.nroles < SCHED_MAX_ROLES)
			roles[d.nroles++] = json_string_value(v);
	d.roles = roles;
	err = sched_spec_new(c->sched, &d, &spec, &why);
	if (err) {
		log_error("cannot schedule app '%s': %s", app->id, why.buf);
		strbuf_release(&why);
		return err;
	}
	strbuf_release(&why);
	if (run->spec)
		sched_spec_free(c->sched, run->spec);
	if (run->spec_version && app->last_config_change_at != run->spec_scaling) {
		/* a new configuration starts with a clean slate */
		run->backoff_s = 0;
		run->delay_until = 0;
	}
	run->spec = spec;
	run->spec_version = app->version;
	run->spec_scaling = app->last_config_change_at;
	return 0;
}

/* Instances restored from the store take their resources back once their agent is known. */
static void adopt(struct cluster *c, struct app_run *run)
{
	for (size_t i = 0; i < run->n; i++) {
		struct inst *in = run->insts[i];
		uint32_t agent;

		if (in->placed || inst_is_terminal(in->state))
			continue;
		agent = sched_agent_find(c->sched, in->agent_id);
		if (agent == SCHED_NO_AGENT)
			continue;
		if (!sched_adopt(c->sched, run->sched_app, run->spec, agent, in->ports, &in->placement))
			in->placed = 1;
	}
}

struct launch_ctx {
	struct cluster *c;
	char *task_id;
	struct strbuf line;
};

static void launch_committed(void *arg, int status)
{
	struct launch_ctx *l = arg;
	struct inst *in = hashmap_get(&l->c->insts, l->task_id);

	if (status) {
		log_error("cannot store instance '%s': %s", l->task_id, pacer_strerror(status));
	} else if (in && !in->kill_sent) {
		struct agent *a = hashmap_get(&l->c->agents, in->agent_id);

		if (a)
			agent_send(l->c, a, l->line.buf, l->line.len);
	}
	free(l->task_id);
	strbuf_release(&l->line);
	free(l);
}

static void launch_line(struct cluster *c, const struct inst *in, const struct app *app,
			struct strbuf *b, const char *instance_id)
{
	const json_t *j = app->def->json, *v;
	char iso[TIME_ISO_LEN];
	size_t i;

	time_format_iso(in->version, iso);
	strbuf_addf(b, "{\"type\":\"launch\",\"epoch\":%llu,\"task\":{\"taskId\":",
		    (unsigned long long)c->epoch);
	strbuf_add_json_str(b, in->task_id);
	strbuf_addstr(b, ",\"instanceId\":");
	strbuf_add_json_str(b, instance_id);
	strbuf_addstr(b, ",\"appId\":");
	strbuf_add_json_str(b, app->id);
	strbuf_addf(b, ",\"version\":\"%s\"", iso);
	{
		static const char *const copy[] = {"cmd",    "args",  "user",        "env",
						   "labels", "fetch", "healthChecks"};

		for (size_t k = 0; k < sizeof(copy) / sizeof(copy[0]); k++) {
			v = json_object_get(j, copy[k]);
			strbuf_addf(b, ",\"%s\":", copy[k]);
			if (v) {
				char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);

				strbuf_addstr(b, s);
				free(s);
			} else {
				strbuf_addstr(b, "null");
			}
		}
	}
	strbuf_addstr(b, ",\"cpus\":");
	strbuf_add_json_double(b, app->def->cpus);
	strbuf_addstr(b, ",\"mem\":");
	strbuf_add_json_double(b, app->def->mem);
	strbuf_addstr(b, ",\"disk\":");
	strbuf_add_json_double(b, app->def->disk);
	strbuf_addf(b, ",\"gpus\":%lld,\"ports\":[", (long long)app->def->gpus);
	for (i = 0; i < in->nports; i++)
		strbuf_addf(b, "%s%u", i ? "," : "", in->ports[i]);
	strbuf_addstr(b, "],\"portNames\":[");
	json_array_foreach(json_object_get(j, "portDefinitions"), i, v) {
		const char *name = json_string_value(json_object_get(v, "name"));

		if (i)
			strbuf_addch(b, ',');
		if (name)
			strbuf_add_json_str(b, name);
		else
			strbuf_addstr(b, "null");
	}
	/* the ports asked for (service ports, as Marathon's PORT_<port> variables name them) */
	strbuf_addstr(b, "],\"requestedPorts\":[");
	json_array_foreach(json_object_get(j, "portDefinitions"), i, v)
		strbuf_addf(b, "%s%lld", i ? "," : "",
			    (long long)json_integer_value(json_object_get(v, "port")));
	strbuf_addf(b, "],\"killGracePeriodSeconds\":%d}}\n",
		    (int)num(j, "taskKillGracePeriodSeconds", 3));
}

/* Places and launches one instance. Returns 0, or SCHED_NOFIT with why filled. */
static int launch_one(struct cluster *c, struct app_run *run, const struct app *app,
		      struct sched_refusals *why)
{
	struct sched_placement pl;
	uint16_t ports[SCHED_MAX_PORTS];
	struct strbuf tid = STRBUF_INIT, iid = STRBUF_INIT;
	struct launch_ctx *l;
	struct inst *in;
	uuid_t u;
	char us[37];
	int err;

	memset(why, 0, sizeof(*why));
	err = sched_place(c->sched, run->sched_app, run->spec, &pl, ports, why);
	if (err)
		return err;
	uuid_generate_random(u);
	uuid_unparse_lower(u, us);
	safe_app_id(app->id, &tid);
	strbuf_addf(&iid, "%s.marathon-%s", tid.buf, us);
	strbuf_addf(&tid, ".%s", us);
	in = inst_new(c, run, tid.buf);
	in->version = app->version;
	in->agent_id = xstrdup(sched_agent_id(c->sched, pl.agent));
	in->host = xstrdup(sched_agent_hostname(c->sched, pl.agent));
	in->nports = pl.nports < MAX_TASK_PORTS ? pl.nports : MAX_TASK_PORTS;
	memcpy(in->ports, ports, in->nports * sizeof(uint16_t));
	in->placement = pl;
	in->placed = 1;
	in->state = INST_STAGING;
	in->staged_at = time_now_ms();
	inst_emit(c, in, NULL);

	l = xcalloc(1, sizeof(*l));
	l->c = c;
	l->task_id = xstrdup(in->task_id);
	strbuf_init(&l->line, 0);
	launch_line(c, in, app, &l->line, iid.buf);
	/*
	 * The launch goes out once the instance's record is durable: the persist
	 * is queued first, and batches commit (and call back) in order, so the
	 * empty batch's callback runs after the record's commit.
	 */
	inst_persist(c, in);
	if (store_commit(c->store, store_batch_new(), launch_committed, l)) {
		free(l->task_id);
		strbuf_release(&l->line);
		free(l);
	}
	strbuf_release(&tid);
	strbuf_release(&iid);
	return 0;
}

static int counts_as_active(const struct cluster *c, const struct inst *in, const json_t *unreach,
			    int64_t now)
{
	if (in->kill_sent || inst_is_terminal(in->state))
		return 0;
	if (in->state == INST_UNREACHABLE) {
		double inactive;

		if (json_is_string(unreach)) /* "disabled" */
			return 1;
		inactive = num(unreach, "inactiveAfterSeconds", 0);
		return now - in->unreachable_since < (int64_t)(inactive * 1000);
	}
	return 1;
}

static int cmp_youngest(const void *x, const void *y)
{
	const struct inst *a = *(struct inst *const *)x, *b = *(struct inst *const *)y;

	return a->staged_at < b->staged_at ? 1 : a->staged_at > b->staged_at ? -1 : 0;
}

static int kill_grace(const struct app *app)
{
	return app ? (int)num(app->def->json, "taskKillGracePeriodSeconds", 3) : 3;
}

/* Brings one app to its target; returns how many launches it used. */
static int check_app(struct cluster *c, struct app_run *run, int budget, int64_t now)
{
	const struct app *app = apps_get(c->apps, run->app_id);
	struct inst **active = NULL;
	size_t nactive = 0, alloc = 0;
	const json_t *unreach;
	int64_t desired;
	int used = 0;

	if (!app) {
		for (size_t i = 0; i < run->n; i++)
			if (!run->insts[i]->kill_sent && !inst_is_terminal(run->insts[i]->state))
				agent_send_kill(c, run->insts[i], 3);
		run->waiting = 0;
		return 0;
	}
	if (ensure_spec(c, run, app))
		return 0;
	adopt(c, run);
	unreach = NULL; /* looked up only for unreachable instances: a pass stays cheap */
	desired = app->def->instances;
	for (size_t i = 0; i < run->n; i++) {
		struct inst *in = run->insts[i];

		if (in->state == INST_UNREACHABLE && !unreach)
			unreach = json_object_get(app->def->json, "unreachableStrategy");

		if (in->state == INST_UNREACHABLE && json_is_object(unreach) &&
		    now - in->unreachable_since >=
			    (int64_t)(num(unreach, "expungeAfterSeconds", 0) * 1000) &&
		    now - in->unreachable_since >=
			    (int64_t)(num(unreach, "inactiveAfterSeconds", 0) * 1000)) {
			log_info("forgetting unreachable task '%s'", in->task_id);
			agents_note_expunged(c, in->agent_id, in->task_id);
			inst_forget(c, in);
			i--;
			continue;
		}
		if (!counts_as_active(c, in, unreach, now))
			continue;
		if (in->health_kill && in->state == INST_RUNNING &&
		    (!run->last_health_kill_ms ||
		     time_mono_ns() / 1000000u - run->last_health_kill_ms >= HEALTH_KILL_GAP_MS)) {
			run->last_health_kill_ms = time_mono_ns() / 1000000u;
			log_warn("killing task '%s' of '%s': it failed its health checks "
				 "maxConsecutiveFailures times", in->task_id, app->id);
			agent_send_kill(c, in, kill_grace(app));
			continue;
		}
		if (in->version < app->last_config_change_at) {
			/* an outdated configuration: replace it */
			agent_send_kill(c, in, kill_grace(app));
			continue;
		}
		ALLOC_GROW(active, nactive + 1, alloc);
		active[nactive++] = in;
	}
	if ((int64_t)nactive > desired) {
		const char *sel = json_string_value(json_object_get(app->def->json, "killSelection"));

		qsort(active, nactive, sizeof(*active), cmp_youngest);
		if (sel && !strcmp(sel, "OLDEST_FIRST"))
			for (size_t i = 0; i < nactive / 2; i++) {
				struct inst *t = active[i];

				active[i] = active[nactive - 1 - i];
				active[nactive - 1 - i] = t;
			}
		for (size_t i = 0; (int64_t)(nactive - i) > desired; i++)
			agent_send_kill(c, active[i], kill_grace(app));
	}
	run->waiting = 0;
	while ((int64_t)nactive + used < desired) {
		struct sched_refusals why;

		if (now < run->delay_until || used >= budget) {
			run->waiting = (unsigned)(desired - (int64_t)nactive - used);
			break;
		}
		if (launch_one(c, run, app, &why)) {
			run->waiting = (unsigned)(desired - (int64_t)nactive - used);
			run->last_refusals = why;
			sched_refusals_add(&run->attempt_refusals, &why);
			run->last_refused_at = now;
			break;
		}
		used++;
	}
	if (run->waiting && !run->queued_since)
		run->queued_since = now;
	if (!run->waiting) {
		run->queued_since = 0;
		memset(&run->attempt_refusals, 0, sizeof(run->attempt_refusals));
	}
	free(active);
	return used;
}

void scale_check(struct cluster *c)
{
	int64_t now = time_now_ms();
	struct app *const *all;
	size_t n;
	int budget = LAUNCHES_PER_CHECK;
	const char *key;
	void *val;
	struct app_run **orphans = NULL;
	size_t norphans = 0, aorphans = 0;

	uint64_t t0 = time_mono_ns();

	if (c->closing)
		return;
	all = apps_sorted(c->apps, &n);
	/*
	 * A check that runs out of launches resumes where it stopped: placing T
	 * tasks of N apps visits each app about once, not T / LAUNCHES_PER_CHECK
	 * times.
	 */
	{
		size_t k = 0, start = c->scan_pos < n ? c->scan_pos : 0;

		for (; k < n && budget > 0; k++)
			budget -= check_app(c, run_get(c, all[(start + k) % n]->id), budget, now);
		c->scan_pos = budget > 0 || !n ? 0 : (start + k - 1) % n;
	}
	/* runs of deleted apps: stop their instances, then let them go */
	for (size_t i = 0; hashmap_next(&c->runs, &i, &key, &val);) {
		if (!apps_get(c->apps, key)) {
			ALLOC_GROW(orphans, norphans + 1, aorphans);
			orphans[norphans++] = val;
		}
	}
	for (size_t i = 0; i < norphans; i++) {
		check_app(c, orphans[i], 0, now);
		run_maybe_free(c, orphans[i]);
	}
	free(orphans);
	c->check_cost_ms = (time_mono_ns() - t0) / 1000000u;
	if (c->check_cost_ms > 100)
		c->check_cost_ms = 100;
	if (budget <= 0)
		scale_schedule(c);
}

void scale_terminal(struct cluster *c, struct inst *in, const char *message)
{
	struct app_run *run = in->run;
	const struct app *app = apps_get(c->apps, run->app_id);
	int failed = in->state == INST_FAILED || in->state == INST_LOST;

	log_info("task '%s' of '%s' is %s%s%s", in->task_id, in->app_id,
		 inst_state_name(in->state), *message ? ": " : "", message);
	if (failed && app && !in->kill_sent) {
		const json_t *j = app->def->json;
		double base = num(j, "backoffSeconds", 1), factor = num(j, "backoffFactor", 1.15);
		double max = num(j, "maxLaunchDelaySeconds", 300);
		struct strbuf f = STRBUF_INIT;
		char ts[TIME_ISO_LEN], ver[TIME_ISO_LEN];

		if (run->backoff_s <= 0)
			run->backoff_s = base;
		run->delay_until = time_now_ms() + (int64_t)(run->backoff_s * 1000);
		run->backoff_s = run->backoff_s * factor > max ? max : run->backoff_s * factor;
		time_format_iso(time_now_ms(), ts);
		time_format_iso(in->version, ver);
		strbuf_addstr(&f, "{\"appId\":");
		strbuf_add_json_str(&f, in->app_id);
		strbuf_addstr(&f, ",\"host\":");
		strbuf_add_json_str(&f, in->host);
		strbuf_addstr(&f, ",\"message\":");
		strbuf_add_json_str(&f, message);
		strbuf_addf(&f, ",\"state\":\"%s\",\"taskId\":", inst_state_name(in->state));
		strbuf_add_json_str(&f, in->task_id);
		strbuf_addstr(&f, ",\"slaveId\":");
		strbuf_add_json_str(&f, in->agent_id);
		strbuf_addf(&f, ",\"timestamp\":\"%s\",\"version\":\"%s\"}", ts, ver);
		free(run->last_failure);
		run->last_failure = strbuf_detach(&f, NULL);
	}
	inst_emit(c, in, message);
	inst_forget(c, in);
	run_maybe_free(c, run);
	scale_schedule(c);
}
