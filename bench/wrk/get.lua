-- GET requests, every one with the SPA's Origin header, cycling over many session cookies
-- (BENCH_COOKIES, one `name=value` per line; none for anonymous requests) and over paths
-- (BENCH_PATHS, comma-separated). Requests are formatted once in init(), so the load
-- generator spends the same little work per request in every scenario.
dofile((debug.getinfo(1, "S").source:sub(2):match("(.*/)") or "./") .. "lib.lua")

local prepared = {}
local next_index = 1

function init(args)
  local cookies = read_lines(os.getenv("BENCH_COOKIES"))
  local paths = {}
  for p in string.gmatch(os.getenv("BENCH_PATHS") or "/session", "[^,]+") do
    paths[#paths + 1] = p
  end
  local origin = os.getenv("BENCH_ORIGIN")
  local count = math.max(#cookies, #paths)
  -- Each thread starts at its own place, so threads do not walk the sessions in step.
  local offset = (tid or 0) * 7919
  for i = 1, count do
    local headers = { Origin = origin }
    if #cookies > 0 then
      headers["Cookie"] = cookies[((i + offset) % #cookies) + 1]
    end
    prepared[i] = wrk.format("GET", paths[((i + offset) % #paths) + 1], headers)
  end
end

function request()
  local r = prepared[next_index]
  next_index = next_index % #prepared + 1
  return r
end
