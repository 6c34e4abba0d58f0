// The module's exports as the store calls them: for each, the request
// written to the input buffer, the call, and its result read back into JS
// values (wasm/ABI.md, "Exports", has every layout). Errors come out of
// Engine.status as ActorStoreErrors; a trap comes out as it is, for the
// store to tell apart (Engine.calling).

import {
  KIND, OPERATIONS, STATUS_SIZE,
  WRITE_VERSION, WRITE_SEQUENCE, GET_FOUND, GET_VERSION, GET_VALUE_LEN, GET_HEADER,
  RESULT_FOUND, RESULT_VERSION, RESULT_SEQUENCE, RESULT_VALUE_LEN, RESULT_HEADER, BATCH_COUNT, BATCH_HEADER,
  OP_KIND, OP_TYPE_LEN, OP_ID_LEN, OP_VALUE_LEN, OP_EXPECTED, OP_HEADER,
  GET_ALL_MORE, GET_ALL_COUNT, GET_ALL_HEADER, ACTOR_VERSION, ACTOR_ID_LEN, ACTOR_VALUE_LEN, ACTOR_HEADER,
  CHANGES_NEXT, CHANGES_COUNT, CHANGES_HEADER, EVENT_SEQUENCE, EVENT_OP, EVENT_FLAGS, EVENT_TIMESTAMP,
  EVENT_PREV_VERSION, EVENT_NEW_VERSION, EVENT_TYPE_LEN, EVENT_ID_LEN, EVENT_PREV_LEN, EVENT_NEW_LEN, EVENT_HEADER,
  FLAG_PREV, FLAG_NEW,
  STATS_TOTAL_EVENTS, STATS_CURRENT_SEQUENCE, STATS_OLDEST_SEQUENCE, STATS_REPLAY_EVENTS, STATS_REPLAY_BYTES,
  STATS_EVENTS_DROPPED, STATS_ACTORS, STATS_DATA_BYTES,
  SNAPSHOT_SEQUENCE, RESTORE_SEQUENCE, RESTORE_ACTORS, REPLAY_FIRST, REPLAY_LAST,
} from "./abi.js";
import { ActorStoreError, invalidArgument } from "./errors.js";
import { NO_VALUE, PACKED_LEN_MASK } from "./engine.js";
import { RecordBuilder, singleRecord } from "./record.js";

const NO_KIND = 0; // a batch operation the module refuses (INVALID_ARGUMENT)
const PAGE_BYTES = 4 << 20; // bytes of events or actors per changes/get_all call
const MAX_LIMIT = 0x7fffffff; // changes' limit, passed as a wasm i32

/** Sets the store's options on the new instance: [replayBufferSize, replayBufferBytes, maxValueBytes, maxDataBytes]. */
export function configure(e, config) {
  e.result(e.enter().configure(...config));
}

/**
 * Insert, update or updateVersioned (kind) of one actor at ts:
 * { version, seq, record } — record, the mutation record, only when log.
 */
export function write(e, kind, type, id, value, expected, ts, log) {
  const [tl, il, vl] = e.keyValue(0, type, id, value);
  let r;
  if (kind === KIND.updateVersioned) {
    if (!Number.isSafeInteger(expected) || expected < 0) {
      throw invalidArgument(`expected version must be a non-negative integer, got ${expected}`);
    }
    r = e.enter().update_versioned(tl, il, vl, BigInt(expected), ts);
  } else if (kind === KIND.insert) {
    r = e.enter().insert(tl, il, vl, ts);
  } else {
    r = e.enter().update(tl, il, vl, ts);
  }
  const p = e.result(r);
  const seq = e.u64(p + WRITE_SEQUENCE);
  return {
    version: e.u64(p + WRITE_VERSION),
    seq,
    record: log ? singleRecord(seq, ts, kind, e.u8, e.in, tl, il, vl, expected) : undefined,
  };
}

/** The actor's { value, version }, or undefined. */
export function get(e, type, id) {
  const [tl, il] = e.keyValue(0, type, id, NO_VALUE);
  const p = e.result(e.enter().get(tl, il));
  if (e.u8[p + GET_FOUND] === 0) return undefined;
  return { value: e.value(p + GET_HEADER, e.dv.getUint32(p + GET_VALUE_LEN, true)), version: e.u64(p + GET_VERSION) };
}

/** Deletes at ts: the removed actor's { value, version, seq, record } (record only when log), or undefined. */
export function remove(e, type, id, ts, log) {
  const [tl, il] = e.keyValue(0, type, id, NO_VALUE);
  const p = e.result(e.enter().delete(tl, il, ts));
  if (e.u8[p + RESULT_FOUND] === 0) return undefined;
  const seq = e.u64(p + RESULT_SEQUENCE);
  return {
    value: e.value(p + RESULT_HEADER, e.dv.getUint32(p + RESULT_VALUE_LEN, true)),
    version: e.u64(p + RESULT_VERSION),
    seq,
    record: log ? singleRecord(seq, ts, KIND.delete, e.u8, e.in, tl, il, 0) : undefined,
  };
}

/** Every actor of type, in id order, a page of get_all at a time. */
export function getAll(e, type) {
  const out = [];
  let after = "";
  for (;;) {
    const [tl, al] = e.keyValue(0, type, after, NO_VALUE);
    let p = e.result(e.enter().get_all(tl, al, PAGE_BYTES));
    const more = e.u8[p + GET_ALL_MORE];
    const count = e.dv.getUint32(p + GET_ALL_COUNT, true);
    p += GET_ALL_HEADER;
    for (let i = 0; i < count; i++) {
      const version = e.u64(p + ACTOR_VERSION);
      const idLen = e.dv.getUint32(p + ACTOR_ID_LEN, true);
      const valueLen = e.dv.getUint32(p + ACTOR_VALUE_LEN, true);
      const id = e.readStr(p + ACTOR_HEADER, idLen);
      out.push({ type, id, value: e.value(p + ACTOR_HEADER + idLen, valueLen), version });
      p += ACTOR_HEADER + idLen + valueLen;
      after = id;
    }
    if (!more || count === 0) return out;
  }
}

/** Events after since matching actorType and keyPrefix (strings; "" matches all): { events, next }. */
export function changes(e, since, actorType, keyPrefix, limit) {
  if (typeof actorType !== "string" || typeof keyPrefix !== "string") {
    throw invalidArgument("actorType and keyPrefix must be strings");
  }
  e.ensureInput(3 * (actorType.length + keyPrefix.length));
  const tl = e.str(actorType, e.in);
  const pl = e.str(keyPrefix, e.in + tl);
  let p = e.result(e.enter().changes(BigInt(since), Math.min(limit, MAX_LIMIT), tl, pl, PAGE_BYTES));
  const dv = e.dv;
  const next = e.u64(p + CHANGES_NEXT);
  const count = dv.getUint32(p + CHANGES_COUNT, true);
  p += CHANGES_HEADER;
  const events = new Array(count);
  for (let i = 0; i < count; i++) {
    const flags = e.u8[p + EVENT_FLAGS];
    const typeLen = dv.getUint32(p + EVENT_TYPE_LEN, true);
    const idLen = dv.getUint32(p + EVENT_ID_LEN, true);
    const prevLen = dv.getUint32(p + EVENT_PREV_LEN, true);
    const newLen = dv.getUint32(p + EVENT_NEW_LEN, true);
    let q = p + EVENT_HEADER;
    const actorType = e.readStr(q, typeLen);
    q += typeLen;
    const actorId = e.readStr(q, idLen);
    q += idLen;
    const hasPrev = (flags & FLAG_PREV) !== 0;
    const hasNew = (flags & FLAG_NEW) !== 0;
    events[i] = {
      sequence: e.u64(p + EVENT_SEQUENCE),
      operation: OPERATIONS[e.u8[p + EVENT_OP]],
      actorType,
      actorId,
      previousValue: hasPrev ? e.value(q, prevLen) : undefined,
      previousVersion: hasPrev ? e.u64(p + EVENT_PREV_VERSION) : undefined,
      newValue: hasNew ? e.value(q + prevLen, newLen) : undefined,
      newVersion: hasNew ? e.u64(p + EVENT_NEW_VERSION) : undefined,
      timestamp: e.date(p + EVENT_TIMESTAMP),
    };
    p = q + prevLen + newLen;
  }
  return { events, next };
}

/**
 * Applies ops (the API's batch operations) atomically at ts: { results,
 * record } — results as the API returns them, record (only when log) the
 * mutation record, undefined when the batch made no event.
 */
export function batch(e, ops, ts, log) {
  let size = 0;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i];
    let kind = (op && KIND[op.op]) || NO_KIND;
    let expected = 0;
    if (!kind) {
      // Kind 0 is the module's INVALID_ARGUMENT, in operation order.
      e.substitute(invalidArgument(`unknown batch operation ${JSON.stringify(op?.op)}`), i, "INVALID_ARGUMENT");
    } else if (kind === KIND.updateVersioned) {
      expected = op.expected;
      if (!Number.isSafeInteger(expected) || expected < 0) {
        e.substitute(invalidArgument(`expected version must be a non-negative integer, got ${expected}`), i, "INVALID_ARGUMENT");
        kind = NO_KIND;
        expected = 0;
      }
    }
    const [tl, il, vl] = kind === NO_KIND
      ? e.keyValue(size + OP_HEADER, "", "", NO_VALUE, i)
      : e.keyValue(size + OP_HEADER, op.type, op.id, kind === KIND.delete ? NO_VALUE : op.value, i);
    const h = e.in + size;
    const dv = e.dv;
    e.u8[h + OP_KIND] = kind;
    dv.setUint32(h + OP_TYPE_LEN, tl, true);
    dv.setUint32(h + OP_ID_LEN, il, true);
    dv.setUint32(h + OP_VALUE_LEN, vl, true);
    e.setU64(h + OP_EXPECTED, expected);
    size += OP_HEADER + tl + il + vl;
  }
  let p = e.result(e.enter().batch(ops.length, size, ts));
  const count = e.dv.getUint32(p + BATCH_COUNT, true);
  p += BATCH_HEADER;
  const record = log ? batchRecord(e, count, p, ts) : undefined;
  const results = new Array(count);
  for (let i = 0; i < count; i++) {
    const op = ops[i];
    const found = e.u8[p + RESULT_FOUND] === 1;
    const version = e.u64(p + RESULT_VERSION);
    const valueLen = e.dv.getUint32(p + RESULT_VALUE_LEN, true);
    let actor;
    if (op.op === "delete") {
      actor = found ? { type: op.type, id: op.id, value: e.value(p + RESULT_HEADER, valueLen), version } : undefined;
    } else {
      actor = { type: op.type, id: op.id, value: e.written(op.value), version };
    }
    results[i] = { actor, found };
    p += RESULT_HEADER + valueLen;
  }
  return { results, record };
}

// batchRecord is the mutation record of a successful batch of count
// operations (results at p; the request still in the input buffer), or
// undefined if it made no event (only deletes of absent actors).
function batchRecord(e, count, p, ts) {
  const { u8, dv } = e;
  let firstSeq = 0;
  for (let i = 0, q = p; i < count; i++) {
    firstSeq = e.u64(q + RESULT_SEQUENCE);
    if (firstSeq) break;
    q += RESULT_HEADER + dv.getUint32(q + RESULT_VALUE_LEN, true);
  }
  if (!firstSeq) return undefined;
  const b = new RecordBuilder(u8);
  let h = e.in;
  for (let i = 0; i < count; i++) {
    const tl = dv.getUint32(h + OP_TYPE_LEN, true);
    const il = dv.getUint32(h + OP_ID_LEN, true);
    const vl = dv.getUint32(h + OP_VALUE_LEN, true);
    b.op(u8[h + OP_KIND], h + OP_HEADER, tl, il, vl, e.u64(h + OP_EXPECTED));
    h += OP_HEADER + tl + il + vl;
  }
  return { firstSeq, bytes: b.finish(firstSeq, ts) };
}

/** The module's counters, with the host's activeSubscriptions, as stats() returns them. */
export function stats(e, activeSubscriptions) {
  const p = e.result(e.enter().stats());
  return {
    totalEvents: e.u64(p + STATS_TOTAL_EVENTS),
    currentSequence: e.u64(p + STATS_CURRENT_SEQUENCE),
    replayBufferSize: e.u64(p + STATS_REPLAY_EVENTS),
    activeSubscriptions,
    eventsDropped: e.u64(p + STATS_EVENTS_DROPPED),
    oldestSequence: e.u64(p + STATS_OLDEST_SEQUENCE),
    replayBufferBytes: e.u64(p + STATS_REPLAY_BYTES),
    actors: e.u64(p + STATS_ACTORS),
    dataBytes: e.u64(p + STATS_DATA_BYTES),
  };
}

/** The sequence of the first retained event at or after ns (a BigInt), or current + 1. */
export function sequenceAtTime(e, ns) {
  return Number(e.call("sequence_at_time", ns));
}

// ---- snapshots, restores and log replay --------------------------------

/**
 * Bytes of snapshot stream per snapshot_next and restore_write call; a
 * persisted store keeps its snapshot in IndexedDB values of this size.
 */
export const CHUNK_BYTES = 1 << 20;

/** Starts the module's snapshot: { seq, chunks: [] } for pullSnapshot. */
export function beginSnapshot(e) {
  const p = e.status(e.call("snapshot_begin"));
  return { seq: e.u64(p + SNAPSHOT_SEQUENCE), chunks: [] };
}

/**
 * Appends about budget bytes of the snapshot stream to c.chunks; true (and
 * the module's snapshot ended) when the stream is complete.
 */
export function pullSnapshot(e, c, budget) {
  for (;;) {
    const r = e.call("snapshot_next", CHUNK_BYTES);
    const p = e.status(r);
    const n = Number(r & PACKED_LEN_MASK) - STATUS_SIZE; // the body's length
    if (n === 0) {
      e.status(e.call("snapshot_end"));
      return true;
    }
    c.chunks.push(e.u8.slice(p, p + n));
    budget -= n;
    if (budget <= 0) return false;
  }
}

/** Drops the module's snapshot in progress. */
export function endSnapshot(e) {
  e.call("snapshot_end");
}

/**
 * Feeds a snapshot stream (pieces in order) to the module's restore:
 * { seq, actors }. On an error the store is as it was.
 */
export function restore(e, pieces) {
  e.status(e.call("restore_begin"));
  try {
    for (const piece of pieces) {
      for (let off = 0; off < piece.length; off += CHUNK_BYTES) {
        const part = piece.subarray(off, Math.min(off + CHUNK_BYTES, piece.length));
        e.input(part);
        e.status(e.call("restore_write", part.length));
      }
    }
    const p = e.status(e.call("restore_end"));
    return { seq: e.u64(p + RESTORE_SEQUENCE), actors: e.u64(p + RESTORE_ACTORS) };
  } catch (err) {
    // After a trap (not an ActorStoreError) there is nothing to abandon.
    if (err instanceof ActorStoreError && e.ex) e.call("restore_abort");
    throw err;
  }
}

/** Applies one mutation record (a log's): { first, last }, the sequences of its events. */
export function replay(e, record) {
  e.input(record);
  const p = e.status(e.call("replay", record.length));
  return { first: e.u64(p + REPLAY_FIRST), last: e.u64(p + REPLAY_LAST) };
}
