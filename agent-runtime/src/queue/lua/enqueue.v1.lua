--[[
  enqueue.v1 — add one task to an agent's ready set; idempotent by task id.
  Self-contained (no @include), so any language can SCRIPT LOAD this file as it is.

  KEYS[1]  task hash     <prefix>:{<agent>}:task:<id>   (must end with ":task:" .. ARGV[1])
  KEYS[2]  ready zset    <prefix>:{<agent>}:ready
  KEYS[3]  sequence      <prefix>:{<agent>}:seq
  KEYS[4]  wake marker   <prefix>:{<agent>}:marker

  ARGV[1]  id             1-128 chars of [A-Za-z0-9._:-], starting with a letter or digit
  ARGV[2]  type           task type, [a-z0-9-], e.g. "code-review" (the producer maps type -> agent)
  ARGV[3]  priority       0 | 1 | 2 | 3   (0 = P0 = highest)
  ARGV[4]  input          a JSON object, as text (stored verbatim; at most 1 MiB)
  ARGV[5]  maxDeliveries  "" (the worker's default) or an integer 1..100
  ARGV[6]  timeoutMs      "" (the worker's default) or an integer 1..86400000
  ARGV[7]  createdAt      "" or an ISO-8601 timestamp, e.g. 2025-01-31T12:00:00.000Z
  ARGV[8]  nowMs          the producer's clock, Unix milliseconds (recorded as enqueuedAt)
  ARGV[9]  callToken      optional; unique per enqueue call, 1-64 of [A-Za-z0-9-]. Recorded in the
                          payload ("enqueuedBy"), so that a resend of this call (its reply was lost
                          to a dropped connection or a failover) finds the payload it wrote and
                          answers "created" again instead of "duplicate"
  ARGV[10] traceparent    optional; "" or a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>, lowercase):
                          the trace the task's spans join (recorded as "traceparent")
  ARGV[11] tracestate     optional; "" or a W3C tracestate of at most 512 characters without
                          '"', '\\', '{' or '}' (recorded as "tracestate"; ignored without ARGV[10])

  Returns
    {1, id, seq}       created: the task is ready with score priority * 2^50 + seq
                       (seq is 0 when a resent call finds the task its first run created)
    {0, id, status}    duplicate: a task with this id exists (any status); nothing changed
    {-3, message}      invalid argument: nothing was written; message names the argument
]]
local PRIORITY_BAND = 1125899906842624 -- 2^50: score = priority * 2^50 + seq

local id, taskType, priority, input = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local maxDeliveries, timeoutMs, createdAt, now = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local callToken = ARGV[9] or ""
local traceparent, tracestate = ARGV[10] or "", ARGV[11] or ""

local function invalid(message)
  return {-3, message}
end

if type(id) ~= "string" or #id < 1 or #id > 128 or not string.match(id, "^[%w][%w%._:%-]*$") then
  return invalid("id: must be 1-128 characters of letters, digits, '.', '_', ':' or '-', starting with a letter or digit")
end
local suffix = ":task:" .. id
if string.sub(KEYS[1], -#suffix) ~= suffix then
  return invalid("KEYS[1]: the task key must end with \"" .. suffix .. "\"")
end
if type(taskType) ~= "string" or #taskType > 64 or not string.match(taskType, "^[a-z][a-z0-9%-]*$") then
  return invalid("type: must be a task type of lowercase letters, digits and '-', e.g. \"code-review\"")
end
if priority ~= "0" and priority ~= "1" and priority ~= "2" and priority ~= "3" then
  return invalid("priority: must be 0, 1, 2 or 3 (0 is the highest)")
end
if type(input) ~= "string" or #input > 1048576 then
  return invalid("input: must be a JSON object of at most 1 MiB")
end
if not string.match(input, "^%s*{") or not pcall(cjson.decode, input) then
  return invalid("input: must be a JSON object, e.g. {\"prompt\": \"...\"}")
end
if maxDeliveries ~= "" and (not string.match(maxDeliveries, "^%d+$") or tonumber(maxDeliveries) < 1
    or tonumber(maxDeliveries) > 100) then
  return invalid("maxDeliveries: must be empty or an integer from 1 to 100")
end
if timeoutMs ~= "" and (not string.match(timeoutMs, "^%d+$") or tonumber(timeoutMs) < 1
    or tonumber(timeoutMs) > 86400000) then
  return invalid("timeoutMs: must be empty or an integer from 1 to 86400000")
end
if createdAt ~= "" and (#createdAt > 40 or not string.match(createdAt, "^%d%d%d%d%-[%w:%.%+%-]+$")) then
  return invalid("createdAt: must be empty or an ISO-8601 timestamp such as 2025-01-31T12:00:00.000Z")
end
if not string.match(now or "", "^%d+$") then
  return invalid("nowMs: must be the current time in Unix milliseconds")
end
if callToken ~= "" and (#callToken > 64 or not string.match(callToken, "^[%w%-]+$")) then
  return invalid("callToken: must be empty or 1-64 letters, digits and '-'")
end

local HEX = "[0-9a-f]"
local TRACEPARENT = "^" .. HEX:rep(2) .. "%-" .. HEX:rep(32) .. "%-" .. HEX:rep(16) .. "%-" .. HEX:rep(2) .. "$"
if traceparent ~= "" and not string.match(traceparent, TRACEPARENT) then
  return invalid("traceparent: must be empty or a W3C traceparent such as 00-<32 hex>-<16 hex>-01")
end
if tracestate ~= "" and (#tracestate > 512 or not string.match(tracestate, '^[ -~]+$')
    or string.find(tracestate, '["\\{}]')) then
  return invalid("tracestate: must be empty or at most 512 printable characters without '\"', '\\', '{' or '}'")
end

-- The payload is immutable; its metadata comes first, in a fixed order, with no '{' before the
-- input, so other scripts can read single fields with a pattern instead of decoding the input.
local optional = ""
if createdAt ~= "" then
  optional = ',"createdAt":"' .. createdAt .. '"'
end
optional = optional .. ',"enqueuedAt":' .. now
if maxDeliveries ~= "" then
  optional = optional .. ',"maxDeliveries":' .. maxDeliveries
end
if timeoutMs ~= "" then
  optional = optional .. ',"timeoutMs":' .. timeoutMs
end
if callToken ~= "" then
  optional = optional .. ',"enqueuedBy":"' .. callToken .. '"'
end
if traceparent ~= "" then
  optional = optional .. ',"traceparent":"' .. traceparent .. '"'
  if tracestate ~= "" then
    optional = optional .. ',"tracestate":"' .. tracestate .. '"'
  end
end
local payload = '{"id":"' .. id .. '","type":"' .. taskType .. '","priority":' .. priority .. optional
  .. ',"input":' .. input .. '}'

-- HSETNX is the idempotency check and the write in one command.
-- The same payload, call token included, can only come from this very call, resent.
if redis.call("HSETNX", KEYS[1], "payload", payload) == 0 then
  local fields = redis.call("HMGET", KEYS[1], "status", "payload")
  if callToken ~= "" and fields[2] == payload then
    return {1, id, 0}
  end
  return {0, id, fields[1] or "queued"}
end
local seq = redis.call("INCR", KEYS[3])
redis.call("ZADD", KEYS[2], string.format("%.0f", tonumber(priority) * PRIORITY_BAND + seq), id)
redis.call("ZADD", KEYS[4], 0, "w")
return {1, id, seq}
