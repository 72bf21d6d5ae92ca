-- wrk script for bench/webhook/run: POSTs one signed GitHub push delivery per
-- request, each with a unique X-GitHub-Delivery (so conveyor's dedupe never
-- short-circuits), and prints a machine-readable summary line.
--
-- Environment (set by bench/webhook/run):
--   BENCH_BODY_FILE  the payload bytes to send
--   BENCH_SIGNATURE  "sha256=<hex>" over those bytes (constant: the body is)
--   BENCH_TAG        unique per run; prefixes every delivery id
--
-- The same script drives both servers, so wrk does the same work for each.

local body, signature, tag

local function load_env()
  local path = assert(os.getenv("BENCH_BODY_FILE"), "BENCH_BODY_FILE not set")
  local f = assert(io.open(path, "rb"))
  body = f:read("*a")
  f:close()
  signature = assert(os.getenv("BENCH_SIGNATURE"), "BENCH_SIGNATURE not set")
  tag = assert(os.getenv("BENCH_TAG"), "BENCH_TAG not set")
end

local next_thread = 0

function setup(thread)
  thread:set("thread_no", next_thread)
  next_thread = next_thread + 1
end

local counter = 0
local prefix
local headers

function init(args)
  load_env()
  prefix = tag .. "-" .. tostring(thread_no) .. "-"
  headers = {
    ["Content-Type"] = "application/json",
    ["User-Agent"] = "GitHub-Hookshot/bench",
    ["X-GitHub-Event"] = "push",
    ["X-GitHub-Hook-ID"] = "1",
    ["X-Hub-Signature-256"] = signature,
    ["X-GitHub-Delivery"] = "",
  }
end

function request()
  counter = counter + 1
  headers["X-GitHub-Delivery"] = prefix .. counter
  -- nil path: wrk uses the path of the URL given on the command line.
  return wrk.format("POST", nil, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d non2xx3xx=%d connect_errors=%d read_errors=%d " ..
    "write_errors=%d timeouts=%d p50_us=%d p75_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d mean_us=%.1f\n",
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(75), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
