-- (f): refresh-token rotation; every refresh token is used exactly once. Each
-- thread takes every n-th line of $REFRESH_FILE.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
local tokens, next_token = {}, 1
-- Tokens before $REFRESH_SKIP were spent by earlier runs (and the warm-up).
function init(args)
  local n, i = tonumber(os.getenv("THREADS") or "2"), 0
  local skip = tonumber(os.getenv("REFRESH_SKIP") or "0")
  for line in io.lines(env("REFRESH_FILE")) do
    if i >= skip and (i - skip) % n == id - 1 then tokens[#tokens + 1] = line end
    i = i + 1
  end
end
function request()
  local t = tokens[next_token]
  next_token = next_token + 1
  if t == nil then t = "exhausted" end
  return wrk.format("POST", "/oauth/token",
    { ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = "Basic " .. env("AUTH") },
    "grant_type=refresh_token&refresh_token=" .. t)
end
function ok(status, headers, body) return status == 200 and body:find('"refresh_token"', 1, true) ~= nil end
