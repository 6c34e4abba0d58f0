// Browser persistence of Actor Store (DESIGN.md, "JS API", persistence):
// the IndexedDB side of the log-and-snapshot scheme that the Go host keeps
// in a directory. compaction.js drives it and the module (restore, replay,
// snapshots); this file holds what touches IndexedDB and Web Locks, and
// the write queue.
//
// Database "actorstore:<name>", version 1, three object stores:
//   log       value: the mutation records of one transaction (Uint8Array:
//             each record, format v1 of record.js, prefixed by its length
//             as a uvarint), at most about GROUP_BYTES; key: the first
//             sequence of its last record (a number), so deleting keys <= a
//             snapshot's sequence deletes only values it wholly covers.
//   snapshot  key: [generation, chunk index]; value: a Uint8Array piece of
//             the module's portable snapshot stream.
//   meta      key "snapshot": { format: 1, generation, seq, chunks, bytes }
//             naming the current snapshot. Chunks and meta are written in
//             one transaction, so a half-written snapshot is never named.

import { RECORD_FORMAT } from "./abi.js";
import { ActorStoreError } from "./errors.js";
import { putUvarint, readUvarint, uvarintLen } from "./record.js";

export const DB_PREFIX = "actorstore:";
const DB_VERSION = 1;
const META_KEY = "snapshot";
const META_FORMAT = 1;

/** About the most bytes of mutation records one log value holds. */
const GROUP_BYTES = 4 << 20;

// ---- environment -------------------------------------------------------

/** The IndexedDB factory and the lock manager; throws UNAVAILABLE without either. */
export function environment() {
  const idb = globalThis.indexedDB;
  const locks = globalThis.navigator?.locks;
  if (!idb || typeof idb.open !== "function") {
    throw new ActorStoreError("UNAVAILABLE",
      "unavailable: IndexedDB is not available here (persist needs it; the store does not fall back to memory)");
  }
  if (!locks || typeof locks.request !== "function") {
    throw new ActorStoreError("UNAVAILABLE",
      "unavailable: the Web Locks API (navigator.locks) is not available here (persist needs it to keep one writer per name)");
  }
  return { idb, locks };
}

/**
 * Takes the Web Lock "actorstore:<name>" if no one holds it. Resolves to a
 * function releasing it, or rejects with LOCKED.
 */
export function acquireLock(locks, name) {
  const lockName = DB_PREFIX + name;
  return new Promise((resolve, reject) => {
    let release;
    const held = new Promise((r) => { release = r; });
    locks.request(lockName, { ifAvailable: true }, (lock) => {
      if (!lock) {
        reject(new ActorStoreError("LOCKED",
          `locked: the persisted store "${name}" is open in another tab or window (or elsewhere in this page); close it there first`));
        return undefined;
      }
      resolve(() => release());
      return held;
    }).catch((e) => reject(new ActorStoreError("UNAVAILABLE", `unavailable: cannot take the Web Lock ${lockName}: ${e?.message ?? e}`)));
  });
}

// ---- IndexedDB ---------------------------------------------------------

function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

/** Opens (creating when new) the database of name. */
export async function openDatabase(idb, name) {
  let db;
  try {
    db = await new Promise((resolve, reject) => {
      const r = idb.open(DB_PREFIX + name, DB_VERSION);
      r.onupgradeneeded = (e) => {
        const d = r.result;
        if (e.oldVersion === 0) {
          d.createObjectStore("log");
          d.createObjectStore("snapshot");
          d.createObjectStore("meta");
        }
      };
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
      r.onblocked = () => {}; // waits for the other connection to close
    });
  } catch (e) {
    throw new ActorStoreError("UNAVAILABLE", `unavailable: cannot open IndexedDB database ${DB_PREFIX}${name}: ${errText(e)}`);
  }
  for (const s of ["log", "snapshot", "meta"]) {
    if (!db.objectStoreNames.contains(s)) {
      db.close();
      throw new ActorStoreError("CORRUPT", `corrupt: IndexedDB database ${DB_PREFIX}${name} is not an Actor Store database (no object store "${s}")`);
    }
  }
  return db;
}

/**
 * Reads what a store is rebuilt from: the current snapshot's chunks (in
 * order; none when there is no snapshot) and its sequence, and the log
 * records after it, by first sequence.
 */
export async function loadDatabase(db, name) {
  const where = `IndexedDB database ${DB_PREFIX}${name}`;
  let meta, chunks, keys, records;
  try {
    const tx = db.transaction(["meta", "snapshot", "log"], "readonly");
    meta = await req(tx.objectStore("meta").get(META_KEY));
    const seq = meta ? meta.seq : 0;
    const logRange = seq > 0 ? IDBKeyRange.lowerBound(seq, true) : undefined;
    const log = tx.objectStore("log");
    [chunks, keys, records] = await Promise.all([
      meta ? req(tx.objectStore("snapshot").getAll(IDBKeyRange.bound([meta.generation, 0], [meta.generation, Infinity]))) : [],
      req(log.getAllKeys(logRange)),
      req(log.getAll(logRange)),
    ]);
  } catch (e) {
    throw new ActorStoreError("UNAVAILABLE", `unavailable: cannot read ${where}: ${errText(e)}`);
  }
  if (meta) {
    if (meta.format !== META_FORMAT || !Number.isSafeInteger(meta.generation) || !Number.isSafeInteger(meta.seq) ||
        !Number.isSafeInteger(meta.chunks)) {
      throw new ActorStoreError("CORRUPT", `corrupt: ${where}: unreadable snapshot record ${JSON.stringify(meta)}`);
    }
    if (chunks.length !== meta.chunks) {
      throw new ActorStoreError("CORRUPT",
        `corrupt: ${where}: snapshot at sequence ${meta.seq} has ${chunks.length} of its ${meta.chunks} chunks`);
    }
    for (const c of chunks) {
      if (!(c instanceof Uint8Array)) throw new ActorStoreError("CORRUPT", `corrupt: ${where}: a snapshot chunk is not bytes`);
    }
  }
  // Split the values into records, each keyed by its first sequence; drop
  // those the snapshot holds (a value may start before it).
  const seq = meta ? meta.seq : 0;
  const recKeys = [];
  const recs = [];
  for (let i = 0; i < records.length; i++) {
    const v = records[i];
    if (!(v instanceof Uint8Array) || typeof keys[i] !== "number") {
      throw new ActorStoreError("CORRUPT", `corrupt: ${where}: log value ${JSON.stringify(keys[i])} is not bytes`);
    }
    for (let p = 0; p < v.length;) {
      const [n, q] = readUvarint(v, p);
      const [first] = q < 0 || v[q] !== RECORD_FORMAT ? [-1] : readUvarint(v, q + 1);
      if (q < 0 || q + n > v.length || first < 1) {
        throw new ActorStoreError("CORRUPT", `corrupt: ${where}: log value ${keys[i]} is malformed at byte ${p}`);
      }
      if (first > seq) {
        recKeys.push(first);
        recs.push(v.subarray(q, q + n));
      }
      p = q + n;
    }
  }
  return {
    snapshotSeq: seq,
    generation: meta ? meta.generation : 0,
    chunks,
    keys: recKeys,
    records: recs,
  };
}

/** The meta record naming the current snapshot, or undefined. */
export async function readMeta(db, name) {
  try {
    const tx = db.transaction(["meta"], "readonly");
    return await req(tx.objectStore("meta").get(META_KEY));
  } catch (e) {
    throw new ActorStoreError("UNAVAILABLE", `unavailable: cannot read IndexedDB database ${DB_PREFIX}${name}: ${errText(e)}`);
  }
}

/** Deletes the database of name. */
export function deleteDatabase(idb, name) {
  return new Promise((resolve, reject) => {
    const r = idb.deleteDatabase(DB_PREFIX + name);
    r.onsuccess = () => resolve();
    r.onerror = () => reject(new ActorStoreError("STORAGE", `storage: deleting IndexedDB database ${DB_PREFIX}${name} failed: ${errText(r.error)}`));
    r.onblocked = () => {}; // waits for open connections to close
  });
}

function errText(e) {
  if (!e) return "unknown error";
  return e.name && e.message ? `${e.name}: ${e.message}` : String(e.message ?? e);
}

// nextTask runs f in a later task: setImmediate in Node, a MessageChannel
// in pages (no 4 ms clamp of nested timers), else setTimeout.
export const nextTask = (() => {
  if (typeof setImmediate === "function") return (f) => setImmediate(f);
  if (typeof MessageChannel === "function") {
    const ch = new MessageChannel();
    const q = [];
    ch.port1.onmessage = () => q.shift()();
    return (f) => {
      q.push(f);
      ch.port2.postMessage(0);
    };
  }
  return (f) => setTimeout(f, 0);
})();

// ---- the write queue ---------------------------------------------------

/**
 * Writes what a persisted store queues — records and snapshots — in order,
 * in batched readwrite transactions: one in flight at a time, started in
 * the task after the first write queued, carrying everything queued until
 * then. The first failure is sticky: onFail is called once with a STORAGE
 * ActorStoreError and every later flush rejects with it.
 */
export class WriteQueue {
  #db;
  #name;
  #onFail;
  #queue = []; // actions not yet in a transaction
  #queued = 0; // actions ever queued
  #committed = 0; // actions ever committed
  #pending = 0; // records (and restores) not yet committed
  #inFlight = null; // the actions of the running transaction
  #scheduled = false;
  #waiters = []; // { target, resolve, reject }
  #failed = null;
  #closed = false;

  constructor(db, name, onFail) {
    this.#db = db;
    this.#name = name;
    this.#onFail = onFail;
    db.onversionchange = () => {
      // Someone deletes or upgrades the database: let them; our next write
      // fails (STORAGE) and the store closes.
      db.close();
    };
  }

  /** Records (and restores) queued but not yet committed. */
  get pending() {
    return this.#pending;
  }

  get failed() {
    return this.#failed;
  }

  /** Queues one mutation record. */
  record(key, bytes) {
    this.#push({ kind: "record", key, bytes, counts: 1 });
  }

  /**
   * Queues a snapshot: its chunks, the meta record naming it, and the
   * deletion of older snapshots and of the log records it covers (all of
   * them when clearLog: a restore).
   */
  snapshot(generation, seq, chunks, clearLog) {
    let bytes = 0;
    for (const c of chunks) bytes += c.length;
    this.#push({ kind: "snapshot", generation, seq, chunks, bytes, clearLog, counts: clearLog ? 1 : 0 });
  }

  #push(action) {
    if (this.#failed || this.#closed) return;
    this.#queue.push(action);
    this.#queued++;
    this.#pending += action.counts;
    this.#schedule();
  }

  #schedule() {
    if (this.#scheduled || this.#inFlight) return;
    this.#scheduled = true;
    nextTask(() => {
      this.#scheduled = false;
      this.#start();
    });
  }

  #start() {
    if (this.#inFlight || this.#failed || this.#queue.length === 0) return;
    const actions = this.#queue;
    this.#queue = [];
    this.#inFlight = actions;
    let tx;
    try {
      tx = this.#db.transaction(["log", "snapshot", "meta"], "readwrite");
      const log = tx.objectStore("log");
      const snap = tx.objectStore("snapshot");
      const meta = tx.objectStore("meta");
      // Records go in groups, one value each: one put per transaction,
      // not one per record.
      let group = [];
      let groupBytes = 0;
      let lastKey = 0;
      const putGroup = () => {
        if (!group.length) return;
        const v = new Uint8Array(groupBytes);
        let p = 0;
        for (const r of group) {
          p = putUvarint(v, p, r.length);
          v.set(r, p);
          p += r.length;
        }
        log.put(v, lastKey);
        group = [];
        groupBytes = 0;
      };
      for (const a of actions) {
        if (a.kind === "record") {
          group.push(a.bytes);
          groupBytes += uvarintLen(a.bytes.length) + a.bytes.length;
          lastKey = a.key;
          if (groupBytes >= GROUP_BYTES) putGroup();
          continue;
        }
        putGroup();
        for (let i = 0; i < a.chunks.length; i++) snap.put(a.chunks[i], [a.generation, i]);
        meta.put({ format: META_FORMAT, generation: a.generation, seq: a.seq, chunks: a.chunks.length, bytes: a.bytes }, META_KEY);
        snap.delete(IDBKeyRange.upperBound([a.generation], true)); // every older generation
        if (a.clearLog) log.clear();
        else if (a.seq > 0) log.delete(IDBKeyRange.upperBound(a.seq));
      }
      putGroup();
    } catch (e) {
      try {
        tx?.abort();
      } catch {
        // already finished
      }
      this.#fail(e);
      return;
    }
    tx.oncomplete = () => {
      this.#inFlight = null;
      this.#committed += actions.length;
      for (const a of actions) this.#pending -= a.counts;
      this.#wake();
      if (this.#queue.length) this.#start();
    };
    tx.onabort = () => this.#fail(tx.error ?? new Error("transaction aborted"));
  }

  #wake() {
    const done = this.#committed;
    const keep = [];
    for (const w of this.#waiters) {
      if (w.target <= done) w.resolve();
      else keep.push(w);
    }
    this.#waiters = keep;
  }

  #fail(e) {
    if (this.#failed) return;
    this.#inFlight = null;
    this.#failed = new ActorStoreError("STORAGE",
      `storage: writing to IndexedDB database ${DB_PREFIX}${this.#name} failed (${errText(e)}); ` +
      `${this.#pending} write${this.#pending === 1 ? " is" : "s are"} not saved and the store closed itself`);
    this.#queue = [];
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(this.#failed);
    this.#onFail(this.#failed);
  }

  /** Resolves once everything queued before the call is committed. */
  flush() {
    if (this.#failed) return Promise.reject(this.#failed);
    const target = this.#queued;
    if (this.#committed >= target) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ target, resolve, reject }));
  }

  /** Flushes, then closes the connection; later queueing is ignored. */
  async close() {
    try {
      await this.flush();
    } finally {
      this.#closed = true;
      this.#db.close();
    }
  }
}
