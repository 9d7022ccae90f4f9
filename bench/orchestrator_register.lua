-- wrk script for bench/orchestrator.sh: replays pre-signed POST /v1/content
-- requests (bench/orchestrator_sign.c), each once; thread i takes records
-- i, i + T, i + 2T, ... Arguments: FILE THREADS. Prints the 201 count and
-- the registrations per second (a reused request would be a replay, 401:
-- counted apart, never as a registration).
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  local all = f:read("*a")
  f:close()
  local nthreads = tonumber(args[2])
  reqs = {}
  local i = 0
  for r in string.gmatch(all, "(.-)\n%-%-cpc%-bench%-%-\n") do
    if i % nthreads == id then table.insert(reqs, r) end
    i = i + 1
  end
  idx = 0
  created = 0
  other = 0
  ran_out = 0
end

function request()
  idx = idx + 1
  if idx > #reqs then
    idx = 1
    ran_out = 1
  end
  return reqs[idx]
end

function response(status, headers, body)
  if status == 201 then
    created = created + 1
  else
    other = other + 1
    if other <= 3 and ran_out == 0 then io.stderr:write("status " .. status .. ": " .. body .. "\n") end
  end
end

function done(summary, latency, requests)
  local c, o, r = 0, 0, 0
  for _, t in ipairs(threads) do
    c = c + t:get("created")
    o = o + t:get("other")
    r = r + t:get("ran_out")
  end
  io.write(string.format("registrations %d, other answers %d%s, %.0f registrations/s, p99 %.2f ms\n",
    c, o, r > 0 and " (requests ran out: replays)" or "", c / (summary.duration / 1e6),
    latency:percentile(99) / 1000))
end
