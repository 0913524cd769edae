/* SPDX-License-Identifier: Apache-2.0 */
/* The task environment Marathon and Mesos give; see env.h. */
#include "agent/env.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "base/strbuf.h"
#include "base/xalloc.h"

/* Marathon's EnvironmentHelper limits */
#define MAX_ENV_VAR_LEN 512
#define LABEL_PREFIX "MARATHON_APP_LABEL_"
#define MAX_LABEL_NAME_LEN (MAX_ENV_VAR_LEN - (sizeof(LABEL_PREFIX) - 1))

static ssize_t env_find(const struct env_list *l, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; i < l->n; i++)
		if (!strncmp(l->v[i], name, nl) && l->v[i][nl] == '=')
			return (ssize_t)i;
	return -1;
}

void env_list_set(struct env_list *l, const char *name, const char *value)
{
	struct strbuf sb = STRBUF_INIT;
	ssize_t i = env_find(l, name);

	strbuf_addf(&sb, "%s=%s", name, value);
	if (i >= 0) {
		free(l->v[i]);
		l->v[i] = strbuf_detach(&sb, NULL);
		return;
	}
	ALLOC_GROW(l->v, l->n + 2, l->alloc);
	l->v[l->n++] = strbuf_detach(&sb, NULL);
	l->v[l->n] = NULL;
}

const char *env_list_get(const struct env_list *l, const char *name)
{
	ssize_t i = env_find(l, name);

	return i < 0 ? NULL : l->v[i] + strlen(name) + 1;
}

void env_list_release(struct env_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->alloc = 0;
}

/* Java's Double.toString for the values apps use: "1.0", "0.5", "128.0". */
static void fmt_double(char *buf, size_t size, double v)
{
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (!strpbrk(buf, ".eEn"))
		strncat(buf, ".0", size - strlen(buf) - 1);
}

/* Marathon's escape: runs of [^a-zA-Z0-9_] become one '_', then uppercase. */
static void add_escaped(struct strbuf *sb, const char *name)
{
	bool run = false;

	for (const char *p = name; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (isalnum(c) || c == '_') {
			strbuf_addch(sb, toupper(c));
			run = false;
		} else if (!run) {
			strbuf_addch(sb, '_');
			run = true;
		}
	}
}

static void set_double(struct env_list *l, const char *name, double v)
{
	char buf[64];

	fmt_double(buf, sizeof(buf), v);
	env_list_set(l, name, buf);
}

static void add_labels(const struct task_env_input *in, struct env_list *out)
{
	struct strbuf names = STRBUF_INIT, key = STRBUF_INIT;

	for (size_t i = 0; i < in->nlabels; i++) {
		const struct env_pair *lb = &in->labels[i];

		if (strlen(lb->name) >= MAX_LABEL_NAME_LEN || strlen(lb->value) >= MAX_ENV_VAR_LEN)
			continue;
		if (names.len)
			strbuf_addch(&names, ' ');
		strbuf_reset(&key);
		add_escaped(&key, lb->name);
		strbuf_addstr(&names, key.buf);
		strbuf_reset(&key);
		strbuf_addstr(&key, LABEL_PREFIX);
		add_escaped(&key, lb->name);
		env_list_set(out, key.buf, lb->value);
	}
	env_list_set(out, "MARATHON_APP_LABELS", names.buf);
	strbuf_release(&names);
	strbuf_release(&key);
}

static void add_ports(const struct task_env_input *in, struct env_list *out)
{
	struct strbuf key = STRBUF_INIT, all = STRBUF_INIT;
	char v[16];

	if (!in->nports)
		return;
	for (size_t i = 0; i < in->nports; i++) {
		const struct env_port *p = &in->ports[i];

		snprintf(v, sizeof(v), "%d", p->host_port);
		strbuf_reset(&key);
		strbuf_addf(&key, "PORT%zu", i);
		env_list_set(out, key.buf, v);
		/* Marathon: PORT_<requested port> only for a port that was asked for (non-zero) */
		if (p->requested_port) {
			strbuf_reset(&key);
			strbuf_addf(&key, "PORT_%d", p->requested_port);
			env_list_set(out, key.buf, v);
		}
		if (p->name && *p->name) {
			strbuf_reset(&key);
			strbuf_addstr(&key, "PORT_");
			add_escaped(&key, p->name);
			env_list_set(out, key.buf, v);
		}
		strbuf_addf(&all, "%s%d", i ? "," : "", p->host_port);
	}
	snprintf(v, sizeof(v), "%d", in->ports[0].host_port);
	env_list_set(out, "PORT", v);
	env_list_set(out, "PORTS", all.buf);
	strbuf_release(&key);
	strbuf_release(&all);
}

void task_env_build(const struct task_env_input *in, struct env_list *out)
{
	char buf[24];

	if (in->sandbox)
		env_list_set(out, "MESOS_SANDBOX", in->sandbox);
	if (in->agent_endpoint)
		env_list_set(out, "MESOS_AGENT_ENDPOINT", in->agent_endpoint);
	if (in->task_id)
		env_list_set(out, "MESOS_TASK_ID", in->task_id);
	if (in->app_id)
		env_list_set(out, "MARATHON_APP_ID", in->app_id);
	if (in->app_version)
		env_list_set(out, "MARATHON_APP_VERSION", in->app_version);
	if (in->docker_image)
		env_list_set(out, "MARATHON_APP_DOCKER_IMAGE", in->docker_image);
	set_double(out, "MARATHON_APP_RESOURCE_CPUS", in->cpus);
	set_double(out, "MARATHON_APP_RESOURCE_MEM", in->mem);
	set_double(out, "MARATHON_APP_RESOURCE_DISK", in->disk);
	/* gpus is a whole number in Marathon's app definition */
	snprintf(buf, sizeof(buf), "%lld", (long long)in->gpus);
	env_list_set(out, "MARATHON_APP_RESOURCE_GPUS", buf);
	add_labels(in, out);
	add_ports(in, out);
	if (in->host)
		env_list_set(out, "HOST", in->host);
	for (size_t i = 0; i < in->nenv; i++)
		env_list_set(out, in->env[i].name, in->env[i].value);
	if (!out->v) {
		ALLOC_GROW(out->v, 1, out->alloc);
		out->v[0] = NULL;
	}
}
