/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loadgen: a small HTTP/1.1 load generator for Pacer's benchmarks. Keeps C
 * keep-alive connections busy with one request in flight each (closed loop),
 * until N requests are answered or D seconds have passed, and prints one JSON
 * line: requests, seconds, requests/s, status counts, exact latency
 * percentiles. Path and body are templates: "{n}" becomes the request's
 * sequence number, "{c}" the connection's index.
 *
 *   loadgen -p PORT [-c 64] [-n 10000 | -d 10] [-m POST] [-u /v2/apps] [-b BODY]
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

struct conn {
	int fd;
	int index;
	char *req;
	size_t req_len, req_sent;
	char *resp;
	size_t resp_len, resp_alloc;
	uint64_t start_ns;
	int busy;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *xrealloc_(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p)
		die("realloc");
	return p;
}

/* Replaces {n} and {c} in tmpl. */
static size_t expand(const char *tmpl, long n, int c, char *out, size_t cap)
{
	size_t k = 0;

	for (const char *p = tmpl; *p && k + 24 < cap; p++) {
		if (!strncmp(p, "{n}", 3)) {
			k += (size_t)snprintf(out + k, cap - k, "%ld", n);
			p += 2;
		} else if (!strncmp(p, "{c}", 3)) {
			k += (size_t)snprintf(out + k, cap - k, "%d", c);
			p += 2;
		} else {
			out[k++] = *p;
		}
	}
	out[k] = '\0';
	return k;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Length of a complete response in buf, or 0 when more is needed. */
static size_t response_complete(const char *buf, size_t len, int *status)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4), *cl;
	size_t head, body = 0;

	if (!end)
		return 0;
	head = (size_t)(end - buf) + 4;
	*status = atoi(buf + 9);
	cl = memmem(buf, head, "Content-Length:", 15);
	if (!cl)
		cl = memmem(buf, head, "content-length:", 15);
	if (cl)
		body = strtoul(cl + 15, NULL, 10);
	return len >= head + body ? head + body : 0;
}

int main(int argc, char **argv)
{
	int port = 0, nconn = 64, c, ep;
	long total = 0, next = 1, done = 0;
	double duration = 0;
	const char *method = "GET", *path = "/", *body = "";
	struct conn *conns;
	uint64_t *lat, t0, deadline = UINT64_MAX;
	long status_counts[6] = {0}, errors = 0;
	char host[64];

	while ((c = getopt(argc, argv, "p:c:n:d:m:u:b:")) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 'c': nconn = atoi(optarg); break;
		case 'n': total = atol(optarg); break;
		case 'd': duration = atof(optarg); break;
		case 'm': method = optarg; break;
		case 'u': path = optarg; break;
		case 'b': body = optarg; break;
		default:
			fprintf(stderr, "usage: loadgen -p PORT [-c CONNS] [-n REQUESTS | -d SECONDS] "
					"[-m METHOD] [-u PATH] [-b BODY]\n");
			return 2;
		}
	}
	if (!port || nconn < 1 || (!total && duration <= 0)) {
		fprintf(stderr, "loadgen: -p and one of -n or -d are needed\n");
		return 2;
	}
	snprintf(host, sizeof(host), "127.0.0.1:%d", port);
	lat = malloc(sizeof(*lat) * (size_t)(total ? total : 10000000));
	conns = calloc((size_t)nconn, sizeof(*conns));
	if (!lat || !conns)
		die("malloc");
	ep = epoll_create1(0);
	for (int i = 0; i < nconn; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		int one = 1;

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		conns[i].fd = socket(AF_INET, SOCK_STREAM, 0);
		if (conns[i].fd < 0 || connect(conns[i].fd, (struct sockaddr *)&a, sizeof(a)))
			die("connect");
		setsockopt(conns[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		conns[i].index = i;
		epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
	}
	t0 = now_ns();
	if (duration > 0)
		deadline = t0 + (uint64_t)(duration * 1e9);
	for (;;) {
		struct epoll_event evs[256];
		int n;
		int idle = 1;

		for (int i = 0; i < nconn; i++) {
			struct conn *k = &conns[i];
			char p[512], b[65536];
			size_t plen, blen;

			if (k->busy) {
				idle = 0;
				continue;
			}
			if ((total && next > total) || now_ns() >= deadline)
				continue;
			plen = expand(path, next, i, p, sizeof(p));
			blen = expand(body, next, i, b, sizeof(b));
			(void)plen;
			k->req = xrealloc_(k->req, blen + 1024);
			k->req_len = (size_t)snprintf(k->req, blen + 1024,
						      "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
						      "Content-Length: %zu\r\n\r\n",
						      method, p, host, blen);
			memcpy(k->req + k->req_len, b, blen);
			k->req_len += blen;
			k->req_sent = 0;
			k->resp_len = 0;
			k->busy = 1;
			k->start_ns = now_ns();
			/* requests are small: a blocking send puts them out whole */
			while (k->req_sent < k->req_len) {
				ssize_t w = send(k->fd, k->req + k->req_sent, k->req_len - k->req_sent,
						 MSG_NOSIGNAL);
				if (w <= 0)
					die("send");
				k->req_sent += (size_t)w;
			}
			next++;
			idle = 0;
		}
		if (idle)
			break;
		n = epoll_wait(ep, evs, 256, 100);
		for (int e = 0; e < n; e++) {
			struct conn *k = &conns[evs[e].data.u32];
			int status = 0;
			size_t got;

			if (!k->busy)
				continue;
			if (!(evs[e].events & EPOLLIN))
				continue;
			for (;;) {
				ssize_t r;

				if (k->resp_alloc - k->resp_len < 65536) {
					k->resp_alloc = k->resp_alloc * 2 + 65536;
					k->resp = xrealloc_(k->resp, k->resp_alloc);
				}
				r = recv(k->fd, k->resp + k->resp_len, k->resp_alloc - k->resp_len,
					 MSG_DONTWAIT);
				if (r > 0) {
					k->resp_len += (size_t)r;
					continue;
				}
				if (r == 0) {
					errors++;
					fprintf(stderr, "loadgen: connection %d closed by the server\n", k->index);
					exit(1);
				}
				break;
			}
			got = response_complete(k->resp, k->resp_len, &status);
			if (!got)
				continue;
			lat[done++] = now_ns() - k->start_ns;
			status_counts[status / 100 < 6 ? status / 100 : 0]++;
			k->busy = 0;
			if (!total && (size_t)done >= 10000000)
				deadline = 0;
		}
	}
	{
		double secs = (double)(now_ns() - t0) / 1e9;

		qsort(lat, (size_t)done, sizeof(*lat), cmp_u64);
#define PCT(q) (done ? (double)lat[(size_t)((double)(done - 1) * (q))] / 1e6 : 0.0)
		printf("{\"requests\":%ld,\"seconds\":%.3f,\"req_per_s\":%.1f,\"2xx\":%ld,\"3xx\":%ld,"
		       "\"4xx\":%ld,\"5xx\":%ld,\"errors\":%ld,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
		       "\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
		       done, secs, (double)done / secs, status_counts[2], status_counts[3],
		       status_counts[4], status_counts[5], errors, PCT(0.5), PCT(0.9), PCT(0.99),
		       PCT(1.0));
	}
	return 0;
}
