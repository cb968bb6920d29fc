-- Complete logins, as a browser does them: GET /session for the CSRF token and the
-- pre-session cookie, then POST /session with the token in X-CSRF-Token, that cookie, the SPA's
-- Origin and a JSON body. Run with one connection per thread (-t N -c N): each thread is one
-- browser stepping through the two requests. Users are bench-0 .. bench-{BENCH_USERS-1}, all
-- with the password BENCH_PASSWORD. Counts successful logins (`logins`) and anything else
-- (`failures`).
dofile((debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./") .. "lib.lua")

logins = 0
failures = 0
local step = "token"
local cookie, token
local n = 0
local users, password, origin

function init(args)
  users = tonumber(os.getenv("BENCH_USERS") or "1")
  password = os.getenv("BENCH_PASSWORD")
  origin = os.getenv("BENCH_ORIGIN")
  n = (tid or 0) * 7919
end

function request()
  if step == "token" then
    return wrk.format("GET", "/session", { Origin = origin })
  end
  n = n + 1
  local body = string.format('{"username":"bench-%d","password":"%s"}', n % users, password)
  return wrk.format("POST", "/session", {
    Origin = origin,
    Cookie = cookie,
    ["Content-Type"] = "application/json",
    ["X-CSRF-Token"] = token,
  }, body)
end

function response(status, headers, body)
  if step == "token" then
    local set_cookie = headers["set-cookie"] or headers["Set-Cookie"]
    token = body:match('"_csrf":"([^"]+)"')
    if status == 200 and set_cookie and token then
      cookie = set_cookie:match("^([^;]+)")
      step = "login"
    else
      failures = failures + 1
    end
  else
    if status == 200 and body:find('"auth":true', 1, true) then
      logins = logins + 1
    else
      failures = failures + 1
    end
    step = "token"
  end
end
