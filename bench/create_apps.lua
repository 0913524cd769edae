-- wrk script: each thread POSTs distinct apps to /v2/apps until the total
-- reaches PACER_BENCH_APPS, then stops. Prints a JSON line of results at the end.
local total = tonumber(os.getenv("PACER_BENCH_APPS") or "10000")
local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  nthreads = tonumber(os.getenv("PACER_BENCH_THREADS") or "4")
  quota = math.ceil(total / nthreads)
  sent = 0
  done_count = 0
  created = 0
  other = 0
end

function request()
  sent = sent + 1
  local id = string.format("/bench/t%d/app-%d", tid, sent)
  local body = string.format('{"id":"%s","cmd":"sleep 3600","cpus":0.01,"mem":16,"instances":0,"labels":{"bench":"create"}}', id)
  return wrk.format("POST", "/v2/apps", {["Content-Type"] = "application/json"}, body)
end

function response(status, headers, body)
  done_count = done_count + 1
  if status == 201 then created = created + 1 else other = other + 1 end
  if done_count >= quota then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local c, o = 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    o = o + t:get("other")
  end
  io.write(string.format(
    '{"created":%d,"non_201":%d,"seconds":%.3f,"apps_per_s":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f,"errors":%d}\n',
    c, o, summary.duration / 1e6, c / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
