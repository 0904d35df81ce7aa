-- wrk script for bench/camera_storm_bench.py.
--
--   wrk ... -s bench/camera_storm.lua URL -- livez
--   wrk ... -s bench/camera_storm.lua URL -- storm CAMERA_FILE CAMERAS RAMP INTERVAL REPEATS T0 SCALE DONE_PREFIX
--
-- "storm": thread t of T plays the cameras t, t+T, t+2T, ... of CAMERA_FILE (one line a camera:
-- "<Authorization header>\t<MAC>"). Camera g raises its alarm at g*RAMP/CAMERAS seconds after T0 and
-- repeats it every INTERVAL seconds, REPEATS times, with a rising activePostCount: what a Hikvision
-- camera's line-crossing rule sends while the problem lasts. Time is cut into slices of INTERVAL; a
-- slice's alarms are sent from its start (delay() holds the connection until then), all times scaled
-- by SCALE. Behind schedule, a connection sends at once: the storm then stretches, it never thins out.
-- When its schedule is done and answered, the thread writes "<DONE_PREFIX><t>" (the time of its last
-- answer) and sends /livez until the bench stops wrk.
-- done() prints one line "BENCH_JSON {...}", as bench/sms_wrk.lua does.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } gl_timespec;
int clock_gettime(int clk_id, gl_timespec *tp);
]]
local clock = ffi.new("gl_timespec[1]")
local function now()
  ffi.C.clock_gettime(0, clock) -- CLOCK_REALTIME: the bench process compares with its own time.time()
  return tonumber(clock[0].tv_sec) + tonumber(clock[0].tv_nsec) / 1e9
end

local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

-- Per-thread globals, read back by done() through thread:get().
sent = 0 -- storm requests sent
answered = 0 -- storm requests answered
extra = 0 -- /livez requests sent after the schedule was done (while the last answers come in)
s2xx, s4xx, s5xx, sother = 0, 0, 0, 0
first_bad = ""

local mode = "livez"
local static_request = nil
local auth, mac = {}, {}
local n, nthreads, cameras, ramp, interval, repeats, t0, scale, done_file = 0, 1, 0, 0, 0, 0, 0, 1, ""
local slice, lo, hi, pos, last_slice = -1, 1, 0, 1, -1
local exhausted, finished = false, false
local exhausted_at = 0
local last_answer = 0 -- when the last alarm was answered: the storm's end, as the server saw it
--- Seconds to wait for the last answers once the schedule is done; a connection the server dropped
--- (counted by wrk as an error) never answers.
local GRACE_SECONDS = 2
local template = [[<?xml version="1.0" encoding="UTF-8"?>
<EventNotificationAlert version="2.0" xmlns="http://www.hikvision.com/ver20/XMLSchema">
<ipAddress>10.%d.%d.%d</ipAddress>
<portNo>80</portNo>
<protocol>HTTP</protocol>
<macAddress>%s</macAddress>
<channelID>1</channelID>
<dateTime>%s+08:00</dateTime>
<activePostCount>%d</activePostCount>
<eventType>linedetection</eventType>
<eventState>active</eventState>
<eventDescription>linedetection alarm</eventDescription>
<DetectionRegionList>
<DetectionRegionEntry>
<regionID>1</regionID>
<sensitivityLevel>50</sensitivityLevel>
<detectionTarget>human</detectionTarget>
</DetectionRegionEntry>
</DetectionRegionList>
<channelName>Camera 01</channelName>
<detectionPictureTransType>binary</detectionPictureTransType>
<detectionPicturesNumber>0</detectionPicturesNumber>
<isDataRetransmission>false</isDataRetransmission>
</EventNotificationAlert>
]]

-- The slice in which this thread's j-th camera (1-based) raises its first alarm.
local function first_slice(j)
  local g = (j - 1) * nthreads + id
  return math.floor(g * ramp / cameras / interval)
end

function init(args)
  mode = args[1] or "livez"
  static_request = wrk.format("GET", "/livez")
  if mode ~= "storm" then
    return
  end
  cameras = tonumber(args[3])
  ramp, interval, repeats = tonumber(args[4]), tonumber(args[5]), tonumber(args[6])
  t0, scale, done_file, nthreads = tonumber(args[7]), tonumber(args[8]), args[9], tonumber(args[10])
  local line_no = 0
  for line in io.lines(args[2]) do
    if line_no % nthreads == id then
      local tab = line:find("\t", 1, true)
      n = n + 1
      auth[n] = line:sub(1, tab - 1)
      mac[n] = line:sub(tab + 1)
    end
    line_no = line_no + 1
  end
  last_slice = n > 0 and first_slice(n) + repeats or -1
end

-- Point pos at the next camera of the schedule; false once the schedule is done.
local function advance()
  while pos > hi do
    slice = slice + 1
    if slice > last_slice then
      if not exhausted then
        exhausted, exhausted_at = true, now()
      end
      return false
    end
    while lo <= n and first_slice(lo) < slice - repeats do
      lo = lo + 1
    end
    while hi < n and first_slice(hi + 1) <= slice do
      hi = hi + 1
    end
    pos = lo
  end
  return true
end

-- Report the thread's end to the bench, which stops wrk once every thread has. The thread keeps sending
-- /livez meanwhile instead of stopping: connections a stopped thread leaves open would hold gunicorn's
-- sync workers, each waiting for a request that never comes.
local function finish()
  if not finished then
    finished = true
    local out = io.open(done_file .. id, "w")
    out:write(string.format("%.6f\n", last_answer > 0 and last_answer or now()))
    out:close()
  end
end

function delay()
  if mode ~= "storm" then
    return 0
  end
  if exhausted or not advance() then
    if not finished and now() - exhausted_at > GRACE_SECONDS then
      finish()
    end
    return 0
  end
  local wait = (t0 + slice * interval * scale - now()) * 1000
  return wait > 0 and wait or 0
end

function request()
  if mode ~= "storm" then
    sent = sent + 1
    return static_request
  end
  if exhausted or not advance() then
    extra = extra + 1
    return static_request
  end
  sent = sent + 1
  local j = pos
  pos = pos + 1
  local k = slice - first_slice(j) -- 0: the first alarm, then its repeats
  local g = (j - 1) * nthreads + id
  local at = t0 + slice * interval * scale
  local body = string.format(template, math.floor(g / 65536) % 256, math.floor(g / 256) % 256, g % 256,
    mac[j], os.date("!%Y-%m-%dT%H:%M:%S", math.floor(at) + 8 * 3600), k + 1)
  return wrk.format("POST", "/channels/camera/hikvision", {
    ["Content-Type"] = 'application/xml; charset="UTF-8"',
    ["Authorization"] = auth[j],
  }, body)
end

function response(status, headers, body)
  if mode == "storm" and finished then
    return
  end
  if mode == "storm" and body == "ok\n" then
    return -- a /livez filler, sent while the last alarms were answered
  end
  answered = answered + 1
  last_answer = now()
  if status >= 200 and status < 300 then
    s2xx = s2xx + 1
  elseif status >= 400 and status < 500 then
    s4xx = s4xx + 1
  elseif status >= 500 then
    s5xx = s5xx + 1
  else
    sother = sother + 1
  end
  if (status < 200 or status >= 300) and first_bad == "" then
    first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 300)
  end
  if mode == "storm" and exhausted and answered >= sent then
    finish()
  end
end

local function quote(s)
  s = string.gsub(s, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local totals = { sent = 0, answered = 0, extra = 0, s2xx = 0, s4xx = 0, s5xx = 0, sother = 0 }
  local bad = ""
  for _, thread in ipairs(threads) do
    for key, _ in pairs(totals) do
      totals[key] = totals[key] + (thread:get(key) or 0)
    end
    if bad == "" then
      bad = thread:get("first_bad") or ""
    end
  end
  local fields = {
    string.format('"requests": %d', summary.requests),
    string.format('"duration_us": %d', summary.duration),
    string.format('"errors_connect": %d', summary.errors.connect),
    string.format('"errors_read": %d', summary.errors.read),
    string.format('"errors_write": %d', summary.errors.write),
    string.format('"errors_timeout": %d', summary.errors.timeout),
    string.format('"latency_p50_us": %d', latency:percentile(50)),
    string.format('"latency_p90_us": %d', latency:percentile(90)),
    string.format('"latency_p99_us": %d', latency:percentile(99)),
    string.format('"latency_max_us": %d', latency.max),
    string.format('"first_bad_response": %s', quote(bad)),
  }
  for key, value in pairs(totals) do
    table.insert(fields, string.format('"%s": %d', key, value))
  end
  io.write("BENCH_JSON {" .. table.concat(fields, ", ") .. "}\n")
end
