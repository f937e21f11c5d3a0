-- wrk script: sends the requests of a prepared file in order (one thread), then starts over.
-- The file (VAULT_REQUESTS) has one request per line: method \t path \t JSON body; every request
-- carries the bearer token in VAULT_AUTHORIZATION. Building the requests before the run keeps the
-- load generator's CPU (it shares the machine with the server) to a minimum.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local headers = {["Content-Type"] = "application/json", ["Authorization"] = os.getenv("VAULT_AUTHORIZATION")}
  requests = {}
  for line in io.lines(os.getenv("VAULT_REQUESTS")) do
    local method, path, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    table.insert(requests, wrk.format(method, path, headers, body))
  end
  position = 0
  wrapped = 0
end

function request()
  position = position + 1
  if position > #requests then
    -- Starting over repeats requests: for "store (new)" a repeat is a cheaper new version, so count it.
    wrapped = wrapped + 1
    position = 1
  end
  return requests[position]
end

function done(summary, latency, requests)
  local wraps = 0
  for _, thread in ipairs(threads) do
    wraps = wraps + (thread:get("wrapped") or 0)
  end
  io.write(string.format("WRAPPED %d\n", wraps))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("LATENCY_P%s_US %d\n", p, latency:percentile(p)))
  end
  io.write(string.format("LATENCY_MAX_US %d\nREQUESTS %d\nDURATION_US %d\nERRORS %d\n", latency.max,
    summary.requests, summary.duration,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
