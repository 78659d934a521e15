-- bench/events.lua: wrk posts NDJSON batches of events with unique ids.
--   EVENTS_PER_REQUEST (default 100), SLUICE_TOKEN (bearer token)
-- Each wrk thread numbers its own events: ids never repeat within a run,
-- and RUN_ID keeps runs apart.
local per = tonumber(os.getenv("EVENTS_PER_REQUEST") or "100")
local run = os.getenv("RUN_ID") or "r"
local token = os.getenv("SLUICE_TOKEN") or ""
local threads = {}
local counter = 0
tid = 0   -- set per thread by setup() (a global: thread:set writes globals)

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-ndjson"
  if token ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. token
  end
end

function request()
  local t = {}
  for i = 1, per do
    counter = counter + 1
    t[i] = string.format(
      '{"event_id":"%s-%d-%d","type":"order.placed","user_id":%d,' ..
      '"order":{"total":%d.%02d,"currency":"EUR"},"ts":"2024-05-01T12:%02d:%02dZ"}',
      run, tid, counter, counter % 10007, counter % 997, counter % 100,
      counter % 60, (counter * 7) % 60)
  end
  return wrk.format(nil, nil, nil, table.concat(t, "\n"))
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read +
                 summary.errors.write + summary.errors.timeout
  io.write(string.format("BENCH requests=%d events=%d errors=%d seconds=%.3f p50_ms=%.1f p99_ms=%.1f\n",
    summary.requests, summary.requests * per, errors, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
