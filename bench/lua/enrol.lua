-- B2: one CaseEnrolled per request (a new case stream each time).
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
local common = require("common")
local counter = 0
local tag = tostring(math.random(1, 1e9))

function setup(thread)
  thread:set("tid", tostring(math.random(1, 1e9)))
end

request = function()
  counter = counter + 1
  local body = '{"type":"CaseEnrolled","data":{"kind":"autologous","product":"CAR-T (bench)",' ..
    '"treating_site":"hospital-1","collection_site":"hospital-1","mrn":"MRN-B-' .. tag .. "-" ..
    (tid or "0") .. "-" .. counter .. '"}}'
  return wrk.format("POST", "/v1/events", common.headers, body)
end

done = common.done
