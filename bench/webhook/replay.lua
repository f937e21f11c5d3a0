-- wrk script: replays pre-signed webhook deliveries, each exactly once, split across threads.
-- The file (WEBHOOK_DELIVERIES) has one delivery per line: path \t timestamp \t signature \t delivery id \t body.
-- Signing happens before the run (HMAC in Lua would cost the load generator the CPU the server needs).

local file = os.getenv("WEBHOOK_DELIVERIES")
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
  for line in io.lines(file) do
    if n % nthreads == index then
      local path, ts, sig, id, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      table.insert(requests, wrk.format("POST", path, {
        ["Content-Type"] = "application/json", ["X-Aria-Timestamp"] = ts,
        ["X-Aria-Signature"] = sig, ["X-Aria-Delivery-Id"] = id}, body))
    end
    n = n + 1
  end
  position = 0
  exhausted = 0
end

function request()
  position = position + 1
  if position > #requests then
    -- Out of fresh deliveries: a replay would be a cheap duplicate, so the run reports it.
    exhausted = exhausted + 1
    position = 1
  end
  return requests[position]
end

function done(summary, latency, requests)
  local replays = 0
  for _, thread in ipairs(threads) do
    replays = replays + (thread:get("exhausted") or 0)
  end
  io.write(string.format("REPLAYS %d\n", replays))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("LATENCY_P%s_US %d\n", p, latency:percentile(p)))
  end
  io.write(string.format("REQUESTS %d\nDURATION_US %d\nERRORS %d\n", summary.requests, summary.duration,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
