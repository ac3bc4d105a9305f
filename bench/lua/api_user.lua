-- (e): the resource API with a Bearer token.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.path = "/api/user"
wrk.headers["Authorization"] = "Bearer " .. env("TOKEN")
function ok(status, headers, body) return status == 200 and body:find('"username"', 1, true) ~= nil end
