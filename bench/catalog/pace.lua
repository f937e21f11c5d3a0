-- wrk script: a fixed request rate (Debian's wrk has no -R; wrk2 is not packaged), cycling through
-- the request paths in BENCH_PATHS (one per line) with BENCH_AUTHORIZATION as the Authorization header.
--
-- Each thread owns a schedule of send slots, BENCH_RATE / WRK_THREADS per second. A connection that
-- is free claims the next slot and waits for it (wrk's delay()), so sends follow the schedule
-- whatever the server does, as long as some connection is free. wrk measures latency from the
-- actual send; a send that leaves after its slot (every connection was busy: the server is
-- behind) is counted with its lateness, so a run that kept the schedule shows LATE_SENDS 0 and its
-- latency is free of coordinated omission. Timer resolution is 1 ms. wrk sends each connection's
-- first request on connect (before it asks delay()): a run starts with that burst.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("bench_timespec")

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1e6 + tonumber(timespec.tv_nsec) / 1e3
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(os.getenv("WRK_THREADS") or "1")
  interval_us = 1e6 * nthreads / tonumber(os.getenv("BENCH_RATE"))
  local headers = { ["Authorization"] = os.getenv("BENCH_AUTHORIZATION") }
  requests = {}
  for path in io.lines(os.getenv("BENCH_PATHS")) do
    table.insert(requests, wrk.format("GET", path, headers))
  end
  start_us = nil
  claimed, sent = 0, 0        -- slots handed to connections / requests written
  late_sends, late_max_us, late_total_us = 0, 0, 0
end

local function start_schedule()
  if start_us == nil then start_us = now_us() end
end

function delay()
  start_schedule()
  local now = now_us()
  local slot = start_us + claimed * interval_us
  claimed = claimed + 1
  local wait_ms = math.floor((slot - now) / 1000 + 0.5)
  return wait_ms > 0 and wait_ms or 0
end

function request()
  start_schedule()
  if sent >= claimed then
    -- wrk writes each connection's first request as soon as it connects, before asking delay():
    -- that send takes the next slot early (a burst of at most one request per connection at start).
    claimed = claimed + 1
  end
  -- Timers fire in slot order, so the request written now belongs to the oldest unsent slot.
  local late = now_us() - (start_us + sent * interval_us)
  if late > 2000 then         -- beyond timer rounding and event-loop jitter
    late_sends = late_sends + 1
    late_total_us = late_total_us + late
    if late > late_max_us then late_max_us = late end
  end
  sent = sent + 1
  return requests[(sent - 1) % #requests + 1]
end

function done(summary, latency, requests)
  local late, late_max, late_total = 0, 0, 0
  for _, thread in ipairs(threads) do
    late = late + thread:get("late_sends")
    late_total = late_total + thread:get("late_total_us")
    late_max = math.max(late_max, thread:get("late_max_us"))
  end
  for _, p in ipairs({ 50, 90, 99, 99.9 }) do
    io.write(string.format("LATENCY_P%s_US %d\n", p, latency:percentile(p)))
  end
  io.write(string.format("LATENCY_MAX_US %d\n", latency.max))
  io.write(string.format("REQUESTS %d\nDURATION_US %d\nNON_2XX %d\nSOCKET_ERRORS %d\n", summary.requests,
    summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  io.write(string.format("LATE_SENDS %d\nLATE_MAX_US %d\nLATE_TOTAL_US %d\n", late, late_max, late_total))
end
