-- wrk script for bench/intake_bench.py (both phases use it, so both pay the same Lua costs).
--
--   wrk ... -s bench/sms_wrk.lua URL -- livez
--   wrk ... -s bench/sms_wrk.lua URL -- sms PATH BODY_PREFIX
--
-- "sms" mode: thread i (0-based) reads BODY_PREFIX .. i .. ".tsv", one pre-signed request a line
-- ("<X-Twilio-Signature>\t<form body>"; wrk's Lua has no HMAC), and sends each line once, in order.
-- Threads get disjoint files, so every request carries a MessageSid of its own.
-- done() prints one line "BENCH_JSON {...}" with throughput, latency percentiles (microseconds),
-- socket errors and a count of responses per status class, summed over the threads.

local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

-- Per-thread globals, read back by done() through thread:get().
sent = 0
wrapped = 0
s1xx, s2xx, s3xx, s4xx, s5xx = 0, 0, 0, 0, 0
first_bad = ""

local mode = "livez"
local path = "/livez"
local sigs, bodies, n = {}, {}, 0
local static_request = nil

function init(args)
  mode = args[1] or "livez"
  if mode == "sms" then
    path = args[2]
    local file = args[3] .. id .. ".tsv"
    for line in io.lines(file) do
      local tab = line:find("\t", 1, true)
      n = n + 1
      sigs[n] = line:sub(1, tab - 1)
      bodies[n] = line:sub(tab + 1)
    end
    if n == 0 then
      error("no request bodies in " .. file)
    end
  else
    path = args[2] or "/livez"
    static_request = wrk.format("GET", path)
  end
end

function request()
  sent = sent + 1
  if mode ~= "sms" then
    return static_request
  end
  local i = counter
  counter = counter + 1
  if i > n then
    -- Out of unique bodies: what follows are repeats (idempotent on the server). Reported loudly.
    wrapped = wrapped + 1
    i = (i - 1) % n + 1
  end
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = sigs[i],
  }, bodies[i])
end

function response(status, headers, body)
  if status < 200 then
    s1xx = s1xx + 1
  elseif status < 300 then
    s2xx = s2xx + 1
  elseif status < 400 then
    s3xx = s3xx + 1
  elseif status < 500 then
    s4xx = s4xx + 1
  else
    s5xx = s5xx + 1
  end
  if (status < 200 or status >= 300) and first_bad == "" then
    first_bad = tostring(status) .. " " .. string.sub(body or "", 1, 300)
  end
end

local function quote(s)
  s = string.gsub(s, '[%c"\\]', function(c)
    return string.format("\\u%04x", string.byte(c))
  end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local totals = { sent = 0, wrapped = 0, s1xx = 0, s2xx = 0, s3xx = 0, s4xx = 0, s5xx = 0 }
  local bad = ""
  for _, thread in ipairs(threads) do
    for key, _ in pairs(totals) do
      totals[key] = totals[key] + (thread:get(key) or 0)
    end
    local thread_bad = thread:get("first_bad") or ""
    if bad == "" then
      bad = thread_bad
    end
  end
  local fields = {
    string.format('"requests": %d', summary.requests),
    string.format('"duration_us": %d', summary.duration),
    string.format('"bytes": %d', summary.bytes),
    string.format('"errors_connect": %d', summary.errors.connect),
    string.format('"errors_read": %d', summary.errors.read),
    string.format('"errors_write": %d', summary.errors.write),
    string.format('"errors_status": %d', summary.errors.status),
    string.format('"errors_timeout": %d', summary.errors.timeout),
    string.format('"latency_mean_us": %.1f', latency.mean),
    string.format('"latency_stdev_us": %.1f', latency.stdev),
    string.format('"latency_max_us": %d', latency.max),
    string.format('"latency_p50_us": %d', latency:percentile(50)),
    string.format('"latency_p90_us": %d', latency:percentile(90)),
    string.format('"latency_p99_us": %d', latency:percentile(99)),
    string.format('"latency_p999_us": %d', latency:percentile(99.9)),
    string.format('"first_bad_response": %s', quote(bad)),
  }
  for key, value in pairs(totals) do
    table.insert(fields, string.format('"%s": %d', key, value))
  end
  io.write("BENCH_JSON {" .. table.concat(fields, ", ") .. "}\n")
end
