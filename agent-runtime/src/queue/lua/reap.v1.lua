--[[
  reap.v1 — housekeeping that any worker may run at any time (it is idempotent):
  expired leases go back to ready, or to the dead-letter set once the task has had
  maxDeliveries deliveries; retries whose delay is over move from delayed to ready.
  It also says when something next comes due, so an idle worker can sleep until then.
  (nextDueMs was added as a fifth value; a caller that reads the first four still works, so
  the script kept its version.)

  KEYS[1..8]  ready, leases, delayed, dead, marker, task key prefix, seq, claim record prefix
              (see includes/common.lua)
  ARGV[1]     nowMs
  ARGV[2]     limit: at most this many expired leases and this many due retries per call
  ARGV[3]     default maxDeliveries, for tasks enqueued without one

  Returns {reclaimed, deadLettered, promoted, more, nextDueMs}
    more: 1 when a limit was hit and there may be more to do (call again), else 0.
    nextDueMs: the earliest remaining lease deadline or retry due time, -1 when there is
    neither (no leases, no delayed retries).

  Each set is peeked at its head first, so a call with nothing due runs 2 commands.
]]
-- @include common

local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local defaultMax = tonumber(ARGV[3])
local reclaimed, deadLettered, promoted = 0, 0, 0

-- The score of a sorted set's first member, or nil when it is empty.
local function head(key)
  return tonumber(redis.call("ZRANGE", key, 0, 0, "WITHSCORES")[2])
end

local leaseHead = head(KEYS[2])
local expired = {}
if leaseHead and leaseHead <= now then
  expired = redis.call("ZRANGEBYSCORE", KEYS[2], "-inf", now, "LIMIT", 0, limit)
end
for _, member in ipairs(expired) do
  redis.call("ZREM", KEYS[2], member)
  local id = splitLease(member)
  local key = taskKey(id)
  local fields = redis.call("HMGET", key, "payload", "deliveries", "score")
  if fields[1] then
    local deliveries = tonumber(fields[2]) or 0
    local maxDeliveries = payloadNumber(fields[1], "maxDeliveries") or defaultMax
    if deliveries >= maxDeliveries then
      deadLetter(id, now, "lease expired on delivery " .. deliveries .. " of " .. maxDeliveries
        .. ": the worker stopped (crashed, was killed or hung) before acknowledging")
      deadLettered = deadLettered + 1
    else
      redis.call("HSET", key, "status", "retrying", "error",
        "lease expired on delivery " .. deliveries .. ": the worker stopped before acknowledging")
      toReady(id, fields[3])
      reclaimed = reclaimed + 1
    end
  end
end

local delayedHead = head(KEYS[3])
local due = {}
if delayedHead and delayedHead <= now then
  due = redis.call("ZRANGEBYSCORE", KEYS[3], "-inf", now, "LIMIT", 0, limit)
end
for _, id in ipairs(due) do
  redis.call("ZREM", KEYS[3], id)
  local score = redis.call("HGET", taskKey(id), "score")
  if score then -- a retry always has its score from its first claim; no hash: purged meanwhile
    toReady(id, score)
    promoted = promoted + 1
  end
end

if reclaimed + promoted > 0 then
  wake()
end

-- 1 when a limit was hit: call again at once.
local more = 0
if #expired == limit or #due == limit then
  more = 1
end
if #expired > 0 then
  leaseHead = head(KEYS[2])
end
if #due > 0 then
  delayedHead = head(KEYS[3])
end
local nextDue = leaseHead or delayedHead or -1
if leaseHead and delayedHead and delayedHead < leaseHead then
  nextDue = delayedHead
end
return {reclaimed, deadLettered, promoted, more, nextDue}
