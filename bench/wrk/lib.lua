-- Shared by every wrk script of the benchmark: numbers each thread (global `tid`) and prints one
-- machine-readable result line that bench/run reads.

threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  local e = summary.errors
  local logins, failures = 0, 0
  for _, t in ipairs(threads) do
    logins = logins + (t:get("logins") or 0)
    failures = failures + (t:get("failures") or 0)
  end
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f},' ..
    '"logins":%d,"login_failures":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    logins, failures))
end

-- The lines of a file, empty lines skipped.
function read_lines(path)
  local lines = {}
  if path and path ~= "" then
    for line in io.lines(path) do
      if line ~= "" then lines[#lines + 1] = line end
    end
  end
  return lines
end
