-- wrk script for bench/login.py's token phase: POST <path>/token, round-robin over the
-- logged-in conversations listed one path per line in TOKEN_PATHS, with the bot's Basic
-- credentials from TOKEN_AUTH. (wrk runs for a duration; bench/login.py picks the duration
-- from a short first run, so that the whole phase makes the requests it wants.)
-- done() prints one JSON line (prefixed "TOKEN_RESULT ") that bench/login.py reads.
local paths = {}
for line in io.lines(os.getenv("TOKEN_PATHS")) do
  paths[#paths + 1] = line
end
local headers = { ["Authorization"] = os.getenv("TOKEN_AUTH"), ["Content-Length"] = "0" }
local next_path = 0

function setup(thread)
  -- each thread starts at its own place in the list, so the threads spread over sessions
  setup_threads = (setup_threads or 0) + 1
  thread:set("start", setup_threads * 7)
end

function init(args)
  next_path = start or 0
end

function request()
  next_path = next_path % #paths + 1
  return wrk.format("POST", paths[next_path], headers, "")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'TOKEN_RESULT {"requests": %d, "seconds": %.6f, "non_2xx": %d, "socket_errors": %d, ' ..
    '"p50_ms": %.3f, "p99_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
