/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The networking stage of app parsing: networks, the container (image,
 * volumes, port mappings) and port definitions, including Marathon's
 * translation of the pre-1.5 format (container.docker.network,
 * container.docker.portMappings, ipAddress, ports) into the canonical one,
 * as AppNormalization.forDeprecated and forPostValidation do in 1.11.
 */
#include <string.h>

#include "model/app_priv.h"

static const char *const net_modes[] = {"container", "container/bridge", "host", NULL};
static const char *const protocols[] = {"tcp", "udp", "udp,tcp", NULL};
static const char *const engines[] = {"MESOS", "DOCKER", NULL};
static const char *const docker_networks[] = {"BRIDGE", "HOST", "NONE", "USER", NULL};
static const char *const read_modes[] = {"RO", "RW", NULL};
static const char *const volume_types[] = {"root", "path", "mount", NULL};

#define NET_NAME_RULE "must fully match regular expression '^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$'"
#define PORT_NAME_RULE "must fully match regular expression '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'"

struct net {
	json_t *networks;  /* normalized, owned */
	int host, bridge;  /* a host / container/bridge network is there */
	size_t n_container; /* networks in mode "container" */
};

/* ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$, with '_' inside when underscore is set. */
static int name_valid(const char *s, size_t maxlen, int underscore)
{
	size_t len = strlen(s);

	if (!len || len > maxlen)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int edge = i == 0 || i == len - 1;

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			continue;
		if (!edge && (c == '-' || (underscore && c == '_')))
			continue;
		return 0;
	}
	return 1;
}

static void missing(struct app_parse *p, const char *parent, const char *key)
{
	struct strbuf path = STRBUF_INIT;

	ap_child(&path, parent, key);
	verrors_add_type(p->errs, path.buf, "error.path.missing");
	strbuf_release(&path);
}

/* Optional "labels" of obj copied into out when non-empty (Marathon omits empty ones). */
static void copy_labels(struct app_parse *p, const json_t *obj, const char *path, json_t *out)
{
	json_t *labels;

	if (ap_strmap(p, obj, path, "labels", &labels) != AP_OK)
		return;
	if (json_object_size(labels))
		json_object_set_new(out, "labels", labels);
	else
		json_decref(labels);
}

static json_t *parse_network(struct app_parse *p, const json_t *n, const char *path)
{
	const char *mode = "container", *name;
	json_t *out;

	if (ap_vobj(p, n, path) != AP_OK)
		return NULL;
	ap_enum(p, n, path, "mode", net_modes, &mode);
	out = json_pack("{s:s}", "mode", mode);
	if (ap_str(p, n, path, "name", &name) == AP_OK) {
		struct strbuf sub = STRBUF_INIT;

		ap_child(&sub, path, "name");
		if (strcmp(mode, "container"))
			verrors_add(p->errs, sub.buf, "must not be set for %s networking", mode);
		else if (!name_valid(name, 63, 1))
			verrors_add(p->errs, sub.buf, NET_NAME_RULE);
		else
			json_object_set_new(out, "name", ap_string(name));
		strbuf_release(&sub);
	}
	copy_labels(p, n, path, out);
	return out;
}

/* A container network from the legacy ipAddress {networkName, labels}. */
static json_t *network_from_ip(struct app_parse *p, const json_t *ip)
{
	json_t *out = json_pack("{s:s}", "mode", "container");
	const char *name;

	if (ap_str(p, ip, "/ipAddress", "networkName", &name) == AP_OK) {
		if (!name_valid(name, 63, 1))
			verrors_add(p->errs, "/ipAddress/networkName", NET_NAME_RULE);
		else
			json_object_set_new(out, "name", ap_string(name));
	}
	copy_labels(p, ip, "/ipAddress", out);
	return out;
}

static void parse_networks(struct app_parse *p, const json_t *docker, const json_t *ip,
			   struct net *net)
{
	struct strbuf path = STRBUF_INIT;
	const json_t *nets = NULL;
	const char *dnet = NULL;
	json_t *out = json_array(), *n;
	size_t i;

	ap_enum(p, docker, "/container/docker", "network", docker_networks, &dnet);
	ap_arr(p, p->in, "", "networks", &nets);
	if (nets && json_array_size(nets)) {
		if (dnet)
			verrors_add(p->errs, "",
				    "must not specify both container.docker.network and networks");
		if (ip)
			verrors_add(p->errs, "", "must not specify both networks and ipAddress");
		for (i = 0; i < json_array_size(nets); i++) {
			ap_index(&path, "/networks", i);
			n = parse_network(p, json_array_get(nets, i), path.buf);
			if (n)
				json_array_append_new(out, n);
		}
	} else if (ip) {
		if (dnet && strcmp(dnet, "USER"))
			verrors_add(p->errs, "/ipAddress",
				    "is not supported with container.docker.network %s", dnet);
		json_array_append_new(out, network_from_ip(p, ip));
	} else if (dnet) {
		if (!strcmp(dnet, "HOST"))
			json_array_append_new(out, json_pack("{s:s}", "mode", "host"));
		else if (!strcmp(dnet, "BRIDGE"))
			json_array_append_new(out, json_pack("{s:s}", "mode", "container/bridge"));
		else if (!strcmp(dnet, "USER"))
			json_array_append_new(out, json_pack("{s:s}", "mode", "container"));
		else
			verrors_add(p->errs, "/container/docker/network",
				    "NONE networking is not supported");
	}
	if (!json_array_size(out))
		json_array_append_new(out, json_pack("{s:s}", "mode", "host"));

	for (i = 0; i < json_array_size(out); i++) {
		const char *mode = json_string_value(json_object_get(json_array_get(out, i), "mode"));
		const char *name = json_string_value(json_object_get(json_array_get(out, i), "name"));

		if (!strcmp(mode, "host")) {
			net->host = 1;
		} else if (!strcmp(mode, "container/bridge")) {
			net->bridge = 1;
		} else {
			net->n_container++;
			for (size_t j = 0; name && j < i; j++) {
				const char *other = json_string_value(
					json_object_get(json_array_get(out, j), "name"));

				if (other && !strcmp(name, other))
					verrors_add(p->errs, "/networks", "network names must be unique");
			}
		}
	}
	if (net->host && json_array_size(out) > 1)
		verrors_add(p->errs, "/networks",
			    "host networking may not be combined with other networks");
	if (net->bridge && json_array_size(out) > 1)
		verrors_add(p->errs, "/networks",
			    "container/bridge networking may not be combined with other networks");
	net->networks = out;
	p->host_network = net->host || !json_array_size(out);
	strbuf_release(&path);
}

static int port_in(struct app_parse *p, const json_t *obj, const char *path, const char *key,
		   int64_t *v)
{
	return ap_int(p, obj, path, key, 0, 0, 65535, v);
}

/* One container port mapping; NULL after an error. */
static json_t *parse_port_mapping(struct app_parse *p, const json_t *m, const char *path,
				  const struct net *net)
{
	struct strbuf sub = STRBUF_INIT;
	const char *proto = "tcp", *name;
	int64_t cport = 0, hport = -1, sport = 0;
	json_t *out, *nn;

	if (ap_vobj(p, m, path) != AP_OK)
		return NULL;
	port_in(p, m, path, "containerPort", &cport);
	port_in(p, m, path, "hostPort", &hport);
	port_in(p, m, path, "servicePort", &sport);
	ap_enum(p, m, path, "protocol", protocols, &proto);
	out = json_pack("{s:I}", "containerPort", (json_int_t)cport);
	if (hport >= 0)
		json_object_set_new(out, "hostPort", json_integer(hport));
	json_object_set_new(out, "servicePort", json_integer(sport));
	json_object_set_new(out, "protocol", ap_string(proto));
	if (ap_str(p, m, path, "name", &name) == AP_OK) {
		ap_child(&sub, path, "name");
		if (!name_valid(name, APP_MAX_STR, 0))
			verrors_add(p->errs, sub.buf, PORT_NAME_RULE);
		json_object_set_new(out, "name", ap_string(name));
	}
	copy_labels(p, m, path, out);
	if (ap_strarr(p, m, path, "networkNames", 0, &nn) == AP_OK) {
		for (size_t j = 0; j < json_array_size(nn); j++) {
			const char *want = json_string_value(json_array_get(nn, j));
			int found = 0;

			for (size_t k = 0; k < json_array_size(net->networks); k++) {
				const char *have = json_string_value(
					json_object_get(json_array_get(net->networks, k), "name"));

				found |= have && !strcmp(have, want);
			}
			if (!found) {
				ap_child(&sub, path, "networkNames");
				strbuf_addf(&sub, "(%zu)", j);
				verrors_add(p->errs, sub.buf,
					    "'%.64s' is not the name of one of the app's networks", want);
			}
		}
		if (hport >= 0 && net->n_container > 1 && json_array_size(nn) != 1)
			verrors_add(p->errs, path,
				    "networkNames must be a single item list when hostPort is "
				    "specified and more than 1 container network is defined");
		if (json_array_size(nn))
			json_object_set_new(out, "networkNames", nn);
		else
			json_decref(nn);
	} else if (hport >= 0 && net->n_container > 1) {
		verrors_add(p->errs, path,
			    "networkNames must be a single item list when hostPort is specified and "
			    "more than 1 container network is defined");
	}
	strbuf_release(&sub);
	return out;
}

/* Names must be unique among port definitions or port mappings. */
static void check_unique_names(struct app_parse *p, const json_t *ports, const char *path)
{
	for (size_t i = 0; i < json_array_size(ports); i++) {
		const char *a = json_string_value(json_object_get(json_array_get(ports, i), "name"));

		for (size_t j = 0; a && j < i; j++) {
			const char *b =
				json_string_value(json_object_get(json_array_get(ports, j), "name"));

			if (b && !strcmp(a, b)) {
				verrors_add(p->errs, path, "Port names must be unique.");
				return;
			}
		}
	}
}

static json_t *parse_port_mappings(struct app_parse *p, const json_t *pms, const char *path,
				   const struct net *net)
{
	struct strbuf ipath = STRBUF_INIT;
	json_t *out = json_array(), *m;

	for (size_t i = 0; i < json_array_size(pms); i++) {
		ap_index(&ipath, path, i);
		m = parse_port_mapping(p, json_array_get(pms, i), ipath.buf, net);
		if (m)
			json_array_append_new(out, m);
	}
	check_unique_names(p, out, path);
	strbuf_release(&ipath);
	return out;
}

/* Legacy ipAddress.discovery.ports become port mappings of a MESOS container. */
static json_t *mappings_from_discovery(struct app_parse *p, const json_t *ports)
{
	struct strbuf path = STRBUF_INIT;
	json_t *out = json_array();

	for (size_t i = 0; i < json_array_size(ports); i++) {
		const json_t *d = json_array_get(ports, i);
		const char *name, *proto = "tcp";
		int64_t number = 0;
		json_t *m;

		ap_index(&path, "/ipAddress/discovery/ports", i);
		if (ap_vobj(p, d, path.buf) != AP_OK)
			continue;
		port_in(p, d, path.buf, "number", &number);
		ap_enum(p, d, path.buf, "protocol", protocols, &proto);
		m = json_pack("{s:I,s:i,s:s}", "containerPort", (json_int_t)number, "servicePort", 0,
			      "protocol", proto);
		switch (ap_str(p, d, path.buf, "name", &name)) {
		case AP_OK:
			if (!name_valid(name, APP_MAX_STR, 0)) {
				strbuf_addstr(&path, "/name");
				verrors_add(p->errs, path.buf, PORT_NAME_RULE);
			}
			json_object_set_new(m, "name", ap_string(name));
			break;
		case AP_ABSENT:
			missing(p, path.buf, "name");
			break;
		default:
			break;
		}
		copy_labels(p, d, path.buf, m);
		json_array_append_new(out, m);
	}
	strbuf_release(&path);
	return out;
}

static json_t *default_port_mapping(int with_name)
{
	json_t *m = json_pack("{s:i,s:i,s:s}", "containerPort", 0, "servicePort", 0, "protocol",
			      "tcp");

	if (with_name)
		json_object_set_new(m, "name", ap_string("default"));
	return m;
}

/* A copy of mapping m with hostPort 0 in its place, after containerPort. */
static json_t *with_host_port(const json_t *m)
{
	json_t *out = json_object(), *v;
	const char *key;

	json_object_foreach((json_t *)m, key, v) {
		json_object_set(out, key, v);
		if (!strcmp(key, "containerPort"))
			json_object_set_new(out, "hostPort", json_integer(0));
	}
	return out;
}

static json_t *parse_docker(struct app_parse *p, const json_t *d, const char *engine)
{
	const char *path = "/container/docker", *image, *s;
	const json_t *params, *pull;
	int force = 0, priv = 0, mesos = !strcmp(engine, "MESOS");
	json_t *out, *plist = json_array();

	out = json_object();
	switch (ap_str(p, d, path, "image", &image)) {
	case AP_OK:
		if (!*image)
			verrors_add(p->errs, "/container/docker/image", "must not be empty");
		json_object_set_new(out, "image", ap_string(image));
		break;
	case AP_ABSENT:
		missing(p, path, "image");
		break;
	default:
		break;
	}
	ap_bool(p, d, path, "forcePullImage", &force);
	ap_bool(p, d, path, "privileged", &priv);
	json_object_set_new(out, "forcePullImage", json_boolean(force));
	json_object_set_new(out, "privileged", json_boolean(priv));
	if (ap_arr(p, d, path, "parameters", &params) == AP_OK) {
		struct strbuf ipath = STRBUF_INIT;

		if (mesos && json_array_size(params))
			verrors_add(p->errs, "/container/docker/parameters", "must be empty");
		for (size_t i = 0; i < json_array_size(params); i++) {
			const json_t *kv = json_array_get(params, i);
			const char *k = NULL, *v = NULL;

			ap_index(&ipath, "/container/docker/parameters", i);
			if (ap_vobj(p, kv, ipath.buf) != AP_OK)
				continue;
			if (ap_str(p, kv, ipath.buf, "key", &k) == AP_ABSENT)
				missing(p, ipath.buf, "key");
			if (ap_str(p, kv, ipath.buf, "value", &v) == AP_ABSENT)
				missing(p, ipath.buf, "value");
			if (k && !*k) {
				strbuf_addstr(&ipath, "/key");
				verrors_add(p->errs, ipath.buf, "must not be empty");
			}
			if (k && v)
				json_array_append_new(plist, json_pack("{s:s,s:s}", "key", k, "value", v));
		}
		strbuf_release(&ipath);
	}
	json_object_set_new(out, "parameters", plist);
	if (ap_member(d, "credential"))
		verrors_add(p->errs, "/container/docker/credential", "must be empty");
	if (ap_obj(p, d, path, "pullConfig", &pull) == AP_OK) {
		if (!mesos) {
			verrors_add(p->errs, "/container/docker/pullConfig",
				    "pullConfig is not supported with Docker containerizer");
		} else if (ap_str(p, pull, "/container/docker/pullConfig", "secret", &s) != AP_OK) {
			missing(p, "/container/docker/pullConfig", "secret");
		} else {
			if (!p->secrets || !json_object_get(p->secrets, s))
				verrors_add(p->errs, "/container/docker/pullConfig",
					    "pullConfig.secret must refer to an existing secret");
			json_object_set_new(out, "pullConfig", json_pack("{s:s}", "secret", s));
		}
	}
	if (mesos && ap_member(d, "network"))
		verrors_add(p->errs, "/container/docker/network", "must be empty");
	if (mesos && json_array_size(ap_member(d, "portMappings")))
		verrors_add(p->errs, "/container/docker/portMappings", "must be empty");
	return out;
}

static void check_container_path(struct app_parse *p, const json_t *v, const char *path,
				 const char **cpath)
{
	*cpath = NULL;
	switch (ap_str(p, v, path, "containerPath", cpath)) {
	case AP_OK:
		if (!**cpath) {
			struct strbuf sub = STRBUF_INIT;

			ap_child(&sub, path, "containerPath");
			verrors_add(p->errs, sub.buf, "must not be empty");
			strbuf_release(&sub);
		}
		break;
	case AP_ABSENT:
		missing(p, path, "containerPath");
		break;
	default:
		break;
	}
}

static json_t *parse_persistent(struct app_parse *p, const json_t *v, const char *path)
{
	struct strbuf sub = STRBUF_INIT, cpath = STRBUF_INIT;
	const json_t *pv = NULL, *cs = NULL;
	const char *type = NULL, *profile;
	int64_t size = 0, max_size = -1;
	json_t *out, *constraints = json_array();

	ap_child(&sub, path, "persistent");
	ap_obj(p, v, path, "persistent", &pv);
	if (!pv) {
		strbuf_release(&sub);
		json_decref(constraints);
		return NULL;
	}
	ap_enum(p, pv, sub.buf, "type", volume_types, &type);
	switch (ap_int(p, pv, sub.buf, "size", 1, 0, INT64_MAX, &size)) {
	case AP_ABSENT:
		missing(p, sub.buf, "size");
		break;
	case AP_OK:
		if (!size)
			verrors_add(p->errs, sub.buf, "size must be greater than 0");
		break;
	default:
		break;
	}
	ap_int(p, pv, sub.buf, "maxSize", 1, 0, INT64_MAX, &max_size);
	out = json_pack("{s:s,s:I}", "type", type ? type : "root", "size", (json_int_t)size);
	if (max_size >= 0) {
		if (!type || strcmp(type, "mount"))
			verrors_add(p->errs, sub.buf, "Only mount volumes can have maxSize");
		if (max_size <= size)
			verrors_add(p->errs, sub.buf, "Max size must be larger than size");
		json_object_set_new(out, "maxSize", json_integer(max_size));
	}
	if (ap_str(p, pv, sub.buf, "profileName", &profile) == AP_OK)
		json_object_set_new(out, "profileName", ap_string(profile));
	if (ap_arr(p, pv, sub.buf, "constraints", &cs) == AP_OK) {
		for (size_t i = 0; i < json_array_size(cs); i++) {
			const json_t *c = json_array_get(cs, i);
			const char *f, *op, *val;

			strbuf_reset(&cpath);
			strbuf_addf(&cpath, "%s/constraints(%zu)", sub.buf, i);
			if (ap_varr(p, c, cpath.buf) != AP_OK)
				continue;
			f = json_string_value(json_array_get(c, 0));
			op = json_string_value(json_array_get(c, 1));
			val = json_string_value(json_array_get(c, 2));
			if (json_array_size(c) != 3 || !f || !op || !val || strcmp(f, "path")) {
				verrors_add(p->errs, cpath.buf, "Unsupported constraint");
			} else if (strcmp(op, "LIKE") && strcmp(op, "UNLIKE")) {
				verrors_add(p->errs, cpath.buf, "Operator must be one of LIKE, UNLIKE");
			} else if (!app_regex_valid(val, NULL)) {
				verrors_add(p->errs, cpath.buf, "Invalid regular expression");
			} else {
				json_array_append_new(constraints,
						      json_pack("[s,s,s]", f, op, val));
			}
		}
		if (json_array_size(cs) && (!type || !strcmp(type, "root")))
			verrors_add(p->errs, sub.buf, "Constraints on root volumes are not supported");
	}
	json_object_set_new(out, "constraints", constraints);
	strbuf_release(&cpath);
	strbuf_release(&sub);
	return out;
}

static json_t *parse_external(struct app_parse *p, const json_t *v, const char *path)
{
	struct strbuf sub = STRBUF_INIT;
	const json_t *ev = NULL, *opts;
	const char *name, *provider = NULL;
	int64_t size;
	int shared;
	json_t *out = json_object(), *o;

	ap_child(&sub, path, "external");
	ap_obj(p, v, path, "external", &ev);
	if (ev) {
		if (ap_str(p, ev, sub.buf, "name", &name) == AP_OK && *name)
			json_object_set_new(out, "name", ap_string(name));
		else
			verrors_add(p->errs, sub.buf, "external volumes need a non-empty name");
		if (ap_str(p, ev, sub.buf, "provider", &provider) == AP_OK && *provider)
			json_object_set_new(out, "provider", ap_string(provider));
		else
			verrors_add(p->errs, sub.buf, "external volumes need a non-empty provider");
		if (provider && !strcmp(provider, "csi")) {
			/* CSI options are a nested object (pluginName, capability, ...). */
			if (ap_obj(p, ev, sub.buf, "options", &opts) == AP_OK)
				json_object_set_new(out, "options", json_deep_copy(opts));
		} else if (ap_strmap(p, ev, sub.buf, "options", &o) == AP_OK) {
			json_object_set_new(out, "options", o);
		}
		if (ap_int(p, ev, sub.buf, "size", 1, 0, INT64_MAX, &size) == AP_OK)
			json_object_set_new(out, "size", json_integer(size));
		if (ap_bool(p, ev, sub.buf, "shared", &shared) == AP_OK)
			json_object_set_new(out, "shared", json_boolean(shared));
	}
	strbuf_release(&sub);
	return out;
}

static json_t *parse_volume(struct app_parse *p, const json_t *v, const char *path)
{
	const char *cpath, *mode = "RW", *host, *secret;
	json_t *out, *inner;

	if (ap_vobj(p, v, path) != AP_OK)
		return NULL;
	check_container_path(p, v, path, &cpath);
	ap_enum(p, v, path, "mode", read_modes, &mode);
	out = json_pack("{s:s}", "containerPath", cpath ? cpath : "");
	if (ap_member(v, "persistent")) {
		struct strbuf sub = STRBUF_INIT;

		p->has_persistent = 1;
		ap_child(&sub, path, "containerPath");
		if (cpath && (!strcmp(cpath, ".") || !strcmp(cpath, "..")))
			verrors_add(p->errs, sub.buf, "must not be . or ..");
		if (cpath && strchr(cpath, '/'))
			verrors_add(p->errs, sub.buf, "value must not contain \"/\"");
		ap_child(&sub, path, "mode");
		if (strcmp(mode, "RW"))
			verrors_add(p->errs, sub.buf, "must be RW for persistent volumes");
		strbuf_release(&sub);
		json_object_set_new(out, "mode", ap_string(mode));
		inner = parse_persistent(p, v, path);
		if (inner)
			json_object_set_new(out, "persistent", inner);
	} else if (ap_member(v, "external")) {
		json_object_set_new(out, "external", parse_external(p, v, path));
		json_object_set_new(out, "mode", ap_string(mode));
	} else if (ap_member(v, "secret")) {
		if (ap_str(p, v, path, "secret", &secret) == AP_OK) {
			if (!p->secrets || !json_object_get(p->secrets, secret))
				verrors_add(p->errs, path,
					    "volume.secret must refer to an existing secret");
			json_object_set_new(out, "secret", ap_string(secret));
		}
	} else {
		switch (ap_str(p, v, path, "hostPath", &host)) {
		case AP_OK:
			if (!*host) {
				struct strbuf sub = STRBUF_INIT;

				ap_child(&sub, path, "hostPath");
				verrors_add(p->errs, sub.buf, "must not be empty");
				strbuf_release(&sub);
			}
			json_object_set_new(out, "hostPath", ap_string(host));
			break;
		case AP_ABSENT:
			missing(p, path, "hostPath");
			break;
		default:
			break;
		}
		json_object_set_new(out, "mode", ap_string(mode));
	}
	return out;
}

static json_t *parse_volumes(struct app_parse *p, const json_t *c)
{
	struct strbuf path = STRBUF_INIT;
	const json_t *vols;
	json_t *out = json_array(), *v;

	if (ap_arr(p, c, "/container", "volumes", &vols) == AP_OK) {
		for (size_t i = 0; i < json_array_size(vols); i++) {
			ap_index(&path, "/container/volumes", i);
			v = parse_volume(p, json_array_get(vols, i), path.buf);
			if (v)
				json_array_append_new(out, v);
		}
	}
	/* External volume names are global; one app may not use a name twice. */
	for (size_t i = 0; i < json_array_size(out); i++) {
		const char *a = json_string_value(
			json_object_get(json_object_get(json_array_get(out, i), "external"), "name"));

		for (size_t j = 0; a && j < i; j++) {
			const char *b = json_string_value(json_object_get(
				json_object_get(json_array_get(out, j), "external"), "name"));

			if (b && !strcmp(a, b))
				verrors_add(p->errs, "/container/volumes", "Volume names must be unique");
		}
	}
	strbuf_release(&path);
	return out;
}

/*
 * container.portMappings after Marathon's rules: the legacy
 * docker.portMappings and ipAddress.discovery.ports move here; host
 * networking drops them; other networks get the default mapping when none
 * was given, and at least as many mappings as declared port definitions.
 * Returns NULL for "no portMappings".
 */
static json_t *container_port_mappings(struct app_parse *p, const json_t *c, const json_t *docker,
				       const json_t *ip, const char *engine,
				       const struct net *net, const json_t *pdefs)
{
	const json_t *cpm = NULL, *dpm = NULL, *disc = NULL;
	json_t *pm = NULL;

	ap_arr(p, c, "/container", "portMappings", &cpm);
	if (docker && strcmp(engine, "MESOS"))
		ap_arr(p, docker, "/container/docker", "portMappings", &dpm);
	if (dpm && cpm && json_array_size(dpm))
		verrors_add(p->errs, "/container",
			    "cannot specify both portMappings and docker.portMappings");
	else if (dpm && !cpm)
		pm = parse_port_mappings(p, dpm, "/container/docker/portMappings", net);
	if (cpm)
		pm = parse_port_mappings(p, cpm, "/container/portMappings", net);

	if (ip && ap_obj(p, ip, "/ipAddress", "discovery", &disc) == AP_OK) {
		const json_t *dports = NULL;

		ap_arr(p, disc, "/ipAddress/discovery", "ports", &dports);
		if (json_array_size(dports)) {
			if (strcmp(engine, "MESOS")) {
				verrors_add(p->errs, "/ipAddress",
					    "ipAddress/discovery is not allowed for Docker containers");
			} else if (json_array_size(pm)) {
				verrors_add(p->errs, "/ipAddress",
					    "container.portMappings and ipAddress.discovery.ports "
					    "must not both be set");
			} else {
				json_decref(pm);
				pm = mappings_from_discovery(p, dports);
				check_unique_names(p, pm, "/ipAddress/discovery/ports");
			}
		}
	}

	if (p->host_network) {
		if (json_array_size(cpm) || json_array_size(dpm))
			verrors_add(p->errs, "/container",
				    "portMappings are not allowed with host-networking");
		json_decref(pm);
		return NULL;
	}
	if (!pm) {
		pm = json_array();
		json_array_append_new(pm, default_port_mapping(1));
	}
	while (json_array_size(pm) < json_array_size(pdefs))
		json_array_append_new(pm, default_port_mapping(0));
	if (net->bridge) {
		/* Backwards compatibility: in BRIDGE mode a missing hostPort is 0. */
		for (size_t i = 0; i < json_array_size(pm); i++) {
			json_t *m = json_array_get(pm, i);

			if (!json_object_get(m, "hostPort"))
				json_array_set_new(pm, i, with_host_port(m));
		}
	}
	return pm;
}

static json_t *parse_container(struct app_parse *p, const json_t *c, const json_t *docker,
			       const json_t *ip, const struct net *net, const json_t *pdefs)
{
	const char *engine = c ? "DOCKER" : "MESOS";
	const json_t *linux_info;
	json_t *out = json_object(), *pm;

	if (c)
		ap_enum(p, c, "/container", "type", engines, &engine);
	p->engine = !strcmp(engine, "DOCKER") ? AP_ENGINE_DOCKER : AP_ENGINE_MESOS;
	json_object_set_new(out, "type", ap_string(engine));
	if (docker)
		json_object_set_new(out, "docker", parse_docker(p, docker, engine));
	else if (p->engine == AP_ENGINE_DOCKER)
		verrors_add(p->errs, "/container/docker", "must be defined for container type DOCKER");
	json_object_set_new(out, "volumes", parse_volumes(p, c));
	pm = container_port_mappings(p, c, docker, ip, engine, net, pdefs);
	if (pm)
		json_object_set_new(out, "portMappings", pm);
	if (ap_obj(p, c, "/container", "linuxInfo", &linux_info) == AP_OK)
		json_object_set_new(out, "linuxInfo", json_deep_copy(linux_info));
	return out;
}

static json_t *parse_port_definition(struct app_parse *p, const json_t *d, const char *path)
{
	const char *proto = "tcp", *name;
	int64_t port = 0;
	json_t *out;

	if (ap_vobj(p, d, path) != AP_OK)
		return NULL;
	port_in(p, d, path, "port", &port);
	ap_enum(p, d, path, "protocol", protocols, &proto);
	out = json_pack("{s:I,s:s}", "port", (json_int_t)port, "protocol", proto);
	if (ap_str(p, d, path, "name", &name) == AP_OK) {
		if (!name_valid(name, APP_MAX_STR, 0)) {
			struct strbuf sub = STRBUF_INIT;

			ap_child(&sub, path, "name");
			verrors_add(p->errs, sub.buf, PORT_NAME_RULE);
			strbuf_release(&sub);
		}
		json_object_set_new(out, "name", ap_string(name));
	}
	copy_labels(p, d, path, out);
	return out;
}

/* portDefinitions, or the legacy ports migrated; NULL when neither was given. */
static json_t *migrated_port_definitions(struct app_parse *p, const json_t *ip)
{
	struct strbuf path = STRBUF_INIT;
	const json_t *pds = NULL, *ports = NULL;
	json_t *out = NULL, *d;
	size_t i;

	ap_arr(p, p->in, "", "portDefinitions", &pds);
	ap_arr(p, p->in, "", "ports", &ports);
	/* Clients that echo an app back may send "ports": [] next to portDefinitions. */
	if (pds && ports && !json_array_size(ports))
		ports = NULL;
	if (ip && (json_array_size(pds) || json_array_size(ports)))
		verrors_add(p->errs, "", "cannot specify both an IP address and port");
	if (ports) {
		out = json_array();
		for (i = 0; i < json_array_size(ports); i++) {
			int64_t port;

			ap_index(&path, "/ports", i);
			if (ap_vint(p, json_array_get(ports, i), path.buf, 0, 0, 65535, &port) != AP_OK)
				continue;
			for (size_t j = 0; port && j < json_array_size(out); j++) {
				if (json_integer_value(json_object_get(json_array_get(out, j),
								       "port")) == port) {
					verrors_add(p->errs, "", "ports must be unique");
					break;
				}
			}
			json_array_append_new(out, json_pack("{s:I,s:s}", "port", (json_int_t)port,
							     "protocol", "tcp"));
		}
	}
	if (pds) {
		json_t *legacy = out;

		out = json_array();
		for (i = 0; i < json_array_size(pds); i++) {
			ap_index(&path, "/portDefinitions", i);
			d = parse_port_definition(p, json_array_get(pds, i), path.buf);
			if (d)
				json_array_append_new(out, d);
		}
		if (legacy) {
			int same = json_array_size(legacy) == json_array_size(out);

			for (i = 0; same && i < json_array_size(out); i++)
				same = json_equal(json_object_get(json_array_get(out, i), "port"),
						  json_object_get(json_array_get(legacy, i), "port"));
			if (!same)
				verrors_add(p->errs, "",
					    "cannot specify both ports and port definitions");
			json_decref(legacy);
		}
		check_unique_names(p, out, "/portDefinitions");
		for (i = 0; i < json_array_size(out); i++) {
			json_int_t a = json_integer_value(json_object_get(json_array_get(out, i), "port"));

			for (size_t j = 0; a && j < i; j++) {
				if (json_integer_value(json_object_get(json_array_get(out, j), "port")) ==
				    a) {
					verrors_add(p->errs, "/portDefinitions", "Ports must be unique.");
					i = json_array_size(out);
					break;
				}
			}
		}
	}
	strbuf_release(&path);
	return out;
}

void app_parse_network(struct app_parse *p)
{
	const json_t *container = NULL, *docker = NULL, *ip = NULL;
	struct net net = {0};
	json_t *pdefs;
	int require = 0;

	ap_obj(p, p->in, "", "container", &container);
	if (container)
		ap_obj(p, container, "/container", "docker", &docker);
	ap_obj(p, p->in, "", "ipAddress", &ip);

	parse_networks(p, docker, ip, &net);
	pdefs = migrated_port_definitions(p, ip);
	if (container || ip || !p->host_network)
		ap_set(p, "container", parse_container(p, container, docker, ip, &net, pdefs));
	if (p->engine == AP_ENGINE_DOCKER && net.n_container > 1)
		verrors_add(p->errs, "",
			    "may only specify a single container network when using the Docker "
			    "container engine");

	ap_bool(p, p->in, "", "requirePorts", &require);
	if (p->host_network) {
		if (!pdefs) {
			pdefs = json_array();
			json_array_append_new(pdefs, json_pack("{s:i,s:s,s:s}", "port", 0, "protocol",
							       "tcp", "name", "default"));
		}
		ap_set(p, "portDefinitions", pdefs);
	} else {
		/*
		 * Port definitions apply to host networking only; as in Marathon's
		 * normalization, each one became a port mapping above.
		 */
		json_decref(pdefs);
		ap_set(p, "portDefinitions", json_array());
		require = 0;
	}
	ap_set(p, "requirePorts", json_boolean(require));
	ap_set(p, "networks", net.networks);
}
