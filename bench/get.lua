-- GET one export by id, ids drawn at random from ids.txt.
local ids = {}
for line in io.lines(os.getenv("IDS") or "ids.txt") do ids[#ids + 1] = line end
math.randomseed(7)
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
request = function()
  return wrk.format("GET", "/v1/exports/" .. ids[math.random(#ids)])
end
