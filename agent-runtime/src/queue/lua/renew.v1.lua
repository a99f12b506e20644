--[[
  renew.v1 — extend all of a worker's leases in one call.

  KEYS[1..8]  ready, leases, delayed, dead, marker, task key prefix, seq, claim record prefix
              (see includes/common.lua)
  ARGV[1]     nowMs
  ARGV[2]     leaseMs: each lease now ends at nowMs + leaseMs
  ARGV[3..]   id_1, token_1, id_2, token_2, ...

  Returns {id, ...}: the tasks whose lease was lost (reaped after it expired, or acknowledged
  by someone else); the worker should abandon them. Empty when all were extended.
]]
-- @include common

local deadline = tonumber(ARGV[1]) + tonumber(ARGV[2])
local lost = {}
for i = 3, #ARGV, 2 do
  local member = leaseMember(ARGV[i], ARGV[i + 1])
  -- XX: never re-creates a lease the reaper took. CH counts a changed deadline; an unchanged
  -- one (two renewals in the same millisecond) needs the ZSCORE check.
  if redis.call("ZADD", KEYS[2], "XX", "CH", deadline, member) == 0
      and not redis.call("ZSCORE", KEYS[2], member) then
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
