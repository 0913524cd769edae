/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Store benchmark (not part of CI): N puts of S-byte values, B puts per
 * batch, K commits outstanding at any time (as K concurrent API requests
 * would keep), on a fresh LMDB store. Prints records/s, batches,
 * transactions (fsyncs) and p50/p99 commit latency from the store's
 * histogram (bucket upper bounds).
 *
 *   store_bench [-n N] [-b B] [-k K] [-s S] [-d DIR]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "base/error.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "store/store.h"

struct bench {
	struct store *store;
	size_t n, b, k, s;
	size_t submitted; /* records */
	size_t completed; /* records */
	int failed;
	char *val;
};

static void submit(struct bench *be);

static void on_commit(void *arg, int status)
{
	struct bench *be = arg;

	if (status) {
		fprintf(stderr, "store_bench: commit failed: %s\n", pacer_strerror(status));
		be->failed = 1;
		return;
	}
	be->completed += be->b;
	if (be->submitted < be->n)
		submit(be);
}

static void submit(struct bench *be)
{
	struct store_batch *batch = store_batch_new();
	char key[64];
	int rc;

	for (size_t i = 0; i < be->b && be->submitted < be->n; i++) {
		snprintf(key, sizeof(key), "instances/bench.%010zu", be->submitted++);
		store_batch_put(batch, key, be->val, be->s);
	}
	rc = store_commit(be->store, batch, on_commit, be);
	if (rc) {
		fprintf(stderr, "store_bench: cannot commit: %s\n", pacer_strerror(rc));
		be->failed = 1;
	}
}

int main(int argc, char **argv)
{
	struct bench be = {.n = 100000, .b = 1, .k = 256, .s = 1024};
	char dir[] = "/tmp/store_bench.XXXXXX";
	const char *where = NULL;
	struct store_stats st;
	char uri[512], cmd[600];
	uv_loop_t loop;
	uint64_t t0, t1;
	double secs;
	int opt;

	while ((opt = getopt(argc, argv, "n:b:k:s:d:")) != -1) {
		switch (opt) {
		case 'n': be.n = strtoul(optarg, NULL, 10); break;
		case 'b': be.b = strtoul(optarg, NULL, 10); break;
		case 'k': be.k = strtoul(optarg, NULL, 10); break;
		case 's': be.s = strtoul(optarg, NULL, 10); break;
		case 'd': where = optarg; break;
		default:
			fprintf(stderr,
				"usage: store_bench [-n N] [-b B] [-k K] [-s S] [-d DIR]\n");
			return 2;
		}
	}
	if (!be.b || !be.k) {
		fprintf(stderr, "store_bench: -b and -k must be at least 1\n");
		return 2;
	}
	if (!where) {
		if (!mkdtemp(dir)) {
			perror("store_bench: mkdtemp");
			return 1;
		}
		where = dir;
	}
	be.val = xmalloc(be.s ? be.s : 1);
	memset(be.val, 'x', be.s);
	snprintf(uri, sizeof(uri), "lmdb:%s", where);

	uv_loop_init(&loop);
	if (store_open(&be.store, uri, &loop))
		return 1;
	t0 = time_mono_ns();
	for (size_t i = 0; i < be.k && be.submitted < be.n; i++)
		submit(&be);
	uv_run(&loop, UV_RUN_DEFAULT); /* returns when no commit is outstanding */
	t1 = time_mono_ns();
	store_get_stats(be.store, &st);
	store_close(be.store);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);

	secs = (double)(t1 - t0) / 1e9;
	printf("records %zu x %zu B, %zu per batch, %zu outstanding: "
	       "%.0f records/s, %.0f batches/s\n",
	       be.completed, be.s, be.b, be.k, (double)be.completed / secs,
	       (double)st.batches / secs);
	printf("batches %" PRIu64 ", commits (fsyncs) %" PRIu64 " (%.1f batches/commit), %.2f s\n",
	       st.batches, st.commits, st.commits ? (double)st.batches / (double)st.commits : 0.0,
	       secs);
	printf("commit latency p50 <= %.2f ms, p99 <= %.2f ms, mean %.2f ms\n",
	       (double)histogram_quantile_ns(&st.commit_latency, 0.50) / 1e6,
	       (double)histogram_quantile_ns(&st.commit_latency, 0.99) / 1e6,
	       st.commit_latency.count
		       ? (double)st.commit_latency.sum_ns / (double)st.commit_latency.count / 1e6
		       : 0.0);
	if (where == dir) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd))
			fprintf(stderr, "store_bench: cannot remove '%s'\n", dir);
	}
	free(be.val);
	return be.failed;
}
