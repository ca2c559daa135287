-- bench/workloads/luawork.lua - a real program: the Lua 5.4 interpreter building and dropping
-- tables, strings and closures.
--
-- Run by bench/run as `lua5.4 bench/workloads/luawork.lua ROUNDS N` under each allocator
-- (Debian's lua5.4 package; the interpreter takes every object from the C library's realloc and
-- free through its default lua_Alloc, so the allocator shows through directly, with Lua's
-- incremental garbage collector deciding when blocks die). Each round builds a table of N
-- records (small tables with string fields), an array of N strings of varied lengths that is
-- sorted and concatenated, a string-keyed hash that grows and is rehashed, and N closures, then
-- drops them; a full collection closes the round. Everything is computed from integer
-- formulas, so the output is the same for every run and allocator.
--
-- verify: the number of rounds and a checksum over everything produced.
local rounds = tonumber(arg[1]) or 3
local n = tonumber(arg[2]) or 100000

local function mix(h, v)
  return (h * 31 + v) % 4294967291
end

local h = 7
for r = 1, rounds do
  -- records
  local recs = {}
  for i = 1, n do
    recs[i] = { id = i, name = "item-" .. ((i * 7919) % 100003), qty = (i * r) % 977,
                tags = { "t" .. (i % 13), "u" .. (i % 7) } }
  end
  for i = 1, n, 97 do h = mix(h, recs[i].qty + #recs[i].name + #recs[i].tags[1]) end
  -- strings: build, sort, concatenate
  local strs = {}
  for i = 1, n do
    strs[i] = string.rep(string.char(97 + (i * 31) % 26), 1 + (i * 17) % 40) .. i
  end
  table.sort(strs)
  local joined = table.concat(strs, ",", 1, n // 4)
  h = mix(h, #joined)
  h = mix(h, #strs[1] + #strs[n])
  -- a growing hash keyed by strings, half of it deleted again
  local hash = {}
  for i = 1, n do hash["k" .. ((i * 2654435761) % 1000003)] = i end
  for i = 1, n, 2 do hash["k" .. ((i * 2654435761) % 1000003)] = nil end
  local cnt = 0
  for _, v in pairs(hash) do cnt = cnt + (v % 3) end
  h = mix(h, cnt)
  -- closures
  local fs = {}
  for i = 1, n // 2 do
    local a = i
    fs[i] = function(x) return x + a end
  end
  local s = 0
  for i = 1, #fs, 53 do s = s + fs[i](r) end
  h = mix(h, s % 1000003)
  recs, strs, joined, hash, fs = nil, nil, nil, nil, nil
  collectgarbage("collect")
end
print(string.format("verify: lua rounds=%d n=%d sum=%d", rounds, n, h))
