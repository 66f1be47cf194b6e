// The order book in Redis: for each person key, the open entries of its items in the order they were
// accepted (core/order/book.ts is the same thing as a pure model; the scripts below follow it).
//
// Layout, chosen for memory (one entry per queued item is the cost per waiting event) and for Redis Cluster:
// a person key is hashed (64 bits, placeOf) to a slot group g (of GROUPS, each its own cluster slot
// through the hash tag `{order<g>}`) and a bucket b in it. `<prefix>:{order<g>}:b<b>` is a hash: field =
// 8 bytes of the key's hash (raw), value = the open entries, each `;<ticket><kind><holder>` (ticket in
// base 36; kind `.` event, `!` operation; holder: the job that holds the item now, see holderOf), kept in
// pieces of at most 64 bytes (readValue in the scripts). Many small hashes of short values stay in Redis's
// compact encoding, and none grows large enough for its deletion to stall Redis. `<prefix>:{order<g>}:n`
// numbers the tickets (never reused, so a stale ticket never names another item), and
// `<prefix>:{order<g>}:held` holds each person currently held, with when the hold began (the gauge).
//
// Every call is one script per slot group, so a write of many items costs at most GROUPS calls. Entries
// are found with plain substring searches (C speed in Redis's Lua), so even a person with thousands of
// open entries costs little per call.

import type { OrderKind } from '../core/order/rule';
import { ACTION_KEYS, type ActionKey } from '../core/types';
import { Cluster } from 'ioredis';
import type { RedisConnection } from './connection';
import { deleteMatching } from './delete-matching';
import { PRODUCER_JOB_MARK } from './message-index';

/** Slot groups (cluster slots) the book is spread over. */
export const ORDER_GROUPS = 8;
/** Hashes per slot group. */
const BUCKETS = 256;

/** Where a person key lives in the book. */
export interface Placement {
  group: number;
  bucket: number;
  /** 8 bytes of the key's hash: two keys that share them in a bucket are ordered together (harmless). */
  field: Buffer;
}

/** The two 32-bit halves of a 64-bit hash of `key` (FNV-1a over its UTF-16 code units, each lane finished by a murmur3 mix). */
function hash64(key: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ key.length;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
    b ^= b >>> 15;
  }
  return [mix32(a), mix32(b ^ a)];
}

function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * A person key's place (group, bucket, field); pure. A hash of our own rather than a cryptographic one:
 * it is computed for every key at every step (register, gate, settle), and nothing depends on it being
 * hard to collide.
 */
export function placeOf(key: string): Placement {
  const [high, low] = hash64(key);
  const field = Buffer.allocUnsafe(8);
  field.writeUInt32BE(high, 0);
  field.writeUInt32BE(low, 4);
  return { group: groupOfHash(high), bucket: bucketOfHash(high), field };
}

function groupOfHash(high: number): number {
  return high % ORDER_GROUPS;
}

function bucketOfHash(high: number): number {
  return (high >>> 3) % BUCKETS;
}

/** Tickets travel in base 36 (in the book and in a job's `order`): shorter than decimal. */
export function ticketText(ticket: number): string {
  return ticket.toString(36);
}

export function ticketOf(text: string): number {
  return parseInt(text, 36);
}

/**
 * An item's tickets as its job carries them (GroupJobData.order): one per person key, comma-separated,
 * after a '+' when the item was free when placed (nothing open before it conflicted, so it stays free).
 */
export function orderText(tickets: readonly number[], free = false): string {
  return (free ? '+' : '') + tickets.map(ticketText).join(',');
}

export function parseOrderText(text: string): { tickets: number[]; free: boolean } {
  const free = text.startsWith('+');
  return { tickets: (free ? text.slice(1) : text).split(',').map(ticketOf), free };
}

/** The keys of a slot group start with this (the hash tag keeps them in one slot). */
export function groupPrefix(basePrefix: string, group: number): string {
  return `${basePrefix}:{order${group}}:`;
}

/**
 * A holder as the book writes it: one character for the action, then the job id. A producer's job (most
 * places) drops its id's leading PRODUCER_JOB_MARK and says so by an upper-case action character: one
 * byte less per waiting event. Jobs made from jobs keep theirs (a held job's starts with 'h': the scripts
 * wake those).
 */
export function holderOf(action: ActionKey, jobId: string): string {
  const index = ACTION_KEYS.indexOf(action);
  return jobId.startsWith(PRODUCER_JOB_MARK) && jobId.length > 1 ? String.fromCharCode(65 + index) + jobId.slice(1) : index.toString(36) + jobId;
}

export function parseHolder(holder: string): { action: ActionKey; jobId: string } | undefined {
  if (holder.length < 2) return undefined;
  const code = holder.charCodeAt(0);
  const producers = code >= 65 && code <= 90;
  const action = ACTION_KEYS[producers ? code - 65 : parseInt(holder.charAt(0), 36)];
  if (!action) return undefined;
  return { action, jobId: producers ? PRODUCER_JOB_MARK + holder.slice(1) : holder.slice(1) };
}

/** A person's value is kept in pieces of at most this many bytes, at most MAX_PIECES of them (see readValue in the scripts). */
const PIECE = 64;
const MAX_PIECES = 4;

/** The bytes the scripts read: an entry's kind ('.' event, '!' operation) and a settle's op ('r', 'm', 'x'). */
const KIND_CODE: Record<OrderKind, number> = { event: 46, operation: 33 };

// Shared Lua: find the entry of a ticket in a value; remove it; what to wake once it is gone.
const LUA_HELPERS = `
local DIGITS = {}
for i = 0, 35 do DIGITS[i] = string.byte('0123456789abcdefghijklmnopqrstuvwxyz', i + 1) end
-- n in base 36, as one new string (tickets stay below 36^6, two billion, for years at any rate).
local function b36(n)
  local d0 = n % 36; n = (n - d0) / 36
  if n == 0 then return string.char(DIGITS[d0]) end
  local d1 = n % 36; n = (n - d1) / 36
  if n == 0 then return string.char(DIGITS[d1], DIGITS[d0]) end
  local d2 = n % 36; n = (n - d2) / 36
  if n == 0 then return string.char(DIGITS[d2], DIGITS[d1], DIGITS[d0]) end
  local d3 = n % 36; n = (n - d3) / 36
  if n == 0 then return string.char(DIGITS[d3], DIGITS[d2], DIGITS[d1], DIGITS[d0]) end
  local d4 = n % 36; n = (n - d4) / 36
  if n == 0 then return string.char(DIGITS[d4], DIGITS[d3], DIGITS[d2], DIGITS[d1], DIGITS[d0]) end
  local rest = ''
  while n > 0 do local d = n % 36; rest = string.char(DIGITS[d]) .. rest; n = (n - d) / 36 end
  return rest .. string.char(DIGITS[d4], DIGITS[d3], DIGITS[d2], DIGITS[d1], DIGITS[d0])
end
-- The keys of slot group g: its hashes (by bucket), its ticket counter, its held persons. ARGV[1] is the
-- prefix the groups share; each entry names its group, so one call may serve every group (one Redis),
-- or only the group whose key it declares (Redis Cluster).
local BASE = ARGV[1]
local bucketKeys = {}
local function bucketKey(g, b)
  local i = g * 256 + b
  local k = bucketKeys[i]
  if not k then k = BASE .. ':{order' .. g .. '}:b' .. b; bucketKeys[i] = k end
  return k
end
local function groupKey(g, name) return BASE .. ':{order' .. g .. '}:' .. name end
local heldKeys = {}
local function heldKey(g)
  local k = heldKeys[g]
  if not k then k = groupKey(g, 'held'); heldKeys[g] = k end
  return k
end
-- Entries arrive packed in one argument (cheaper to send than four arguments each): bytes, a fixed number
-- of bytes, or a string after its length (two bytes). The scripts read it inline, keeping their own
-- position (a reader made of closures cost about three times as much per entry).
-- the string whose two length bytes are at pos, and where the next field starts
local function str(s, pos)
  local hi, lo = string.byte(s, pos, pos + 1)
  local e = pos + 1 + hi * 256 + lo
  return string.sub(s, pos + 2, e), e + 1
end
-- a set of the holders in a '|'-separated list; the same list (one asking job) is parsed once per call
local holderSets = {}
local function holderSet(list)
  local set = holderSets[list]
  if not set then
    set = {}
    for h in string.gmatch(list, '[^|]+') do set[h] = true end
    holderSets[list] = set
  end
  return set
end
-- Whether slot group g has held persons (its held set exists): the settle script asks once per group and
-- call instead of removing each person it touches from the set, since most persons were never held. Only
-- the gate script adds to a held set, so the answer holds for the whole settle call.
local heldExists = {}
local function anyHeld(g)
  local e = heldExists[g]
  if e == nil then e = redis.call('EXISTS', heldKey(g)) == 1; heldExists[g] = e end
  return e
end
local function unhold(g, field)
  if anyHeld(g) then redis.call('ZREM', heldKey(g), field) end
end
local KIND = { [46] = '.', [33] = '!' }
-- A person's value is kept in pieces of at most PIECE bytes, Redis's default hash-max-listpack-value: one
-- longer value would turn its whole bucket hash into Redis's hash-table encoding, which costs several times
-- the bytes per field (at 200,000 queued events every bucket had a person with three open entries). Piece
-- 0 is the field itself, piece i (1 to MAX_PIECES - 1) the field followed by the byte i; a piece shorter
-- than PIECE is the last. A value longer than PIECE * MAX_PIECES (a person with many open entries) is
-- kept whole in piece 0: more pieces would cost more calls than the encoding saves.
local PIECE, MAX_PIECES = ${PIECE}, ${MAX_PIECES}
-- the value of a field, and how many pieces it is kept in (0: none)
local function readValue(key, field)
  local v = redis.call('HGET', key, field)
  if not v then return nil, 0 end
  if #v ~= PIECE then return v, 1 end
  local parts, n = { v }, 1
  while n < MAX_PIECES do
    local piece = redis.call('HGET', key, field .. string.char(n))
    if not piece then break end
    n = n + 1
    parts[n] = piece
    if #piece ~= PIECE then break end
  end
  return table.concat(parts), n
end
-- writes v (empty: removes the field) over a value kept in \`had\` pieces
local function writeValue(key, field, v, had)
  local n = 1
  if #v == 0 then
    n = 0
    redis.call('HDEL', key, field)
  elseif #v <= PIECE or #v > PIECE * MAX_PIECES then
    redis.call('HSET', key, field, v)
  else
    n = math.ceil(#v / PIECE)
    local args = { field, string.sub(v, 1, PIECE) }
    for i = 1, n - 1 do
      args[#args + 1] = field .. string.char(i)
      args[#args + 1] = string.sub(v, i * PIECE + 1, (i + 1) * PIECE)
    end
    redis.call('HSET', key, unpack(args))
  end
  for i = math.max(n, 1), had - 1 do redis.call('HDEL', key, field .. string.char(i)) end
end
local function entryAt(v, t)
  local p = string.find(v, ';' .. t .. '.', 1, true)
  if p then return p, '.' end
  p = string.find(v, ';' .. t .. '!', 1, true)
  if p then return p, '!' end
  return nil
end
local function entryEnd(v, p)
  local e = string.find(v, ';', p + 1, true)
  return e or (#v + 1)
end
-- ticket, kind, holder of the entry starting at p
local function entryParts(v, p)
  local e = entryEnd(v, p)
  local body = string.sub(v, p + 1, e - 1)
  local t, k, h = string.match(body, '^(%w+)([%.!])(.*)$')
  return t, k, h
end
-- the start of the entry holding the character at q
local function entryStartBefore(v, q)
  local j = q - 1
  while j > 0 and string.byte(v, j) ~= 59 do j = j - 1 end
  return j
end
`;

// ARGV: the book's prefix, then the keys in accepted order, packed: group (byte), bucket (byte), field (8
// bytes), kind (a byte, '.' or '!'), holder (string); then how many keys each group has (every group, in
// order, comma-separated).
// The keys of a group get consecutive tickets (one INCRBY). Returns the first ticket of each group (in
// decimal, comma-separated, empty for a group without keys) and, per key, whether it is free already
// (nothing open before it conflicts: places are only ever added at the end, so an entry free when it is
// placed stays free, and its item need not ask again): "<first tickets> <one '1' or '0' per key>".
const REGISTER_SCRIPT =
  LUA_HELPERS +
  `
local s, pos = ARGV[2], 1
local len = #s
local next, firsts = {}, {}
local g = 0
for count in string.gmatch(ARGV[3], '%d+') do
  local n = tonumber(count)
  if n > 0 then
    next[g] = redis.call('INCRBY', groupKey(g, 'n'), n) - n + 1
    firsts[#firsts + 1] = tostring(next[g])
  else
    firsts[#firsts + 1] = ''
  end
  g = g + 1
end
local flags = {}
while pos <= len do
  local group, bucket = string.byte(s, pos, pos + 1)
  local key = bucketKey(group, bucket)
  local field = string.sub(s, pos + 2, pos + 9)
  local kind = KIND[string.byte(s, pos + 10)]
  local holder
  holder, pos = str(s, pos + 11)
  local t = next[group]
  next[group] = t + 1
  local entry = ';' .. b36(t) .. kind .. holder
  local free = true
  if redis.call('HSETNX', key, field, entry) == 0 then
    local v, had = readValue(key, field)
    free = kind == '.' and not string.find(v, '!', 1, true)
    writeValue(key, field, v .. entry, had)
  end
  flags[#flags + 1] = free and '1' or '0'
end
return table.concat(firsts, ',') .. ' ' .. table.concat(flags)
`;

// ARGV: the book's prefix, now (ms), then the keys packed: group (byte), bucket (byte), field (8 bytes), ticket (string), own
// holders (string: the asking job and the job it was made from, '|'-separated). Returns per key "<code>" or
// "<code> <blocker ticket> <blocker kind> <blocker holder>", joined by ',': code 1 go, 0 held, 2 absent
// (settled already), 3 moved (another job holds the item now).
const GATE_SCRIPT =
  LUA_HELPERS +
  `
local now = ARGV[2]
local s, pos = ARGV[3], 1
local len = #s
local out = {}
while pos <= len do
  local group, bucket = string.byte(s, pos, pos + 1)
  local key = bucketKey(group, bucket)
  local field = string.sub(s, pos + 2, pos + 9)
  local t, owners
  t, pos = str(s, pos + 10)
  owners, pos = str(s, pos)
  local own = holderSet(owners)
  local v = readValue(key, field) or ''
  local p, kind = entryAt(v, t)
  if not p then
    out[#out + 1] = '2'
  else
    local _, _, holder = entryParts(v, p)
    if not own[holder] then
      out[#out + 1] = '3 ' .. t .. ' ' .. kind .. ' ' .. holder
    else
      local blockerAt = nil
      if kind == '!' then
        if p ~= 1 then blockerAt = 1 end
      else
        local q = string.find(v, '!', 1, true)
        if q and q < p then blockerAt = entryStartBefore(v, q) end
      end
      if blockerAt then
        local bt, bk, bh = entryParts(v, blockerAt)
        redis.call('ZADD', heldKey(group), 'NX', now, field)
        out[#out + 1] = '0 ' .. bt .. ' ' .. bk .. ' ' .. bh
      else
        out[#out + 1] = '1'
      end
    end
  end
end
return table.concat(out, ',')
`;

// ARGV: the book's prefix, then the entries packed: op (byte: 'r' removes the entry, the item has its outcome;
// 'm' gives it a new holder, arg; 'x' removes it only while arg still holds it; 'c' gives it the new holder
// arg only while one of the holders in a last string, '|'-separated, holds it), group (byte), bucket (byte), field (8
// bytes), ticket (string), arg (string), and for 'c' the holders it may be taken from (string). Returns
// the held jobs to wake, space-separated: the holders (of held jobs, job id starting with 'h') of the
// entries that may go now.
const SETTLE_SCRIPT =
  LUA_HELPERS +
  `
local wake, seen = {}, {}
local function wakeHolder(h)
  local c = string.byte(h, 1)
  local producers = c ~= nil and c >= 65 and c <= 90
  if not producers and string.sub(h, 2, 2) == 'h' and not seen[h] then seen[h] = true; wake[#wake + 1] = h end
end
local s, pos = ARGV[2], 1
local len = #s
local OPS = { [114] = 'r', [109] = 'm', [99] = 'c', [120] = 'x' }
while pos <= len do
  local opByte, group, bucket = string.byte(s, pos, pos + 2)
  local op = OPS[opByte]
  local key = bucketKey(group, bucket)
  local field = string.sub(s, pos + 3, pos + 10)
  local t, arg
  t, pos = str(s, pos + 11)
  arg, pos = str(s, pos)
  local from = nil
  if op == 'c' then
    local list
    list, pos = str(s, pos)
    from = holderSet(list)
  end
  local v, had = readValue(key, field)
  local p, kind = nil, nil
  if v and op == 'x' and #v == #t + #arg + 2 and v == ';' .. t .. (KIND[string.byte(v, #t + 2)] or '?') .. arg then
    -- the common case: the person's only open entry, let go by its holder; nothing was behind it
    writeValue(key, field, '', had)
    unhold(group, field)
    v = nil
  end
  if v then p, kind = entryAt(v, t) end
  if p then
    local e = entryEnd(v, p)
    local _, _, holder = entryParts(v, p)
    if op == 'm' or (op == 'c' and from[holder]) then
      writeValue(key, field, string.sub(v, 1, p - 1) .. ';' .. t .. kind .. arg .. string.sub(v, e), had)
    elseif op == 'r' or (op == 'x' and holder == arg) then
      local firstOp = string.find(v, '!', 1, true)
      local wasFirstOp = kind == '!' and firstOp == p + #t + 1
      local eventBeforeFirstOp = kind == '.' and firstOp ~= nil and p < firstOp
      v = string.sub(v, 1, p - 1) .. string.sub(v, e)
      writeValue(key, field, v, had)
      if v == '' then
        unhold(group, field)
      else
        local headIsOp = string.find(v, '^;%w+!') ~= nil
        if wasFirstOp then
          -- what waited behind this operation: the operation now at the head, or the events up to the next operation
          unhold(group, field)
          if p == 1 and headIsOp then
            local _, _, h = entryParts(v, 1)
            wakeHolder(h)
          else
            local q = string.find(v, '!', p, true)
            local stop = q and entryStartBefore(v, q) or (#v + 1)
            local s = p
            while s < stop do
              local _, _, h = entryParts(v, s)
              wakeHolder(h)
              s = entryEnd(v, s)
            end
          end
        elseif eventBeforeFirstOp and headIsOp then
          -- the last event before the first operation: that operation may go now
          unhold(group, field)
          local _, _, h = entryParts(v, 1)
          wakeHolder(h)
        elseif p == 1 then
          unhold(group, field)
        end
      end
    end
  end
end
return table.concat(wake, ' ')
`;

type Arg = string | number | Buffer;
type OrderConnection = RedisConnection & {
  cioOrderRegister(numKeys: number, ...args: Arg[]): Promise<string>;
  cioOrderGate(numKeys: number, ...args: Arg[]): Promise<string>;
  cioOrderSettle(numKeys: number, ...args: Arg[]): Promise<string>;
};

/**
 * A script's packed argument (see the scripts), written straight into one buffer: this runs for every
 * entry of every item, and a buffer per value was most of its cost. A byte is one byte; a person key is
 * its place (group, bucket and field: 10 bytes); a string is its length in two bytes, then its characters
 * (tickets and holders are ASCII).
 */
class Packer {
  private buf = Buffer.allocUnsafe(512);
  private at = 0;

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.at++] = b;
  }

  /** A person key's place, from its hash (hash64): slot group, bucket, field. */
  place([high, low]: readonly [number, number]): void {
    this.room(10);
    this.buf[this.at++] = groupOfHash(high);
    this.buf[this.at++] = bucketOfHash(high);
    this.buf.writeUInt32BE(high, this.at);
    this.buf.writeUInt32BE(low, this.at + 4);
    this.at += 8;
  }

  str(text: string): void {
    this.room(2 + text.length);
    this.buf.writeUInt16BE(text.length, this.at);
    this.at += 2 + this.buf.write(text, this.at + 2, 'latin1');
  }

  packed(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

/** Where each entry goes (its slot group, which names its script call on Redis Cluster), packed as it comes. */
class PackedCalls {
  private readonly byCall = new Map<number, { packer: Packer; entries: number[] }>();

  constructor(private readonly callOf: (group: number) => number) {}

  /** The packer of the call a key of this hash (hash64) goes in; `entry` is remembered in call order. */
  packerFor(hash: readonly [number, number], entry: number): Packer {
    const call = this.callOf(groupOfHash(hash[0]));
    let c = this.byCall.get(call);
    if (!c) this.byCall.set(call, (c = { packer: new Packer(), entries: [] }));
    c.entries.push(entry);
    return c.packer;
  }

  get calls(): Array<[number, { packer: Packer; entries: number[] }]> {
    return [...this.byCall];
  }
}

const OP_CODE = { remove: 114, move: 109, moveFrom: 99, removeOrphan: 120 } as const;

function withScripts(connection: RedisConnection): OrderConnection {
  const c = connection as OrderConnection;
  if (typeof c.cioOrderRegister !== 'function') connection.defineCommand('cioOrderRegister', { lua: REGISTER_SCRIPT });
  if (typeof c.cioOrderGate !== 'function') connection.defineCommand('cioOrderGate', { lua: GATE_SCRIPT });
  if (typeof c.cioOrderSettle !== 'function') connection.defineCommand('cioOrderSettle', { lua: SETTLE_SCRIPT });
  return c;
}

/** An item to place in the book: its person keys, its kind, the job that will hold it. */
export interface ToRegister {
  keys: readonly string[];
  kind: OrderKind;
  holder: string;
}

/** One of an item's entries: its person key and ticket. */
export interface EntryRef {
  key: string;
  ticket: number;
}

export type GateAnswer =
  | { verdict: 'go' }
  | { verdict: 'absent' }
  | { verdict: 'moved'; holder: string }
  | { verdict: 'held'; key: string; blocker: { ticket: number; kind: OrderKind; holder: string } };

export type SettleOp =
  | { op: 'remove'; entry: EntryRef }
  | { op: 'move'; entry: EntryRef; holder: string }
  /** Moves the entry to `holder` only while one of `from` holds it (a job taking over what an earlier run of its parent moved to it). */
  | { op: 'moveFrom'; entry: EntryRef; holder: string; from: readonly string[] }
  | { op: 'removeOrphan'; entry: EntryRef; holder: string };

/** Calls of one script made in the same turn of the event loop (for one slot group on Redis Cluster), sent as one. */
interface Batch {
  script: 'gate' | 'settle';
  /** The slot group whose key the call declares (0 on one Redis, where one call serves every group). */
  call: number;
  /** The time of the batch's first call (a gate marks the persons it holds with it). */
  now: number;
  /** The packed entries of each call, in call order (joined when the batch is sent). */
  entries: Buffer[];
  calls: Array<{ count: number; resolve(result: string[]): void; reject(err: unknown): void }>;
}

export class OrderBook {
  private readonly redis: OrderConnection;
  private readonly batches = new Map<string, Batch>();
  private flushing = false;
  /** Redis Cluster: one script call per slot group. One Redis: one call for all of them (each call costs more than an entry). */
  private readonly cluster: boolean;

  /**
   * `wake`: moves on the held jobs a settle names (jobs/wake.ts). Every settle can free a person (a
   * move too, when it shares its script call with a release), so the book wakes them itself, once per
   * script call, whoever asked.
   */
  constructor(
    connection: RedisConnection,
    private readonly basePrefix: string,
    private readonly clock: () => number = Date.now,
    private readonly wake?: (holders: readonly string[]) => Promise<void>,
  ) {
    this.redis = withScripts(connection);
    this.cluster = connection instanceof Cluster;
  }

  /** The script call an entry of slot group `group` goes in. */
  private callOf(group: number): number {
    return this.cluster ? group : 0;
  }

  /** Appends the items, in accepted order, to their keys' entries; returns each item's tickets (one per key). */
  async register(items: readonly ToRegister[]): Promise<number[][]> {
    return (await this.place(items)).map((p) => p.tickets);
  }

  /**
   * Like register, and says of each item whether it is free already: nothing open before it conflicts on
   * any of its keys, so it may go without asking (GroupJobData.order marks it with '+').
   */
  async place(items: readonly ToRegister[]): Promise<Array<{ tickets: number[]; free: boolean }>> {
    const calls = new PackedCalls((g) => this.callOf(g));
    const placed = items.map((item) => ({ tickets: new Array<number>(item.keys.length), free: true }));
    // Entry n of a call: item itemOf[n], key slotOf[n], slot group groupOf[n].
    const itemOf: number[] = [];
    const slotOf: number[] = [];
    const groupOf: number[] = [];
    items.forEach((item, i) => {
      const kind = KIND_CODE[item.kind];
      item.keys.forEach((key, k) => {
        const hash = hash64(key);
        const packer = calls.packerFor(hash, itemOf.length);
        itemOf.push(i);
        slotOf.push(k);
        groupOf.push(groupOfHash(hash[0]));
        packer.place(hash);
        packer.byte(kind);
        packer.str(item.holder);
      });
    });
    await Promise.all(
      calls.calls.map(async ([call, { packer, entries }]) => {
        const counts = new Array<number>(ORDER_GROUPS).fill(0);
        for (const n of entries) counts[groupOf[n]]++;
        const answer = String(await this.redis.cioOrderRegister(1, `${groupPrefix(this.basePrefix, call)}n`, this.basePrefix, packer.packed(), counts.join(',')));
        const space = answer.indexOf(' ');
        const next = answer.slice(0, space).split(',').map(Number);
        entries.forEach((n, j) => {
          const item = placed[itemOf[n]];
          item.tickets[slotOf[n]] = next[groupOf[n]]++;
          if (answer.charCodeAt(space + 1 + j) !== 49) item.free = false;
        });
      }),
    );
    return placed;
  }

  /**
   * What each item may do now. `own`: the holders the asking job answers for (itself, and the job it was
   * made from: the book may not have been told of the move yet). An item goes only if it may go on every
   * key. Gates asked in the same turn of the event loop (by the jobs a worker runs at once) share one call
   * (per slot group on Redis Cluster).
   */
  async gate(items: ReadonlyArray<readonly EntryRef[]>, own: readonly string[], now = this.clock()): Promise<GateAnswer[]> {
    const owners = own.join('|');
    const calls = new PackedCalls((g) => this.callOf(g));
    // Entry n: item itemOf[n], person key keyOf[n].
    const itemOf: number[] = [];
    const keyOf: string[] = [];
    items.forEach((entries, i) =>
      entries.forEach((entry) => {
        const hash = hash64(entry.key);
        const packer = calls.packerFor(hash, itemOf.length);
        itemOf.push(i);
        keyOf.push(entry.key);
        packer.place(hash);
        packer.str(ticketText(entry.ticket));
        packer.str(owners);
      }),
    );
    const answers: GateAnswer[] = items.map(() => ({ verdict: 'absent' }));
    const rank = { absent: 0, go: 1, held: 2, moved: 3 } as const;
    const merge = (i: number, next: GateAnswer) => {
      if (rank[next.verdict] > rank[answers[i].verdict]) answers[i] = next;
    };
    await Promise.all(
      calls.calls.map(async ([call, { packer, entries }]) => {
        const got = await this.batched('gate', call, packer.packed(), entries.length, now);
        entries.forEach((n, j) => {
          const answer = got[j];
          if (answer === '1') return merge(itemOf[n], { verdict: 'go' });
          const [codeText, ticket, kind, holder] = answer.split(' ');
          const code = Number(codeText);
          if (code === 3) merge(itemOf[n], { verdict: 'moved', holder: String(holder) });
          else if (code === 0) merge(itemOf[n], { verdict: 'held', key: keyOf[n], blocker: { ticket: ticketOf(String(ticket)), kind: kind === '!' ? 'operation' : 'event', holder: String(holder) } });
        });
      }),
    );
    return answers;
  }

  /** Removes or moves entries; returns the held jobs (holders) that may go now (woken already, when the book has `wake`). */
  async settle(ops: readonly SettleOp[]): Promise<string[]> {
    const calls = new PackedCalls((g) => this.callOf(g));
    ops.forEach((o, n) => {
      const hash = hash64(o.entry.key);
      const packer = calls.packerFor(hash, n);
      packer.byte(OP_CODE[o.op]);
      packer.place(hash);
      packer.str(ticketText(o.entry.ticket));
      packer.str(o.op === 'remove' ? '' : o.holder);
      if (o.op === 'moveFrom') packer.str(o.from.join('|'));
    });
    const woken = await Promise.all(calls.calls.map(([call, { packer, entries }]) => this.batched('settle', call, packer.packed(), entries.length)));
    return [...new Set(woken.flat())];
  }

  // Queues a call's packed entries (`count` of them) for its batch; the batch is sent at the next turn
  // of the event loop. A gate gets its own answers back; a settle gets the holders the whole batch freed
  // (woken once, before any of its calls is answered).
  private batched(script: Batch['script'], call: number, packed: Buffer, count: number, now = this.clock()): Promise<string[]> {
    const id = `${script}:${call}`;
    let batch = this.batches.get(id);
    if (!batch) {
      batch = { script, call, now, entries: [], calls: [] };
      this.batches.set(id, batch);
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => this.flush());
      }
    }
    const target = batch;
    return new Promise<string[]>((resolve, reject) => {
      target.calls.push({ count, resolve, reject });
      target.entries.push(packed);
    });
  }

  private flush(): void {
    this.flushing = false;
    const batches = [...this.batches.values()];
    this.batches.clear();
    for (const batch of batches) void this.send(batch);
  }

  private async send(batch: Batch): Promise<void> {
    const declared = `${groupPrefix(this.basePrefix, batch.call)}held`;
    try {
      const packed = Buffer.concat(batch.entries);
      if (batch.script === 'gate') {
        const got = String(await this.redis.cioOrderGate(1, declared, this.basePrefix, String(batch.now), packed)).split(',');
        let at = 0;
        for (const call of batch.calls) {
          call.resolve(got.slice(at, at + call.count));
          at += call.count;
        }
      } else {
        const text = String(await this.redis.cioOrderSettle(1, declared, this.basePrefix, packed));
        const got = text === '' ? [] : text.split(' ');
        if (got.length > 0 && this.wake) await this.wake(got);
        for (const call of batch.calls) call.resolve(got);
      }
    } catch (err) {
      for (const call of batch.calls) call.reject(err);
    }
  }

  /** Persons held now, and since when the longest hold (ms), over every slot group. */
  async holds(): Promise<{ persons: number; oldestSince?: number }> {
    let persons = 0;
    let oldestSince: number | undefined;
    await Promise.all(
      Array.from({ length: ORDER_GROUPS }, async (_, group) => {
        const key = `${groupPrefix(this.basePrefix, group)}held`;
        const [count, first] = await Promise.all([this.redis.zcard(key), this.redis.zrange(key, 0, 0, 'WITHSCORES')]);
        persons += count;
        if (first.length === 2) oldestSince = Math.min(oldestSince ?? Infinity, Number(first[1]));
      }),
    );
    return oldestSince === undefined ? { persons } : { persons, oldestSince };
  }

  /** The open entries of a person key (trace, tests): ticket, kind, holder, in accepted order. */
  async entries(key: string): Promise<Array<{ ticket: number; kind: OrderKind; holder: string }>> {
    const place = placeOf(key);
    const pieceFields = Array.from({ length: MAX_PIECES }, (_, i) => (i === 0 ? place.field : Buffer.concat([place.field, Buffer.from([i])])));
    const value = joinPieces(await this.redis.hmget(`${groupPrefix(this.basePrefix, place.group)}b${place.bucket}`, ...pieceFields));
    return value
      .split(';')
      .filter(Boolean)
      .map((entry) => {
        const m = /^([0-9a-z]+)([.!])(.*)$/.exec(entry)!;
        return { ticket: ticketOf(m[1]), kind: m[2] === '!' ? 'operation' : 'event', holder: m[3] };
      });
  }
}

/** A value as the scripts keep it (readValue): pieces of PIECE bytes while they are full, else piece 0 whole. */
function joinPieces(pieces: ReadonlyArray<string | null>): string {
  let value = '';
  for (const piece of pieces) {
    if (piece === null) break;
    value += piece;
    if (piece.length !== PIECE) break;
  }
  return value;
}

/** Removes the order book kept under a prefix (tests, the benchmark, the demo). */
export async function removeOrderBook(connection: RedisConnection, basePrefix: string): Promise<void> {
  await deleteMatching(connection, `${basePrefix}:{order*}:*`);
}
