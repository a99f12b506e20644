--[[
  dlq-purge.v1 — delete dead-lettered tasks for good (hash and dead-set entry).

  KEYS[1..8]  ready, leases, delayed, dead, marker, task key prefix, seq, claim record prefix
              (see includes/common.lua)
  ARGV[1]     limit: with no ids, the oldest `limit` dead tasks
  ARGV[2..]   ids (optional)

  Returns n: how many tasks were deleted (ids not in the dead set are skipped).
]]
-- @include common

local ids = deadTargets()
local purged = 0
for _, id in ipairs(ids) do
  if redis.call("ZREM", KEYS[4], id) == 1 then
    redis.call("DEL", taskKey(id))
    purged = purged + 1
  end
end
return purged
