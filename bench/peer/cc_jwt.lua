-- (c) client_credentials with resource=urn:bench:jwt -> RS256 JWT access token.
--   wrk -t2 -c64 -d10s -s bench/peer/cc_jwt.lua http://127.0.0.1:3100
dofile((os.getenv("PEER_LUA") or "bench/peer") .. "/common.lua")
wrk.method = "POST"
wrk.path = "/token"
wrk.body = "grant_type=client_credentials&scope=api&resource=urn%3Abench%3Ajwt"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = basic_auth()
-- base64url of '{"alg":"RS256",' : every RS256 JWT from the peer starts with it
local RS256_HEADER = "eyJhbGciOiJSUzI1NiIs"
function ok(status, headers, body)
  local tok = body:match('"access_token":"([^"]+)"')
  return status == 200 and tok ~= nil and tok:sub(1, #RS256_HEADER) == RS256_HEADER
end
