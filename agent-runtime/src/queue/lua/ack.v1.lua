--[[
  ack.v1 — record a task's result, then claim the next tasks in the same call.

  KEYS[1..7]  ready, leases, delayed, dead, marker, task key prefix, seq (see includes/common.lua)
  ARGV[1..6]  nowMs, leaseMs, count, tokenPrefix, workerId, propagate (see includes/claim.lua);
              count = 0 acknowledges without claiming (draining)
  ARGV[7]     id of the finished task
  ARGV[8]     its lease token
  ARGV[9]     result, JSON text
  ARGV[10]    result TTL in ms: the task hash (status + result) expires after it

  Returns {code, n, <n claimed tasks as in claim.v1>}
    code  1  acknowledged: status succeeded, result stored
    code -2  lease lost: the lease expired and was reaped (the task runs again elsewhere);
             nothing was written for this task — the claim part still ran
]]
-- @include common
-- @include claim

local id, token = ARGV[7], ARGV[8]
local code = -2
if redis.call("ZREM", KEYS[2], leaseMember(id, token)) == 1 then
  local key = taskKey(id)
  redis.call("HSET", key, "status", "succeeded", "result", ARGV[9], "finishedAt", ARGV[1])
  redis.call("PEXPIRE", key, ARGV[10])
  code = 1
end
local reply = {code, 0}
reply[2] = claimTasks(reply)
return reply
