-- (d): introspection of a valid token.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.method = "POST"
wrk.path = os.getenv("INTROSPECT_PATH") or "/oauth/introspect"
wrk.body = "token=" .. env("TOKEN")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. env("AUTH")
function ok(status, headers, body) return status == 200 and body:find('"active":true', 1, true) ~= nil end
