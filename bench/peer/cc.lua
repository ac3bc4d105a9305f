-- (b) client_credentials -> opaque access token, against the node-oidc-provider peer.
--   wrk -t2 -c64 -d10s -s bench/peer/cc.lua http://127.0.0.1:3100
dofile((os.getenv("PEER_LUA") or "bench/peer") .. "/common.lua")
wrk.method = "POST"
wrk.path = "/token"
wrk.body = "grant_type=client_credentials&scope=api"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = basic_auth()
function ok(status, headers, body)
  -- an opaque token is not a JWT: no dots in its value
  local tok = body:match('"access_token":"([^"]+)"')
  return status == 200 and tok ~= nil and not tok:find(".", 1, true)
end
