-- (g): the whole authorization-code flow with PKCE for a signed-in person with a
-- remembered consent: authorize (303 with a code) then token. Codes that came back
-- are redeemed before new ones are asked for. A flow is two requests; flows/s is
-- half the request rate.
dofile(os.getenv("BENCH_LUA") .. "/common.lua")
local codes = {}
-- RFC 7636 appendix B's verifier and challenge.
local verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
local challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
local client_id = env("CLIENT_ID")
local authorize = "/oauth/authorize?response_type=code&client_id=" .. client_id ..
  "&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&scope=openid&code_challenge=" .. challenge ..
  "&code_challenge_method=S256"
function request()
  local code = table.remove(codes)
  if code then
    return wrk.format("POST", "/oauth/token",
      { ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = "Basic " .. env("AUTH") },
      "grant_type=authorization_code&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcb&code_verifier=" .. verifier .. "&code=" .. code)
  end
  return wrk.format("GET", authorize, { ["Cookie"] = "uc_session=" .. env("SESSION") })
end
function ok(status, headers, body)
  if status == 303 then
    local code = (headers["location"] or headers["Location"] or ""):match("[?&]code=([^&]+)")
    if code then table.insert(codes, code) return true end
    return false
  end
  return status == 200 and body:find('"access_token"', 1, true) ~= nil
end
