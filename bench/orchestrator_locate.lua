-- wrk script for bench/orchestrator.sh: GET /v1/content/{cid}/locate of a
-- random one of the generated public contents 0..N (N from the environment
-- variable BENCH_LOCATE_N), so requests spread over the whole table
-- instead of one hot row.
local counter = 0

function setup(thread)
  thread:set("seed", counter * 7919 + 17)
  counter = counter + 1
end

function init(args)
  n = tonumber(os.getenv("BENCH_LOCATE_N"))
  math.randomseed(seed)
end

function request()
  return wrk.format("GET", string.format("/v1/content/bafkr4i%052d/locate", math.random(0, n)))
end
