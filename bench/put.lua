-- Durable PUT (full replace) of exports drawn at random from ids.txt.
local ids = {}
for line in io.lines(os.getenv("IDS") or "ids.txt") do ids[#ids + 1] = line end
math.randomseed(11)
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
local body = '{"name":"bench-put","adaptorType":"HTTPExport",' ..
  '"_connectionId":"' .. os.getenv("CONN") .. '",' ..
  '"http":{"method":"POST","relativeURI":"/items"}}'
request = function()
  return wrk.format("PUT", "/v1/exports/" .. ids[math.random(#ids)], nil, body)
end
