-- wrk script: each thread sends, in turn, the pre-built raw HTTP requests of its own file
-- (<prefix>.<thread number>: "<length>\n<request bytes>" repeated), so every request is distinct and
-- correctly signed without hashing anything inside wrk. bench/receiver.py writes the files.
local threads = 0

function setup(thread)
  thread:set("number", threads)
  threads = threads + 1
end

function init(args)
  local file = assert(io.open(args[1] .. "." .. number, "rb"))
  local data = file:read("*a")
  file:close()
  requests = {}
  local position = 1
  while position <= #data do
    local newline = string.find(data, "\n", position, true)
    local length = tonumber(string.sub(data, position, newline - 1))
    requests[#requests + 1] = string.sub(data, newline + 1, newline + length)
    position = newline + length + 1
  end
  index = 0
end

function request()
  index = index + 1
  if index > #requests then
    index = 1
  end
  return requests[index]
end
