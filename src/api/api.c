/* SPDX-License-Identifier: Apache-2.0 */
/* The API context, dispatch and answering helpers; see api.h and api_int.h. */
#include "api/api.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "api/api_int.h"
#include "base/error.h"
#include "cluster/cluster.h"
#include "base/json.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"

void api_record(struct api *api, struct http_request *req, int status)
{
	metrics_record(&api->metrics, http_request_tag(req), status,
		       time_mono_ns() - http_request_start_ns(req));
}

void api_respond_blob(struct api *api, struct http_request *req, int status,
		      struct http_blob *blob)
{
	api_record(api, req, status);
	http_respond_blob(req, status, "application/json; charset=utf-8", blob);
}

void api_respond_text(struct api *api, struct http_request *req, int status,
		      const char *content_type, struct strbuf *body)
{
	size_t len = 0;
	char *buf = body ? strbuf_detach(body, &len) : NULL;

	api_record(api, req, status);
	http_respond(req, status, content_type, buf, len);
}

void api_respond(struct api *api, struct http_request *req, int status, struct strbuf *body)
{
	api_respond_text(api, req, status, "application/json; charset=utf-8", body);
}

void api_respond_error(struct api *api, struct http_request *req, int status, const char *fmt,
		       ...)
{
	struct strbuf msg = STRBUF_INIT, body = STRBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	strbuf_vaddf(&msg, fmt, ap);
	va_end(ap);
	strbuf_addstr(&body, "{\"message\":");
	strbuf_add_json_str(&body, msg.buf);
	strbuf_addch(&body, '}');
	strbuf_release(&msg);
	api_respond(api, req, status, &body);
}

void api_respond_verrors(struct api *api, struct http_request *req, const struct verrors *e)
{
	struct strbuf body = STRBUF_INIT;

	verrors_to_json(e, &body);
	api_respond(api, req, 422, &body);
}

int api_parse_body(struct api *api, struct http_request *req, json_t **out)
{
	struct strbuf why = STRBUF_INIT, body = STRBUF_INIT;
	const char *buf;
	size_t len;
	int err;

	buf = http_request_body(req, &len);
	err = json_parse_limited(buf, len, api->cfg.max_json_depth, out, &why);
	if (!err)
		return 0;
	/* Marathon's shape for a body that is not JSON at all */
	strbuf_addstr(&body, "{\"message\":\"Invalid JSON\",\"details\":[{\"path\":\"/\",\"errors\":[");
	strbuf_add_json_str(&body, len ? why.buf : "the request has no body");
	strbuf_addstr(&body, "]}]}");
	strbuf_release(&why);
	api_respond(api, req, 400, &body);
	return err;
}

int api_query_bool(struct api *api, struct http_request *req, const char *name, int def,
		   int *out)
{
	const char *v = http_request_query(req, name);

	if (!v) {
		*out = def;
		return 0;
	}
	if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "")) {
		*out = 1;
		return 0;
	}
	if (!strcasecmp(v, "false") || !strcmp(v, "0")) {
		*out = 0;
		return 0;
	}
	api_respond_error(api, req, 400, "query parameter '%s' must be true or false, not '%s'",
			  name, v);
	return PACER_EBADREQUEST;
}

void api_new_deployment_id(char out[37])
{
	uuid_t u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
}

static void dispatch(void *ctx, struct http_request *req)
{
	struct api *api = ctx;
	const struct route *route;
	const char *rest = "";
	unsigned allowed = 0;
	int status = 404;
	char *path = xstrdup(http_request_path(req));

	router_normalize(path, path);
	route = router_match(api->router, http_request_method(req), path, &rest, &status,
			     &allowed);
	if (!route) {
		http_request_set_tag(req, 0);
		if (status == 405) {
			struct strbuf allow = STRBUF_INIT;
			static const char *const names[] = {"GET", "HEAD", "POST", "PUT",
							    "PATCH", "DELETE", "OPTIONS"};

			for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
				if (allowed & (1u << i))
					strbuf_addf(&allow, "%s%s", allow.len ? ", " : "", names[i]);
			http_response_header(req, "Allow", allow.buf);
			api_respond_error(api, req, 405, "method %s is not allowed on '%s'",
					  http_request_method_name(req), path);
			strbuf_release(&allow);
		} else {
			api_respond_error(api, req, 404, "no resource at '%s'", path);
		}
		free(path);
		return;
	}
	http_request_set_tag(req, metrics_route(&api->metrics, route->name));
	((api_handler_fn *)route->fn)(api, req, rest);
	free(path);
}

/* host:port that clients should use to reach this server: /v2/info, /v2/leader. */
static void set_leader(struct api *api, const struct api_config *cfg)
{
	char host[256] = "";
	const char *colon = strrchr(cfg->listen, ':');
	size_t hlen = colon ? (size_t)(colon - cfg->listen) : 0;

	if (cfg->hostname && *cfg->hostname) {
		snprintf(host, sizeof(host), "%s", cfg->hostname);
	} else if (hlen && hlen < sizeof(host)) {
		memcpy(host, cfg->listen, hlen);
		host[hlen] = '\0';
	}
	/* a wildcard address says nothing to clients: name the machine instead */
	if (!*host || !strcmp(host, "0.0.0.0") || !strcmp(host, "[::]")) {
		if (gethostname(host, sizeof(host) - 1))
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
	}
	snprintf(api->leader, sizeof(api->leader), "%s:%u", host, httpd_port(api->httpd));
}

int api_start(struct api **out, uv_loop_t *loop, const struct api_config *cfg,
	      struct store *store, struct apps *apps, struct cluster *cluster)
{
	struct api *api = xcalloc(1, sizeof(*api));
	struct httpd_config hc = {
		.listen = cfg->listen,
		.max_body_bytes = cfg->max_body_bytes,
		.max_header_bytes = cfg->max_header_bytes,
		.idle_timeout_s = cfg->idle_timeout_s,
		.max_connections = cfg->max_connections,
	};
	int err;

	api->loop = loop;
	api->cfg = *cfg;
	if (!api->cfg.max_json_depth)
		api->cfg.max_json_depth = 64;
	api->store = store;
	api->apps = apps;
	api->cluster = cluster;
	api->events = cluster ? cluster_event_bus(cluster) : NULL;
	api->started_ms = time_now_ms();
	api_new_deployment_id(api->framework_id);
	metrics_init(&api->metrics);
	api->router = router_new();
	api_misc_register(api);
	api_apps_register(api);
	api_cluster_register(api);
	api_events_register(api);
	api_deployments_register(api);
	api_ports_init(api);
	err = httpd_start(&api->httpd, loop, &hc, dispatch, api);
	if (err) {
		api_ports_release(api);
		router_free(api->router);
		free(api);
		return err;
	}
	set_leader(api, cfg);
	api_deployments_start(api);
	*out = api;
	return 0;
}

void api_quiesce(struct api *api)
{
	httpd_quiesce(api->httpd);
	api_deployments_stop(api);
}

void api_stop(struct api *api)
{
	httpd_stop(api->httpd);
	if (api->apps_cache)
		http_blob_unref(api->apps_cache);
	api_ports_release(api);
	router_free(api->router);
	api_deployments_free(api);
	if (api->ev_notes.buf)
		strbuf_release(&api->ev_notes);
	free(api);
}

unsigned api_port(const struct api *api)
{
	return httpd_port(api->httpd);
}
