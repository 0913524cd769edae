/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The environment of a task, as Marathon and Mesos give it (Marathon's
 * docs/docs/task-environment-vars.md, TaskBuilder.commandInfo and
 * EnvironmentHelper):
 *
 *   MESOS_SANDBOX, MESOS_AGENT_ENDPOINT (when known)       set by Mesos
 *   MESOS_TASK_ID, MARATHON_APP_ID, MARATHON_APP_VERSION,
 *   MARATHON_APP_DOCKER_IMAGE (when set),
 *   MARATHON_APP_RESOURCE_CPUS/_MEM/_DISK/_GPUS,
 *   MARATHON_APP_LABELS ("A B"), MARATHON_APP_LABEL_<A>=... task context
 *   PORT0..PORTn, PORT_<requested port> (non-zero requested
 *   ports), PORT_<NAME> (named ports), PORT (= PORT0), PORTS, HOST
 *   the app's own `env`
 *
 * Later lines win over earlier ones: Marathon merges taskContextEnv ++
 * portsEnv ++ HOST ++ app.env, so the app's `env` overrides everything
 * Marathon sets. Resources print as Scala's Double.toString does ("1.0",
 * "0.5", "128.0"). Label names and port names are uppercased with every run
 * of characters outside [A-Za-z0-9_] turned into one '_'; labels whose name
 * is 493 characters or longer, or whose value is 512 or longer, are left
 * out (Marathon's limits).
 */
#ifndef PACER_AGENT_ENV_H
#define PACER_AGENT_ENV_H

#include <stddef.h>

struct env_pair {
	const char *name;
	const char *value;
};

struct env_port {
	int host_port;      /* the port assigned on this host */
	int requested_port; /* the app's portDefinitions[i].port; 0 = random */
	const char *name;   /* the port definition's name, or NULL */
};

/* What the agent knows about a task when it launches it; nothing is owned. */
struct task_env_input {
	const char *app_id;        /* "/webshop/db" */
	const char *app_version;   /* "2015-04-02T09:37:00.596Z" */
	const char *task_id;
	const char *host;
	const char *sandbox;       /* MESOS_SANDBOX */
	const char *agent_endpoint; /* MESOS_AGENT_ENDPOINT, or NULL */
	const char *docker_image;  /* or NULL */
	double cpus, mem, disk, gpus;
	const struct env_port *ports;
	size_t nports;
	const struct env_pair *labels;
	size_t nlabels;
	const struct env_pair *env; /* the app's env */
	size_t nenv;
};

/* A NULL-terminated array of "NAME=value" strings, ready for execve. */
struct env_list {
	char **v;
	size_t n, alloc;
};

#define ENV_LIST_INIT {NULL, 0, 0}

/*
 * Fills out (empty, initialized) with the task's environment, one entry per
 * name. Never fails; out->v is NULL-terminated. Release with env_list_release.
 */
void task_env_build(const struct task_env_input *in, struct env_list *out);

/* Sets name=value, replacing an existing entry of that name. */
void env_list_set(struct env_list *l, const char *name, const char *value);
/* The value of name, or NULL. */
const char *env_list_get(const struct env_list *l, const char *name);
void env_list_release(struct env_list *l);

#endif
