-- wrk script: prints req/s and latency percentiles of a GET run as one JSON line.
function done(summary, latency, requests)
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"req_per_s":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"bytes_per_req":%.0f,"errors":%d,"non_2xx":%d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests > 0 and summary.bytes / summary.requests or 0,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
