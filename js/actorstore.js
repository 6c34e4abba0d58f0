// Actor Store's JS host: drives actorstore.wasm (wasm/ABI.md) in pages and
// in Node with the API of DESIGN.md ("JS API"); types in actorstore.d.ts.
//
// This file is the API: arguments checked, the clock read, each call
// passed to the module and what it did logged and announced. The rest is
// in lib/:
//   load.js           compiling and instantiating the module (wasi.js: its imports)
//   engine.js         the instance: memory, input buffer, results, errors, traps
//   calls.js          each export's request and result layout
//   codec.js          values to CBOR and back
//   time.js           milliseconds to the module's nanoseconds and back
//   subscriptions.js  subscribe and watch over the change feed
//   durable.js        a persisted store: rebuild, log, compaction
//   persist.js        IndexedDB and Web Locks, the write queue
//   record.js         the mutation record bytes (core/record.go's layout)
//   replica.js        ActorStore.connect: a replica of a server's store
//                     (replica-sync.js: snapshot and watch; replica-outbox.js:
//                     queued writes in IndexedDB; replica-tabs.js: one
//                     connection per name across tabs; wire.js: the
//                     server's CBOR and timestamps)
//   errors.js         ActorStoreError and the helpers that make and report errors
//   abi.js            the ABI's constants (generated: go generate ./internal/abi)

import { DEFAULT_MAX_VALUE_BYTES, KIND, MAX_BATCH_OPS } from "./lib/abi.js";
import { ActorStoreError, closedError, invalidArgument } from "./lib/errors.js";
import { RawCBOR, encodeValue, decodeValue } from "./lib/codec.js";
import { instantiate, needSnapshotExports } from "./lib/load.js";
import { Engine } from "./lib/engine.js";
import * as calls from "./lib/calls.js";
import { msToNs } from "./lib/time.js";
import { Subscriptions } from "./lib/subscriptions.js";
import { Durable, deletePersisted, persistOptions } from "./lib/durable.js";
import { environment } from "./lib/persist.js";
import { STORE } from "./lib/internal.js";
import { connect } from "./lib/replica.js";

export { ActorStoreError, RawCBOR, encodeValue, decodeValue };

const DEFAULT_CHANGES_LIMIT = 1000;

const OPEN = Symbol("open");

export class ActorStore {
  #engine;
  #clock;
  #closed = false;
  #dead = null; // the trap that killed the instance
  #subs;
  #durable = null; // persistence, null in memory
  #storageError = null; // the failed IndexedDB write that closed the store
  #closing = null; // close()'s promise

  constructor(token, instance, options) {
    if (token !== OPEN) throw new TypeError("use ActorStore.open()");
    this.#engine = new Engine(instance, !!options.raw, options.maxValueBytes || DEFAULT_MAX_VALUE_BYTES);
    this.#clock = options.clock;
    this.#subs = new Subscriptions({
      changes: (since, actorType, keyPrefix, limit) => calls.changes(this.#engine, since, actorType, keyPrefix, limit),
      stats: () => this.stats(),
      sequenceAtTime: (t) => calls.sequenceAtTime(this.#engine, msToNs(t)),
      fail: (e) => this.#fail(e),
      closed: () => this.#closed,
    });
  }

  /** Compiles (or reuses) the module, instantiates it and opens a store. */
  static async open(options = {}) {
    if (options === null || typeof options !== "object") throw invalidArgument("open takes an options object");
    const config = [
      optionInt(options, "replayBufferSize"), optionInt(options, "replayBufferBytes"),
      optionInt(options, "maxValueBytes"), optionInt(options, "maxDataBytes"),
    ];
    if (options.clock !== undefined && typeof options.clock !== "function") {
      throw invalidArgument("clock must be a function");
    }
    const persist = persistOptions(options.persist);
    const env = persist ? environment() : null;
    // The default location, written so that bundlers see the module as an
    // asset of this file.
    const wasm = options.wasm === undefined ? new URL("./actorstore.wasm", import.meta.url) : options.wasm;
    const instance = await instantiate(wasm);
    if (persist) needSnapshotExports(instance.exports, "cannot persist");
    const store = new ActorStore(OPEN, instance, options);
    store.#start(config);
    if (persist) await store.#openDurable(persist, env);
    return store;
  }

  /**
   * A replica of a server's store (DESIGN.md, "Replicas"): reads and
   * subscriptions local and synchronous, writes sent to the server.
   */
  static connect(options) {
    return connect(ActorStore, options);
  }

  // The replica's access to the store it keeps (lib/replica.js): applying
  // the server's records, restoring its snapshots, persisting from now on.
  [STORE]() {
    return {
      apply: (records) => this.#apply(records),
      persist: (persist) => this.#adopt(persistOptions(persist)),
      engine: this.#engine,
    };
  }

  // #apply replays mutation records (the server's events) in order and
  // logs them when persisted; returns the sequence of the last one.
  #apply(records) {
    this.#check();
    const d = this.#durable;
    let last = 0;
    try {
      for (const r of records) {
        const done = calls.replay(this.#engine, r);
        if (d) d.log(done.first, r);
        last = done.last;
      }
      return last;
    } catch (e) {
      throw this.#fail(e);
    } finally {
      this.#subs.notify();
    }
  }

  // #adopt persists this in-memory store under persist.name from now on,
  // replacing what the database held with the current state.
  async #adopt(persist) {
    const env = environment();
    needSnapshotExports(this.#engine.ex, "cannot persist");
    this.#durable = await Durable.adopt(this.#engine, this.#durableHooks(), persist, env, () => {
      const bytes = this.snapshot();
      return { seq: this.stats().currentSequence, bytes };
    });
  }

  #durableHooks() {
    return {
      fail: (e) => this.#fail(e),
      closed: () => this.#closed,
      storageFailed: (err) => this.#storageFailed(err),
    };
  }

  #start(config) {
    try {
      calls.configure(this.#engine, config);
    } catch (e) {
      throw this.#fail(e);
    }
  }

  async #openDurable(persist, env) {
    try {
      this.#durable = await Durable.open(this.#engine, this.#durableHooks(), persist, env);
    } catch (e) {
      this.#shutdown();
      throw e;
    }
  }

  // ---- errors --------------------------------------------------------------

  #check() {
    if (!this.#closed) return;
    if (this.#storageError) {
      const e = new ActorStoreError("CLOSED",
        `closed: the store closed itself because an IndexedDB write failed (${this.#storageError.message})`);
      e.cause = this.#storageError;
      throw e;
    }
    throw this.#dead
      ? new ActorStoreError("CLOSED", `closed: actorstore.wasm failed earlier (${this.#dead?.message ?? this.#dead}); its state is lost`)
      : closedError();
  }

  // #fail turns anything thrown into the error to report. What is thrown
  // inside an export — a trap, a stack overflow, a failing import — leaves
  // the instance unusable: the store closes for good and says why. Errors
  // outside one (a bug in this package) leave it as it was.
  #fail(e) {
    const engine = this.#engine;
    engine.forget();
    if (e instanceof ActorStoreError) return e;
    if (this.#closed) return closedError();
    if (!engine.calling) return new ActorStoreError("INTERNAL", `internal: ${e?.message ?? e}`);
    this.#dead = e;
    this.#shutdown();
    return new ActorStoreError("INTERNAL", `internal: actorstore.wasm failed (${e?.message ?? e}); its in-memory state is lost`);
  }

  #now() {
    if (!this.#clock) return msToNs(Date.now());
    let t;
    try {
      t = this.#clock();
    } catch (e) {
      throw invalidArgument(`the clock threw: ${e?.message ?? e}`);
    }
    return msToNs(t);
  }

  // ---- the API -------------------------------------------------------------

  /** Inserts a new actor at version 0; ALREADY_EXISTS if present. */
  insert(type, id, value) {
    return this.#write(KIND.insert, type, id, value);
  }

  /** Replaces an actor's value, incrementing its version; NOT_FOUND if absent. */
  update(type, id, value) {
    return this.#write(KIND.update, type, id, value);
  }

  /** Updates only at the expected version, else VERSION_MISMATCH. */
  updateVersioned(type, id, value, expected) {
    return this.#write(KIND.updateVersioned, type, id, value, expected);
  }

  #write(kind, type, id, value, expected) {
    this.#check();
    try {
      const ts = this.#now();
      const d = this.#durable;
      const w = calls.write(this.#engine, kind, type, id, value, expected, ts, d !== null);
      if (d) d.log(w.seq, w.record);
      this.#subs.notify();
      return { type, id, value: this.#engine.written(value), version: w.version };
    } catch (e) {
      throw this.#fail(e);
    }
  }

  /** The actor, or undefined. */
  get(type, id) {
    this.#check();
    try {
      const a = calls.get(this.#engine, type, id);
      return a && { type, id, value: a.value, version: a.version };
    } catch (e) {
      throw this.#fail(e);
    }
  }

  /** Removes an actor and returns it, or undefined when absent (no event). */
  delete(type, id) {
    this.#check();
    try {
      const ts = this.#now();
      const d = this.#durable;
      const a = calls.remove(this.#engine, type, id, ts, d !== null);
      if (!a) return undefined;
      if (d) d.log(a.seq, a.record);
      this.#subs.notify();
      return { type, id, value: a.value, version: a.version };
    } catch (e) {
      throw this.#fail(e);
    }
  }

  /** Every actor of the type, ordered by id (UTF-8 bytes). */
  getAll(type) {
    this.#check();
    try {
      return calls.getAll(this.#engine, type);
    } catch (e) {
      throw this.#fail(e);
    }
  }

  /** Events with sequence > since matching the filter: { events, next }. */
  changes(since, options = {}) {
    this.#check();
    try {
      checkIndex("since", since);
      const limit = options.limit ?? DEFAULT_CHANGES_LIMIT;
      if (!Number.isSafeInteger(limit) || limit < 0) {
        throw invalidArgument(`limit must be a non-negative integer, got ${limit}`);
      }
      return calls.changes(this.#engine, since, options.actorType ?? "", options.keyPrefix ?? "", limit || DEFAULT_CHANGES_LIMIT);
    } catch (e) {
      throw this.#fail(e);
    }
  }

  /** Applies the operations atomically, in order: all or none. */
  batch(ops) {
    this.#check();
    try {
      if (!Array.isArray(ops)) throw invalidArgument("batch takes an array of operations");
      if (ops.length > MAX_BATCH_OPS) {
        throw invalidArgument(`batch of ${ops.length} operations, limit ${MAX_BATCH_OPS}`);
      }
      const ts = this.#now();
      const d = this.#durable;
      const { results, record } = calls.batch(this.#engine, ops, ts, d !== null);
      if (d && record) d.log(record.firstSeq, record.bytes);
      this.#subs.notify();
      return results;
    } catch (e) {
      throw this.#fail(e);
    }
  }

  /** Counters of the store and its change feed. */
  stats() {
    this.#check();
    try {
      return calls.stats(this.#engine, this.#subs.size);
    } catch (e) {
      throw this.#fail(e);
    }
  }

  // ---- subscriptions -------------------------------------------------------

  /**
   * Delivers matching events to onEvent asynchronously, in order, exactly
   * once; a subscriber that falls behind the replay buffer gets COMPACTED
   * through onError and ends. Returns the function that ends it.
   */
  subscribe(options, onEvent, onError) {
    this.#check();
    if (typeof onEvent !== "function") throw invalidArgument("subscribe needs an onEvent function");
    try {
      return this.#subs.subscribe(options, onEvent, onError);
    } catch (e) {
      throw this.#fail(e);
    }
  }

  /** The same events as an async iterator; `break` (return) ends it. */
  watch(options = {}) {
    this.#check();
    try {
      return this.#subs.watch(options);
    } catch (e) {
      throw this.#fail(e);
    }
  }

  // ---- snapshots and persistence -------------------------------------------

  /**
   * The whole state — actors, sequence counter, dropped count and the
   * retained replay buffer — as the portable snapshot stream (the same
   * bytes as the Go host's Snapshot of the same state).
   */
  snapshot() {
    this.#check();
    const engine = this.#engine;
    needSnapshotExports(engine.ex, "has no snapshots");
    try {
      this.#durable?.drain();
      const c = calls.beginSnapshot(engine);
      try {
        calls.pullSnapshot(engine, c, Infinity);
      } catch (e) {
        if (e instanceof ActorStoreError && !this.#closed) calls.endSnapshot(engine);
        throw e;
      }
      let n = 0;
      for (const chunk of c.chunks) n += chunk.length;
      const out = new Uint8Array(n);
      n = 0;
      for (const chunk of c.chunks) {
        out.set(chunk, n);
        n += chunk.length;
      }
      return out;
    } catch (e) {
      throw this.#fail(e);
    }
  }

  /**
   * Replaces the whole state with a snapshot stream's. Garbage or a
   * truncated stream is INVALID_ARGUMENT and leaves the store as it was. A
   * persisted store writes the stream as its new snapshot and clears its
   * log (one transaction, queued like a write: flush() waits for it).
   */
  restore(bytes) {
    this.#check();
    needSnapshotExports(this.#engine.ex, "has no restore");
    if (bytes instanceof ArrayBuffer) bytes = new Uint8Array(bytes);
    if (!(bytes instanceof Uint8Array)) throw invalidArgument("restore takes the snapshot's bytes as a Uint8Array");
    try {
      this.#durable?.drain();
      const { seq } = calls.restore(this.#engine, [bytes]);
      this.#durable?.restored(seq, bytes);
      this.#subs.restored();
    } catch (e) {
      throw this.#fail(e);
    }
  }

  /**
   * Resolves once every mutation made before the call is committed to
   * IndexedDB; rejects with STORAGE if a write failed. Resolves at once
   * for an in-memory store.
   */
  flush() {
    if (this.#storageError) return Promise.reject(this.#storageError);
    const d = this.#durable;
    if (!d) return Promise.resolve();
    return d.flush().catch((e) => {
      throw this.#storageError ?? e;
    });
  }

  /** Mutations (and restores) not yet committed to IndexedDB; 0 in memory. */
  get pendingWrites() {
    return this.#durable ? this.#durable.pending : 0;
  }

  // #storageFailed: an IndexedDB write failed, so memory is ahead of what
  // is durable: the store closes itself (and releases its name).
  #storageFailed(err) {
    this.#storageError = err;
    this.#shutdown();
  }

  /** Deletes the persisted store of name; LOCKED while it is open somewhere. */
  static async deletePersisted(name) {
    if (typeof name !== "string" || name === "") throw invalidArgument("deletePersisted takes a non-empty name");
    await deletePersisted(name);
  }

  // ---- lifetime ------------------------------------------------------------

  /** True after close (or after the module failed). */
  get closed() {
    return this.#closed;
  }

  /**
   * Frees the module; every later call throws CLOSED. A persisted store
   * first finishes a snapshot being taken, then writes what is queued and
   * releases its name: the promise resolves then (rejects with STORAGE if
   * that write fails). Idempotent: later calls return the same promise.
   */
  close() {
    if (!this.#closed) {
      this.#durable?.drain();
      this.#shutdown();
    }
    return this.#closing;
  }

  #shutdown() {
    if (this.#closed) return;
    this.#closed = true;
    this.#subs.close();
    this.#engine.release();
    const d = this.#durable;
    if (!d) {
      this.#closing = Promise.resolve();
      return;
    }
    const done = d.close().then(() => {}, (e) => {
      throw this.#storageError ?? e;
    });
    // After a failed write, the failure was reported (flush, CLOSED): close
    // itself then just releases the name.
    this.#closing = this.#storageError ? done.catch(() => {}) : done;
    this.#closing.catch(() => {}); // a trap's close may fail unobserved
  }
}

function optionInt(options, name) {
  const v = options[name];
  if (v === undefined || v === null) return 0n;
  if (!Number.isSafeInteger(v) || v < 0) throw invalidArgument(`${name} must be a non-negative integer, got ${v}`);
  return BigInt(v);
}

function checkIndex(name, v) {
  if (!Number.isSafeInteger(v) || v < 0) throw invalidArgument(`${name} must be a non-negative integer, got ${v}`);
}
