--[[
  Fragment shared by the lifecycle scripts (claim, ack, fail, renew, release, reap, stats,
  dlq-retry, dlq-purge). They all take the same KEYS:

  KEYS[1]  ready zset    task id -> priority * 2^50 + seq
  KEYS[2]  leases zset   "<id>|<token>" -> lease deadline (Unix ms)
  KEYS[3]  delayed zset  task id -> time the retry is due (Unix ms)
  KEYS[4]  dead zset     task id -> time it was dead-lettered (Unix ms)
  KEYS[5]  wake marker   zset with the single member "w"; workers BZPOPMIN it
  KEYS[6]  task key prefix "<prefix>:{<agent>}:task:" (a task hash is KEYS[6] .. id)
  KEYS[7]  sequence      counter for new scores
  KEYS[8]  claim record key prefix "<prefix>:{<agent>}:claim:" (see includes/claim.lua)
]]
local PRIORITY_BAND = 1125899906842624 -- 2^50
local LEASE_SEPARATOR = "|"            -- never in a task id

local function taskKey(id)
  return KEYS[6] .. id
end

-- The lease token a delivery was settled (acked or failed) with, and how: a call whose reply was
-- lost and which the client resends finds its own token here and answers as the first run did.
local SETTLED_BY, SETTLED_AS = "settledBy", "settledAs"

local function leaseMember(id, token)
  return id .. LEASE_SEPARATOR .. token
end

-- "<id>|<token>" -> id, token (the token has no "|"; the id has none either).
local function splitLease(member)
  return string.match(member, "^(.*)|([^|]*)$")
end

-- A numeric field of the payload's metadata (which precedes the input and holds no '{').
local function payloadNumber(payload, field)
  if not payload then
    return nil
  end
  return tonumber(string.match(payload, '^{[^{]-"' .. field .. '":(%d+)'))
end

local function wake()
  redis.call("ZADD", KEYS[5], 0, "w")
end

-- Back to ready at its original score, so a requeued task keeps its place in line.
local function toReady(id, score)
  if not score then
    local priority = payloadNumber(redis.call("HGET", taskKey(id), "payload"), "priority") or 3
    score = string.format("%.0f", priority * PRIORITY_BAND + redis.call("INCR", KEYS[7]))
  end
  redis.call("ZADD", KEYS[1], score, id)
end

local function deadLetter(id, now, message)
  redis.call("HSET", taskKey(id), "status", "dead", "error", message, "finishedAt", now)
  redis.call("ZADD", KEYS[4], now, id)
end

-- The DLQ scripts' targets: the ids in ARGV[2..], or else the oldest ARGV[1] dead tasks.
local function deadTargets()
  if #ARGV >= 2 then
    local ids = {}
    for i = 2, #ARGV do
      ids[#ids + 1] = ARGV[i]
    end
    return ids
  end
  return redis.call("ZRANGE", KEYS[4], 0, tonumber(ARGV[1]) - 1)
end
