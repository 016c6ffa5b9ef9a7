-- wrk script: cycles through the requests in BENCH_REQUESTS and prints a JSON summary.
-- BENCH_REQUESTS: requests separated by "\30" (record separator); each is
-- METHOD "\31" PATH "\31" BODY, then one "\31" HEADER-NAME "\31" VALUE pair per header.
local requests = {}
local index = 0

local function split(text, sep)
  local parts = {}
  local start = 1
  while true do
    local at = string.find(text, sep, start, true)
    if not at then
      table.insert(parts, string.sub(text, start))
      return parts
    end
    table.insert(parts, string.sub(text, start, at - 1))
    start = at + #sep
  end
end

function init(args)
  local spec = os.getenv("BENCH_REQUESTS") or "GET\31/\31"
  for _, item in ipairs(split(spec, "\30")) do
    local f = split(item, "\31")
    local headers = {}
    for i = 4, #f - 1, 2 do headers[f[i]] = f[i + 1] end
    local body = f[3]
    if body == "" then body = nil end
    table.insert(requests, wrk.format(f[1], f[2], headers, body))
  end
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function done(summary, latency, requests_)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "errors_connect": %d, "errors_read": %d, ' ..
    '"errors_write": %d, "errors_status": %d, "errors_timeout": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
