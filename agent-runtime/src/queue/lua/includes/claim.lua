--[[
  Fragment: claim up to ARGV[3] ready tasks, highest priority first, FIFO within a priority.
  Used by claim.v1, ack.v1 and fail.v1, which share these leading ARGV:

  ARGV[1]  nowMs        the worker's clock, Unix ms
  ARGV[2]  leaseMs      lease length; the worker renews it before it runs out
  ARGV[3]  count        how many tasks to claim (0: none)
  ARGV[4]  tokenPrefix  unique per call; the lease token of the n-th task is tokenPrefix .. n
  ARGV[5]  workerId     recorded on the task, for operators
  ARGV[6]  propagate    "1": if the claim was filled and tasks remain, re-set the wake marker
                        so another blocked worker wakes (the caller was itself woken by it)

  Appends id, token, payload, deliveries for each claimed task to `reply`; returns the count.
  Deliveries are counted here, at claim, so a task that kills its worker still reaches the
  dead-letter set after maxDeliveries claims. All the leases go in with one ZADD.

  Exactly once per call: the ids a call claimed are kept under KEYS[8] .. tokenPrefix for one
  lease length. When the reply is lost (a dropped connection, a failover) and the client resends
  the call, the resend finds that record and returns the same tasks, still leased to this call,
  instead of claiming more (which would leave the first ones leased to nobody until they expire).
]]
local function replayClaim(reply, record)
  local replayed = 0
  local position = 0
  for id in string.gmatch(record, "[^,]+") do
    position = position + 1
    local token = ARGV[4] .. position
    if redis.call("ZSCORE", KEYS[2], leaseMember(id, token)) then
      local fields = redis.call("HMGET", taskKey(id), "payload", "deliveries")
      if fields[1] then
        replayed = replayed + 1
        reply[#reply + 1] = id
        reply[#reply + 1] = token
        reply[#reply + 1] = fields[1]
        reply[#reply + 1] = tonumber(fields[2]) or 1
      end
    end
  end
  return replayed
end

local function claimTasks(reply)
  local count = tonumber(ARGV[3])
  if count < 1 then
    return 0
  end
  local recordKey = KEYS[8] .. ARGV[4]
  local record = redis.call("GET", recordKey)
  if record then
    return replayClaim(reply, record)
  end
  local now = ARGV[1]
  local deadline = tonumber(now) + tonumber(ARGV[2])
  local popped = redis.call("ZPOPMIN", KEYS[1], count)
  local claimed = 0
  local leases = {}
  local ids = {}
  for i = 1, #popped, 2 do
    local id, score = popped[i], popped[i + 1]
    local key = taskKey(id)
    local fields = redis.call("HMGET", key, "payload", "deliveries")
    if fields[1] then -- a task hash purged behind the queue's back is skipped
      claimed = claimed + 1
      local deliveries = (tonumber(fields[2]) or 0) + 1
      local token = ARGV[4] .. claimed
      ids[claimed] = id
      redis.call("HSET", key, "status", "running", "deliveries", deliveries, "score", score,
        "worker", ARGV[5], "startedAt", now)
      leases[#leases + 1] = deadline
      leases[#leases + 1] = leaseMember(id, token)
      reply[#reply + 1] = id
      reply[#reply + 1] = token
      reply[#reply + 1] = fields[1]
      reply[#reply + 1] = deliveries
    end
  end
  if claimed > 0 then
    redis.call("ZADD", KEYS[2], unpack(leases))
    redis.call("SET", recordKey, table.concat(ids, ","), "PX", ARGV[2])
  end
  if ARGV[6] == "1" and #popped == 2 * count and redis.call("ZCARD", KEYS[1]) > 0 then
    wake()
  end
  return claimed
end
