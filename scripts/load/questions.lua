-- wrk script for scripts/load-bench: each request asks the demo one question as
-- JSON on POST /api/v1/whatif, cycling through the demo's example questions in
-- English and Traditional Chinese, so the offline parser, the planner and the engine all run each time.
-- Any status other than 200 is counted and reported at the end.

-- {model, question}: the demo's own example questions, all three models.
local questions = {
  { "retail", "If we cut TV ads by 10%, what happens to store sales?" },
  { "retail", "如果把電視廣告減少10%，門市銷售會怎樣？" },
  { "retail", "If we lower the price by 5%, which KPIs are affected?" },
  { "retail", "如果把搜尋廣告增加20%，線上銷售會怎樣？" },
  { "factory", "If we raise the oven temperature by 5, what happens to yield?" },
  { "factory", "如果把產線速度降低10%，能耗會怎樣？" },
  { "onboarding", "What happens to retention if we set new onboarding to 1?" },
  { "onboarding", "如果把新版引導設為1，哪些KPI會受影響？" },
}

local bodies = {}
for i, q in ipairs(questions) do
  bodies[i] = '{"model": "' .. q[1] .. '", "question": "' .. q[2] .. '"}'
end

-- With the argument `distinct` (after `--` on wrk's command line) every request
-- asks a question not asked before — a new percentage of a retail lever — so
-- none is answered from the answer cache and each runs the engine's bootstrap.
local distinct = false
local counter = 0
local failures = 0
local levers = { "TV ads", "search ads", "the price" }

function init(args)
  distinct = args[1] == "distinct"
  -- Each wrk thread counts in its own range, so threads never repeat each other.
  counter = (wrk.thread:get("id") or 0) * 1000000
end

function setup(thread)
  thread_count = (thread_count or 0) + 1
  thread:set("id", thread_count)
end

function request()
  counter = counter + 1
  local body
  if distinct then
    local percent = string.format("%.3f", 1 + (counter % 1000000) / 1000)
    local lever = levers[(counter % #levers) + 1]
    body = '{"model": "retail", "question": "If we cut ' .. lever .. ' by ' .. percent
      .. '%, what happens to store sales?"}'
  else
    body = bodies[(counter % #bodies) + 1]
  end
  return wrk.format("POST", "/api/v1/whatif", { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
  if status ~= 200 then
    failures = failures + 1
    if failures <= 3 then
      io.stderr:write("status " .. status .. ": " .. body:sub(1, 300) .. "\n")
    end
  end
end

function done(summary, latency, requests)
  io.write(string.format(
    "\nrequests %d in %.1f s: %.0f per second; non-2xx %d, socket errors %d\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    summary.errors.status, summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout))
  io.write(string.format("latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
