/* SPDX-License-Identifier: Apache-2.0 */
/* Fixed-bucket histograms; see histogram.h. */
#include "base/histogram.h"

#define BASE_NS 50000ull

double histogram_bound_seconds(int i)
{
	return (double)(BASE_NS << i) / 1e9;
}

void histogram_record(struct histogram *h, uint64_t ns)
{
	int i = 0;

	while (i < HISTOGRAM_BUCKETS && ns > (BASE_NS << i))
		i++;
	h->counts[i]++;
	h->count++;
	h->sum_ns += ns;
}

uint64_t histogram_quantile_ns(const struct histogram *h, double q)
{
	uint64_t want, seen = 0;

	if (!h->count)
		return 0;
	want = (uint64_t)(q * (double)h->count);
	if (want < 1)
		want = 1;
	for (int i = 0; i <= HISTOGRAM_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= want)
			return i < HISTOGRAM_BUCKETS ? BASE_NS << i : UINT64_MAX;
	}
	return UINT64_MAX;
}
