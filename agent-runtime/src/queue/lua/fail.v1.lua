--[[
  fail.v1 — record a failed delivery: retry later, fail for good, or dead-letter; then claim
  the next tasks in the same call.

  KEYS[1..8]  ready, leases, delayed, dead, marker, task key prefix, seq, claim record prefix
              (see includes/common.lua)
  ARGV[1..6]  nowMs, leaseMs, count, tokenPrefix, workerId, propagate (see includes/claim.lua)
  ARGV[7]     id of the failed task
  ARGV[8]     its lease token
  ARGV[9]     error message (kept on the task as its last error)
  ARGV[10]    "retry" (retryable failure) or "fail" (permanent: no further delivery)
  ARGV[11]    retry delay in ms, chosen by the worker (capped exponential backoff with jitter);
              0 puts the task straight back in ready
  ARGV[12]    default maxDeliveries, for tasks enqueued without one
  ARGV[13]    TTL in ms of a failed task's hash

  Returns {code, n, <n claimed tasks as in claim.v1>}
    code  1  retrying: in the delayed set until nowMs + delay (or ready when delay is 0)
    code  2  failed: status failed, the hash expires after the TTL
    code  3  dead: deliveries reached maxDeliveries; status dead, in the dead-letter set
    code -2  lease lost: nothing was written for this task — the claim part still ran

  Resent calls: when the lease is gone because this same lease already recorded the failure
  (the task's settledBy is the token), the code recorded then is returned again and nothing is
  written; the claim part replays the first run's claim (includes/claim.lua).
]]
-- @include common
-- @include claim

local id, token, message, mode = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local now = ARGV[1]
local code = -2
if redis.call("ZREM", KEYS[2], leaseMember(id, token)) == 1 then
  local key = taskKey(id)
  local fields = redis.call("HMGET", key, "payload", "deliveries", "score")
  local deliveries = tonumber(fields[2]) or 0
  local maxDeliveries = payloadNumber(fields[1], "maxDeliveries") or tonumber(ARGV[12])
  local delay = tonumber(ARGV[11])
  if mode == "fail" then
    redis.call("HSET", key, "status", "failed", "error", message, "finishedAt", now)
    redis.call("PEXPIRE", key, ARGV[13])
    code = 2
  elseif deliveries >= maxDeliveries then
    deadLetter(id, now, message)
    code = 3
  elseif delay > 0 then
    local due = tonumber(now) + delay
    redis.call("HSET", key, "status", "retrying", "error", message, "dueAt", due)
    redis.call("ZADD", KEYS[3], due, id)
    code = 1
  else
    redis.call("HSET", key, "status", "retrying", "error", message)
    toReady(id, fields[3])
    wake()
    code = 1
  end
  redis.call("HSET", key, SETTLED_BY, token, SETTLED_AS, code)
else
  local settled = redis.call("HMGET", taskKey(id), SETTLED_BY, SETTLED_AS)
  if settled[1] == token then
    code = tonumber(settled[2])
  end
end
local reply = {code, 0}
reply[2] = claimTasks(reply)
return reply
