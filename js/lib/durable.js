// A persisted store's side of persistence (as host/durable.go is the Go
// host's): at open, the name's lock and the store rebuilt from its
// IndexedDB database (the snapshot, then the log after it); then one
// mutation record queued per mutation that made an event (persist.js
// writes them in batched IndexedDB transactions), and compaction.
//
// Compaction: when the log since the snapshot passes
// persist.snapshotBytes or persist.snapshotRecords, a snapshot is taken
// (copy-on-write in the module) and pulled out a few chunks per task while
// writes go on; the queue then writes it, switches the meta record and
// drops the older snapshot and the log records it covers, in one
// transaction.

import { ActorStoreError, invalidArgument, reportError } from "./errors.js";
import { CHUNK_BYTES, beginSnapshot, pullSnapshot, replay, restore } from "./calls.js";
import { WriteQueue, acquireLock, deleteDatabase, environment, loadDatabase, nextTask, openDatabase, readMeta } from "./persist.js";

const DEFAULT_SNAPSHOT_BYTES = 4 << 20; // log bytes since the snapshot that start a new one
const DEFAULT_SNAPSHOT_RECORDS = 20_000; // or log records
const SNAPSHOT_BYTES_PER_TASK = 4 * CHUNK_BYTES; // pulled per task while writes go on

/**
 * Checks options.persist: null for none (undefined, null, false), else
 * { name, snapshotBytes, snapshotRecords } with the defaults filled in.
 */
export function persistOptions(p) {
  if (p === undefined || p === null || p === false) return null;
  if (typeof p !== "object") throw invalidArgument("persist must be an object { name }");
  if (typeof p.name !== "string" || p.name === "") throw invalidArgument("persist.name must be a non-empty string");
  const out = { name: p.name, snapshotBytes: DEFAULT_SNAPSHOT_BYTES, snapshotRecords: DEFAULT_SNAPSHOT_RECORDS };
  for (const k of ["snapshotBytes", "snapshotRecords"]) {
    if (p[k] === undefined) continue;
    if (!Number.isSafeInteger(p[k]) || p[k] < 1) throw invalidArgument(`persist.${k} must be a positive integer, got ${p[k]}`);
    out[k] = p[k];
  }
  return out;
}

/** Deletes the persisted store of name; LOCKED while it is open somewhere. */
export async function deletePersisted(name) {
  const env = environment();
  let release;
  try {
    release = await acquireLock(env.locks, name);
    await deleteDatabase(env.idb, name);
  } finally {
    release?.();
  }
}

// withLockedDatabase takes the name's lock, opens its database and runs
// fn(release, db); if any of it fails, it closes the database, releases the
// lock and throws.
async function withLockedDatabase(env, name, fn) {
  let release;
  let db;
  try {
    release = await acquireLock(env.locks, name);
    db = await openDatabase(env.idb, name);
    return await fn(release, db);
  } catch (e) {
    db?.close();
    release?.();
    throw e;
  }
}

/**
 * The persistence of one open store. The store passes what it owns as
 * `store`: { fail(e): the error to report for anything thrown (closing the
 * store after a trap), closed(): whether it is closed, storageFailed(err):
 * an IndexedDB write failed }.
 */
export class Durable {
  #engine;
  #store;
  #queue = null;
  #release;
  #generation;
  #logBytes = 0; // since the snapshot
  #logRecords = 0;
  #snapshotBytes;
  #snapshotRecords;
  #compaction = null; // { seq, chunks, coveredBytes, coveredRecords } while a snapshot is pulled
  #compactScheduled = false;
  #compactionError = null; // automatic snapshots stopped after it

  constructor(engine, store, options, release, generation) {
    this.#engine = engine;
    this.#store = store;
    this.#snapshotBytes = options.snapshotBytes;
    this.#snapshotRecords = options.snapshotRecords;
    this.#release = release;
    this.#generation = generation;
  }

  /**
   * Takes the name's lock, opens its database in env (persist.js's
   * environment()) and rebuilds the module's store from it. On an error,
   * releases what it took and throws.
   */
  static async open(engine, store, options, env) {
    const { name } = options;
    return withLockedDatabase(env, name, async (release, db) => {
      const loaded = await loadDatabase(db, name);
      const d = new Durable(engine, store, options, release, loaded.generation);
      d.#rebuild(loaded, name);
      d.#queue = new WriteQueue(db, name, (err) => store.storageFailed(err));
      d.#maybeCompact();
      return d;
    });
  }

  /**
   * Persists a store that was in memory until now: takes the name's lock,
   * opens its database and queues the store's state — snapshot(), called
   * once the database is open, gives { seq, bytes } — as the new snapshot,
   * clearing the log: what the database held before is replaced. On an
   * error, releases what it took and throws.
   */
  static async adopt(engine, store, options, env, snapshot) {
    const { name } = options;
    return withLockedDatabase(env, name, async (release, db) => {
      const meta = await readMeta(db, name);
      const d = new Durable(engine, store, options, release, meta ? meta.generation : 0);
      d.#queue = new WriteQueue(db, name, (err) => store.storageFailed(err));
      const { seq, bytes } = snapshot();
      d.restored(seq, bytes);
      return d;
    });
  }

  // #rebuild restores the persisted snapshot and replays the log after it.
  #rebuild(loaded, name) {
    const store = this.#store;
    const where = `IndexedDB database actorstore:${name}`;
    // A persisted store larger than this open's maxDataBytes or
    // maxValueBytes allow is not corrupt: say so with the module's code.
    const tooBig = (e) => (e.code === "STORE_FULL" || e.code === "VALUE_TOO_LARGE") &&
      new ActorStoreError(e.code, `${e.message} (${where}: the persisted store does not fit this open's maxDataBytes or maxValueBytes)`);
    if (loaded.chunks.length) {
      let seq;
      try {
        ({ seq } = restore(this.#engine, loaded.chunks));
      } catch (e) {
        if (!(e instanceof ActorStoreError) || store.closed()) throw store.fail(e);
        throw tooBig(e) || new ActorStoreError("CORRUPT", `corrupt: ${where}: the snapshot at sequence ${loaded.snapshotSeq} is unreadable: ${e.message}`);
      }
      if (seq !== loaded.snapshotSeq) {
        throw new ActorStoreError("CORRUPT",
          `corrupt: ${where}: the snapshot named as sequence ${loaded.snapshotSeq} holds sequence ${seq}`);
      }
    }
    const { keys, records } = loaded;
    for (let i = 0; i < records.length; i++) {
      const rec = records[i];
      try {
        replay(this.#engine, rec);
      } catch (e) {
        if (!(e instanceof ActorStoreError) || store.closed()) throw store.fail(e);
        throw tooBig(e) || new ActorStoreError("CORRUPT",
          `corrupt: ${where}: the log record at sequence ${keys[i]} cannot be replayed (${e.code}): ${e.message}`);
      }
      this.#logBytes += rec.length;
      this.#logRecords++;
    }
  }

  /** Queues the mutation record rec, whose first event is firstSeq. */
  log(firstSeq, rec) {
    this.#queue.record(firstSeq, rec);
    this.#logBytes += rec.length;
    this.#logRecords++;
    this.#maybeCompact();
  }

  /**
   * Queues the snapshot stream a restore put in place (bytes, of sequence
   * seq) as the new snapshot, clearing the log.
   */
  restored(seq, bytes) {
    const chunks = [];
    for (let off = 0; off < bytes.length; off += CHUNK_BYTES) chunks.push(bytes.slice(off, off + CHUNK_BYTES));
    this.#queue.snapshot(++this.#generation, seq, chunks, true);
    this.#logBytes = 0;
    this.#logRecords = 0;
  }

  /** Resolves once everything queued before the call is committed. */
  flush() {
    return this.#queue.flush();
  }

  /** Mutations (and restores) not yet committed. */
  get pending() {
    return this.#queue.pending;
  }

  /**
   * After the store closed: writes what is queued, then closes the
   * database and releases the name (also when the write fails).
   */
  close() {
    this.#compaction = null;
    return this.#queue.close().finally(() => this.#release());
  }

  // ---- compaction ----------------------------------------------------------

  #maybeCompact() {
    if (this.#compaction || this.#compactScheduled || this.#compactionError || this.#store.closed()) return;
    if (this.#logBytes < this.#snapshotBytes && this.#logRecords < this.#snapshotRecords) return;
    this.#compactScheduled = true;
    nextTask(() => {
      if (!this.#compactScheduled || this.#store.closed() || this.#compaction) return; // begun by drain
      const c = this.#startCompaction();
      if (c) nextTask(() => this.#compactStep(c));
    });
  }

  // #startCompaction begins the module's snapshot of a compaction.
  #startCompaction() {
    this.#compactScheduled = false;
    try {
      const c = beginSnapshot(this.#engine);
      c.coveredBytes = this.#logBytes;
      c.coveredRecords = this.#logRecords;
      this.#compaction = c;
      return c;
    } catch (e) {
      this.#compactionFailed(e);
      return null;
    }
  }

  #compactStep(c) {
    if (this.#compaction !== c || this.#store.closed()) return;
    try {
      if (pullSnapshot(this.#engine, c, SNAPSHOT_BYTES_PER_TASK)) this.#compactDone(c);
      else nextTask(() => this.#compactStep(c));
    } catch (e) {
      this.#compactionFailed(e);
    }
  }

  #compactDone(c) {
    this.#compaction = null;
    this.#queue.snapshot(++this.#generation, c.seq, c.chunks, false);
    this.#logBytes -= c.coveredBytes;
    this.#logRecords -= c.coveredRecords;
    this.#maybeCompact();
  }

  // #compactionFailed gives up automatic snapshots after an error (the log
  // keeps growing; snapshot() still reports errors to its caller).
  #compactionFailed(e) {
    this.#compaction = null;
    const err = this.#store.fail(e);
    if (!this.#store.closed()) {
      this.#compactionError = err;
      reportError(err);
    }
  }

  /**
   * Finishes a snapshot being pulled, or due, synchronously (before a
   * snapshot, restore or close needs the module's snapshot state).
   */
  drain() {
    // One that is due but not begun yet is taken now.
    const c = this.#compaction ?? (this.#compactScheduled ? this.#startCompaction() : null);
    if (!c) return;
    try {
      pullSnapshot(this.#engine, c, Infinity);
      this.#compactDone(c);
    } catch (e) {
      this.#compactionFailed(e);
    }
  }
}
