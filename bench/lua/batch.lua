-- B1: POST /v1/events/batch with 100 CaseEnrolled events (one transaction each).
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
local common = require("common")
local counter = 0
local tag = tostring(math.random(1, 1e9))

function setup(thread)
  thread:set("tid", tostring(math.random(1, 1e9)))
end

request = function()
  local events = {}
  for i = 1, 100 do
    counter = counter + 1
    events[i] = '{"type":"CaseEnrolled","data":{"kind":"autologous","product":"CAR-T (bench)",' ..
      '"treating_site":"hospital-1","mrn":"MRN-BB-' .. tag .. "-" .. (tid or "0") .. "-" .. counter .. '"}}'
  end
  return wrk.format("POST", "/v1/events/batch", common.headers, '{"events":[' .. table.concat(events, ",") .. ']}')
end

done = common.done
