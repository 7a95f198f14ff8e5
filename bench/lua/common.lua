-- Shared by the wrk scripts: bearer token from the environment, JSON summary on stdout.
local M = {}
M.token = os.getenv("BENCH_TOKEN") or ""
M.headers = {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. M.token}

function M.done(summary, latency, requests)
  local statuses = summary.errors.status or 0
  io.write(string.format(
    'JSON {"requests": %d, "seconds": %.3f, "non_2xx": %d, "socket_errors": %d, "p50_ms": %.3f, ' ..
    '"p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f, "mean_ms": %.3f}\n',
    summary.requests, summary.duration / 1e6, statuses,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000))
end

return M
