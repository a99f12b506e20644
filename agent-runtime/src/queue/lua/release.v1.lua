--[[
  release.v1 — hand leased tasks back to ready untouched (a draining worker that cannot finish
  them in time). The delivery is not counted: the task did not fail, its worker stopped.

  KEYS[1..8]  ready, leases, delayed, dead, marker, task key prefix, seq, claim record prefix
              (see includes/common.lua)
  ARGV[1]     nowMs
  ARGV[2..]   id_1, token_1, id_2, token_2, ...

  Returns n: how many leases were released (a lease already reaped is skipped).
]]
-- @include common

local released = 0
for i = 2, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call("ZREM", KEYS[2], leaseMember(id, ARGV[i + 1])) == 1 then
    local key = taskKey(id)
    local fields = redis.call("HMGET", key, "deliveries", "score")
    local deliveries = math.max((tonumber(fields[1]) or 1) - 1, 0)
    redis.call("HSET", key, "status", "queued", "deliveries", deliveries)
    toReady(id, fields[2])
    released = released + 1
  end
end
if released > 0 then
  wake()
end
return released
