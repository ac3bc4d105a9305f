-- Shared by cc.lua, cc_jwt.lua and introspect.lua (loaded with dofile relative to
-- $PEER_LUA, default bench/peer). Every response is checked by the script's ok();
-- a failed check counts as an error, and socket errors count too. done() prints:
--   RESULT rps=... p50_ms=... p99_ms=... errors=... non200=... requests=...
local threads = {}
errors = 0   -- responses failing ok() (per thread)
non200 = 0   -- responses whose status is not 200 (per thread)

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
  if not ok(status, headers, body) then errors = errors + 1 end
end

function done(summary, latency, requests)
  local errs, bad = 0, 0
  for _, t in ipairs(threads) do
    errs = errs + (t:get("errors") or 0)
    bad = bad + (t:get("non200") or 0)
  end
  local e = summary.errors
  errs = errs + e.connect + e.read + e.write + e.timeout
  io.write(string.format(
    "RESULT rps=%.1f p50_ms=%.3f p99_ms=%.3f errors=%d non200=%d requests=%d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    errs, bad, summary.requests))
end

-- Basic bench:bench-secret unless $AUTH (base64 of id:secret) overrides it.
function basic_auth()
  local a = os.getenv("AUTH")
  if a == nil or a == "" then a = "YmVuY2g6YmVuY2gtc2VjcmV0" end
  return "Basic " .. a
end
