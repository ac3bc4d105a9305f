-- (f): refresh-token rotation; every refresh token is used exactly once. A run
-- takes the region of $REFRESH_REGION lines from $REFRESH_SKIP, split into one
-- contiguous part per thread, so no two runs or threads share a token.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
local tokens, next_token = {}, 1
-- Tokens before $REFRESH_SKIP were spent by earlier runs (and the warm-up).
function init(args)
  local n, i = tonumber(os.getenv("THREADS") or "2"), 0
  local skip = tonumber(os.getenv("REFRESH_SKIP") or "0")
  local part = math.floor(tonumber(env("REFRESH_REGION")) / n)
  local from, to = skip + (id - 1) * part, skip + id * part
  for line in io.lines(env("REFRESH_FILE")) do
    if i >= from and i < to then tokens[#tokens + 1] = line end
    i = i + 1
    if i >= to then break end
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
