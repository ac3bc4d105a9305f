dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.path = "/healthz"
function ok(status, headers, body) return status == 200 and body:find('"ok"', 1, true) ~= nil end
