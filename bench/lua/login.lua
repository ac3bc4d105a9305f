-- (h): password logins (argon2id), run beside (b).
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.method = "POST"
wrk.path = "/api/auth/login"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"login":"' .. env("USER_LOGIN") .. '","password":"' .. env("USER_PASSWORD") .. '"}'
function ok(status, headers, body) return status == 200 end
