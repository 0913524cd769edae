/* SPDX-License-Identifier: Apache-2.0 */
/* Listening sockets from "host:port" addresses; see listen.h. */
#include "http/listen.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"

/*
 * Splits "host:port", "[v6]:port" or ":port" into host (NULL for every
 * address) and port. Returns 0 or PACER_EBADCONFIG.
 */
static int parse_listen(const char *listen, char *host, size_t host_size, char **hostp,
			unsigned *port)
{
	const char *colon = strrchr(listen, ':');
	const char *hs = listen, *he;
	char *end;
	unsigned long p;

	if (!colon)
		return PACER_EBADCONFIG;
	he = colon;
	if (*hs == '[') {
		if (he == hs || he[-1] != ']')
			return PACER_EBADCONFIG;
		hs++;
		he--;
	}
	if ((size_t)(he - hs) >= host_size)
		return PACER_EBADCONFIG;
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || p > 65535)
		return PACER_EBADCONFIG;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	*hostp = (*host && strcmp(host, "*")) ? host : NULL;
	*port = (unsigned)p;
	return 0;
}

static int bind_one(const struct sockaddr *sa, socklen_t len, int *out)
{
	int one = 1, zero = 0, fd, err;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail;
	/* "::" for ":port" serves IPv4 too */
	if (sa->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
		goto fail;
	if (bind(fd, sa, len) < 0 || listen(fd, SOMAXCONN) < 0)
		goto fail;
	*out = fd;
	return 0;
fail:
	err = -errno;
	close(fd);
	return err;
}

int http_listen_open(const char *listen, int *fd_out, uint16_t *port_out)
{
	struct addrinfo hints = {0}, *res, *ai;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char host[256], portstr[8], *hostp;
	unsigned port;
	int err, fd = -1;

	err = parse_listen(listen, host, sizeof(host), &hostp, &port);
	if (err) {
		log_error("cannot listen on '%s': not HOST:PORT, [IPV6]:PORT or :PORT", listen);
		return err;
	}
	snprintf(portstr, sizeof(portstr), "%u", port);
	hints.ai_family = hostp ? AF_UNSPEC : AF_INET6;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	err = getaddrinfo(hostp, portstr, &hints, &res);
	if (err && !hostp) {
		hints.ai_family = AF_INET; /* no IPv6 on this host */
		err = getaddrinfo(hostp, portstr, &hints, &res);
	}
	if (err) {
		log_error("cannot listen on '%s': %s", listen, gai_strerror(err));
		return PACER_EBADCONFIG;
	}
	err = -EADDRNOTAVAIL;
	for (ai = res; ai; ai = ai->ai_next) {
		err = bind_one(ai->ai_addr, ai->ai_addrlen, &fd);
		if (!err)
			break;
	}
	freeaddrinfo(res);
	if (err) {
		log_error("cannot listen on '%s': %s", listen, pacer_strerror(err));
		return err;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	*port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						   : ((struct sockaddr_in *)&ss)->sin_port);
	*fd_out = fd;
	return 0;
}
