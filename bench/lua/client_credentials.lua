-- (b)/(c): client_credentials, HTTP Basic from $AUTH (base64 of id:secret).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.method = "POST"
wrk.path = os.getenv("TOKEN_PATH") or "/oauth/token"
wrk.body = os.getenv("TOKEN_BODY") or "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic " .. env("AUTH")
function ok(status, headers, body) return status == 200 and body:find('"access_token"', 1, true) ~= nil end
