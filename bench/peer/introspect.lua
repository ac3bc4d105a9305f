-- (d) introspection of a valid opaque access token. The token comes from $TOKEN:
--   TOKEN=$(curl -s -u bench:bench-secret -d 'grant_type=client_credentials&scope=api' \
--     http://127.0.0.1:3100/token | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
--   TOKEN=$TOKEN wrk -t2 -c64 -d10s -s bench/peer/introspect.lua http://127.0.0.1:3100
dofile((os.getenv("PEER_LUA") or "bench/peer") .. "/common.lua")
local token = os.getenv("TOKEN")
if token == nil or token == "" then error("set TOKEN to an opaque access token") end
wrk.method = "POST"
wrk.path = "/token/introspection"
wrk.body = "token=" .. token
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = basic_auth()
function ok(status, headers, body)
  return status == 200 and body:find('"active":true', 1, true) ~= nil
end
