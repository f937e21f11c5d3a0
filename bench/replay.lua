-- wrk script shared by the benchmarks: sends the prepared requests of a file (BENCH_REQUESTS) in
-- order, split across threads (WRK_THREADS), each request once; out of requests it starts over and
-- counts that (REPEATS), because a repeat is cheaper for the server (a duplicate delivery, a new
-- version instead of a new credential). Building and signing requests before the run keeps the
-- load generator's CPU, on the server's machine, to a minimum.
-- One request per line: method \t path \t headers \t body, headers as "Name: value" joined by \31.

local counter = 0
local threads = {}

function setup(thread)
  thread:set("index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
  requests = {}
  local n = 0
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    if n % nthreads == index then
      local method, path, header_text, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      local headers = {}
      for name, value in header_text:gmatch("([^\31:]+): ([^\31]*)") do
        headers[name] = value
      end
      table.insert(requests, wrk.format(method, path, headers, body))
    end
    n = n + 1
  end
  position = 0
  repeats = 0
end

function request()
  position = position + 1
  if position > #requests then
    repeats = repeats + 1
    position = 1
  end
  return requests[position]
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + (thread:get("repeats") or 0)
  end
  io.write(string.format("REPEATS %d\n", total))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("LATENCY_P%s_US %d\n", p, latency:percentile(p)))
  end
  io.write(string.format("LATENCY_MAX_US %d\nREQUESTS %d\nDURATION_US %d\nERRORS %d\n", latency.max,
    summary.requests, summary.duration,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
