/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Marathon 1.11's event shapes, built from plain fields so that callers
 * (src/cluster, src/api) need not know them; see bus.h.
 */
#include <string.h>

#include "base/timeutil.h"
#include "events/bus.h"

/* Status messages come from agents: long ones are cut to keep events small. */
#define MESSAGE_MAX 1024

static void add_iso(struct strbuf *b, int64_t ms)
{
	char iso[TIME_ISO_LEN];

	time_format_iso(ms, iso);
	strbuf_addch(b, '"');
	strbuf_addstr(b, iso);
	strbuf_addch(b, '"');
}

/* Marathon's instance conditions for the task states Pacer knows. */
static const char *condition_of(const char *state)
{
	static const struct {
		const char *state, *condition;
	} map[] = {
		{"TASK_STAGING", "Staging"},   {"TASK_STARTING", "Starting"},
		{"TASK_RUNNING", "Running"},   {"TASK_KILLING", "Killing"},
		{"TASK_FINISHED", "Finished"}, {"TASK_FAILED", "Failed"},
		{"TASK_KILLED", "Killed"},     {"TASK_LOST", "Gone"},
		{"TASK_UNREACHABLE", "Unreachable"},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i].state, state))
			return map[i].condition;
	return "Unknown";
}

/* Marathon 1.4's instance id: "<app>.marathon-<uuid>" for the task "<app>.<uuid>". */
static void add_instance_id(struct strbuf *b, const char *task_id)
{
	const char *dot = strrchr(task_id, '.');
	struct strbuf id = STRBUF_INIT;

	if (dot) {
		strbuf_add(&id, task_id, (size_t)(dot - task_id));
		strbuf_addstr(&id, ".marathon-");
		strbuf_addstr(&id, dot + 1);
	} else {
		strbuf_addstr(&id, task_id);
	}
	strbuf_add_json_str(b, id.buf);
	strbuf_release(&id);
}

void events_task_changed(struct event_bus *b, const struct event_task *t)
{
	struct strbuf f = STRBUF_INIT;
	const char *msg = t->message ? t->message : "";

	if (!b)
		return;
	strbuf_addstr(&f, "\"slaveId\":");
	strbuf_add_json_str(&f, t->agent_id ? t->agent_id : "");
	strbuf_addstr(&f, ",\"taskId\":");
	strbuf_add_json_str(&f, t->task_id);
	strbuf_addstr(&f, ",\"taskStatus\":");
	strbuf_add_json_str(&f, t->state);
	strbuf_addstr(&f, ",\"message\":");
	strbuf_add_json_strn(&f, msg, strnlen(msg, MESSAGE_MAX));
	strbuf_addstr(&f, ",\"appId\":");
	strbuf_add_json_str(&f, t->app_id);
	strbuf_addstr(&f, ",\"host\":");
	strbuf_add_json_str(&f, t->host ? t->host : "");
	strbuf_addstr(&f, ",\"ipAddresses\":[],\"ports\":[");
	for (size_t i = 0; i < t->nports; i++)
		strbuf_addf(&f, "%s%u", i ? "," : "", t->ports[i]);
	strbuf_addstr(&f, "],\"version\":");
	add_iso(&f, t->version);
	event_bus_publish(b, EVENT_STATUS_UPDATE, t->app_id, f.buf, f.len);

	strbuf_reset(&f);
	strbuf_addstr(&f, "\"instanceId\":");
	add_instance_id(&f, t->task_id);
	strbuf_addf(&f, ",\"condition\":\"%s\",\"runSpecId\":", condition_of(t->state));
	strbuf_add_json_str(&f, t->app_id);
	strbuf_addstr(&f, ",\"agentId\":");
	strbuf_add_json_str(&f, t->agent_id ? t->agent_id : "");
	strbuf_addstr(&f, ",\"host\":");
	strbuf_add_json_str(&f, t->host ? t->host : "");
	strbuf_addstr(&f, ",\"runSpecVersion\":");
	add_iso(&f, t->version);
	event_bus_publish(b, EVENT_INSTANCE_CHANGED, t->app_id, f.buf, f.len);
	strbuf_release(&f);
}

void events_api_post(struct event_bus *b, const char *client_ip, const char *uri,
		     const char *app_id, const char *def_json, size_t def_len, int64_t version)
{
	struct strbuf f = STRBUF_INIT;
	size_t head;

	if (!b)
		return;
	strbuf_addstr(&f, "\"clientIp\":");
	strbuf_add_json_str(&f, client_ip ? client_ip : "");
	strbuf_addstr(&f, ",\"uri\":");
	strbuf_add_json_strn(&f, uri, strnlen(uri, 1024));
	strbuf_addstr(&f, ",\"appDefinition\":");
	head = f.len;
	/* the public definition with its version, as Marathon shows it */
	if (def_len >= 2 && def_json[0] == '{' && def_json[def_len - 1] == '}') {
		strbuf_add(&f, def_json, def_len - 1);
		strbuf_addstr(&f, def_len > 2 ? ",\"version\":" : "\"version\":");
		add_iso(&f, version);
		strbuf_addch(&f, '}');
	}
	/* room for the id: line, event name, eventType and timestamp */
	if (f.len == head || f.len + 160 > EVENT_MAX_BYTES) {
		strbuf_setlen(&f, head);
		strbuf_addstr(&f, "{\"id\":");
		strbuf_add_json_str(&f, app_id);
		strbuf_addstr(&f, ",\"version\":");
		add_iso(&f, version);
		strbuf_addstr(&f, "},\"appDefinitionTrimmed\":true");
	}
	event_bus_publish(b, EVENT_API_POST, app_id, f.buf, f.len);
	strbuf_release(&f);
}

void events_app_terminated(struct event_bus *b, const char *app_id)
{
	struct strbuf f = STRBUF_INIT;

	if (!b)
		return;
	strbuf_addstr(&f, "\"appId\":");
	strbuf_add_json_str(&f, app_id);
	event_bus_publish(b, EVENT_APP_TERMINATED, app_id, f.buf, f.len);
	strbuf_release(&f);
}

void events_subscription(struct event_bus *b, int subscribe, const char *client_ip,
			 const char *callback_url, struct strbuf *out)
{
	struct strbuf f = STRBUF_INIT;
	enum event_type type = subscribe ? EVENT_SUBSCRIBE : EVENT_UNSUBSCRIBE;
	char ts[TIME_ISO_LEN];

	strbuf_addstr(&f, "\"clientIp\":");
	strbuf_add_json_str(&f, client_ip ? client_ip : "");
	strbuf_addstr(&f, ",\"callbackUrl\":");
	strbuf_add_json_str(&f, callback_url);
	if (out) {
		time_format_iso(time_now_ms(), ts);
		strbuf_addf(out, "{%s,\"eventType\":\"%s\",\"timestamp\":\"%s\"}", f.buf,
			    event_type_name(type), ts);
	}
	event_bus_publish(b, type, NULL, f.buf, f.len);
	strbuf_release(&f);
}
