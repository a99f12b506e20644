--[[
  ack.v1 — record the results of one or more finished tasks, then claim the next tasks in the
  same call (a worker acknowledges everything that finished in one event-loop turn at once).

  KEYS[1..8]  ready, leases, delayed, dead, marker, task key prefix, seq, claim record prefix
              (see includes/common.lua)
  ARGV[1..6]  nowMs, leaseMs, count, tokenPrefix, workerId, propagate (see includes/claim.lua);
              count = 0 acknowledges without claiming (draining)
  ARGV[7]     result TTL in ms: each acknowledged task hash (status + result) expires after it
  ARGV[8..]   id_1, token_1, result_1, id_2, token_2, result_2, ...   (result: JSON text)

  Returns {acked, n, <n claimed tasks as in claim.v1>, lostId_1, lostId_2, ...}
    acked   how many results were recorded (status succeeded)
    lostId  a task whose lease was lost (it expired and was reaped, so the task runs again
            elsewhere); nothing was written for it. The claim part runs regardless.

  Resent calls: a result whose lease is gone because this same lease already acknowledged it
  (the task's settledBy is the token) counts as acked again, not lost; the claim part replays
  the first run's claim (includes/claim.lua). So a call answers the same however often it runs.
]]
-- @include common
-- @include claim

-- Which leases are still held: one ZREM for a single result; for several, one ZMSCORE to tell
-- them apart and one ZREM for all the held ones (Redis >= 6.2).
local held = {}
if #ARGV == 10 then
  held[1] = redis.call("ZREM", KEYS[2], leaseMember(ARGV[8], ARGV[9])) == 1
elseif #ARGV > 10 then
  local members = {}
  for i = 8, #ARGV, 3 do
    members[#members + 1] = leaseMember(ARGV[i], ARGV[i + 1])
  end
  local scores = redis.call("ZMSCORE", KEYS[2], unpack(members))
  local present = {}
  for j, member in ipairs(members) do
    held[j] = scores[j] ~= false
    if held[j] then
      present[#present + 1] = member
    end
  end
  if #present > 0 then
    redis.call("ZREM", KEYS[2], unpack(present))
  end
end

local lost = {}
local acked = 0
local k = 0 -- the result's position, as in `held`
for i = 8, #ARGV, 3 do
  local id = ARGV[i]
  k = k + 1
  if held[k] then
    local key = taskKey(id)
    redis.call("HSET", key, "status", "succeeded", "result", ARGV[i + 2], "finishedAt", ARGV[1],
      SETTLED_BY, ARGV[i + 1])
    redis.call("PEXPIRE", key, ARGV[7])
    acked = acked + 1
  elseif redis.call("HGET", taskKey(id), SETTLED_BY) == ARGV[i + 1] then
    acked = acked + 1
  else
    lost[#lost + 1] = id
  end
end
local reply = {acked, 0}
reply[2] = claimTasks(reply)
for _, id in ipairs(lost) do
  reply[#reply + 1] = id
end
return reply
