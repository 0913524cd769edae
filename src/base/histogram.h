/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fixed-bucket latency histograms: recording is O(1) (a bucket index from the
 * value's magnitude, no allocation), so metrics never cost in proportion to
 * load. Bucket bounds are Prometheus' "le" values in seconds.
 */
#ifndef PACER_BASE_HISTOGRAM_H
#define PACER_BASE_HISTOGRAM_H

#include <stdint.h>

#define HISTOGRAM_BUCKETS 16

struct histogram {
	uint64_t counts[HISTOGRAM_BUCKETS + 1]; /* last: +Inf */
	uint64_t count;
	uint64_t sum_ns;
};

/* Upper bound of bucket i in seconds: 50us * 2^i (50us .. ~1.6s). */
double histogram_bound_seconds(int i);
void histogram_record(struct histogram *h, uint64_t ns);
/* The value at quantile q (0..1) as the upper bound of its bucket, in ns. */
uint64_t histogram_quantile_ns(const struct histogram *h, double q);

#endif
