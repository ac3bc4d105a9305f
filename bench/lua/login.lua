-- (h): password logins (argon2id), run beside (b). Each request logs in the next of
-- LOGIN_USERS people (USER_LOGIN followed by 0, 1, …), so no account has several
-- attempts in flight and the login throttle never answers instead of the hash.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
wrk.method = "POST"
wrk.path = "/api/auth/login"
wrk.headers["Content-Type"] = "application/json"
local prefix = env("USER_LOGIN")
local password = env("USER_PASSWORD")
local people = tonumber(env("LOGIN_USERS"))
local next_person = 0
function request()
  next_person = (next_person + 1) % people
  return wrk.format(nil, nil, nil,
    '{"login":"' .. prefix .. next_person .. '","password":"' .. password .. '"}')
end
function ok(status, headers, body) return status == 200 end
