-- Shared by every scenario: each response is checked by the scenario's ok(), and
-- done() prints one machine-readable RESULT line. A failed check is an error, so an
-- error can never count as speed.
errors = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function response(status, headers, body)
  if not ok(status, headers, body) then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local errs = 0
  for _, t in ipairs(threads) do
    errs = errs + (t:get("errors") or 0)
  end
  local e = summary.errors
  errs = errs + e.connect + e.read + e.write + e.timeout
  io.write(string.format("RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d requests=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, errs, summary.requests))
end

function env(name)
  local v = os.getenv(name)
  if v == nil or v == "" then error("missing " .. name) end
  return v
end
