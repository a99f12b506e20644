--[[
  claim.v1 — lease up to `count` ready tasks to a worker.

  KEYS[1..8]  ready, leases, delayed, dead, marker, task key prefix, seq, claim record prefix
              (see includes/common.lua)
  ARGV[1..6]  nowMs, leaseMs, count, tokenPrefix, workerId, propagate (see includes/claim.lua)

  Returns {1, n, id_1, token_1, payload_1, deliveries_1, ..., id_n, token_n, payload_n, deliveries_n}
    n = 0 when nothing is ready: block on the wake marker, then call again.
]]
-- @include common
-- @include claim

local reply = {1, 0}
reply[2] = claimTasks(reply)
return reply
