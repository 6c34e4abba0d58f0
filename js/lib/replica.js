// ActorStore.connect: a page's replica of a server's store (DESIGN.md,
// "Replicas").
//
// The replica keeps a store in its own module with the server's actors,
// versions and sequence numbers: it restores the server's snapshot and
// replays each event of the server's watch as a mutation record, so the
// module makes the server's events again (same sequence, versions,
// timestamp). Reads and subscriptions are that store's, local and
// synchronous. Writes go to the server over HTTP (CBOR, an idempotency key
// each), one at a time and in order, from a queue that outlives the
// connection (and, persisted, the page); each resolves once the replica
// has applied the event it made (read-your-writes), found by key, version
// and value among the events applied after it was sent.
//
// replica-sync.js runs the connection, replica-outbox.js keeps the queue in
// IndexedDB, replica-tabs.js shares one connection among a name's tabs.

import { MAX_BATCH_OPS, MAX_DATA_LIMIT, MAX_VALUE_LIMIT } from "./abi.js";
import { RawCBOR, decodeValue, encodeValue } from "./codec.js";
import { keyError } from "./engine.js";
import { ActorStoreError, closedError, invalidArgument, reportError } from "./errors.js";
import { STORE } from "./internal.js";
import { environment, nextTask } from "./persist.js";
import { Outbox } from "./replica-outbox.js";
import { Sync, answerError, eventRecords } from "./replica-sync.js";
import { Tabs } from "./replica-tabs.js";
import { CBORWriter, readCBOR, wellFormed } from "./wire.js";

/** The persisted store a replica of name keeps its state in (IndexedDB database actorstore:replica:<name>). */
export const STATE_PREFIX = "replica:";
const MEDIA_CBOR = "application/cbor";
const DEFAULT_MIN_DELAY = 250;
const DEFAULT_MAX_DELAY = 10_000;
const DEFAULT_TIMEOUT = 10_000;
const WRITE_OPS = ["insert", "update", "updateVersioned", "delete"];
const EVENT_OF = { insert: "insert", update: "update", updateVersioned: "update", delete: "delete" };

const CONNECT = Symbol("connect");

/** Checks options and connects; see Replica. */
export async function connect(ActorStore, options) {
  if (options === null || typeof options !== "object") throw invalidArgument("connect takes an options object");
  const o = { ...options };
  if (typeof o.url !== "string" && !(o.url instanceof URL)) throw invalidArgument("connect needs the server's url");
  try {
    o.url = new URL(String(o.url)).href;
  } catch {
    throw invalidArgument(`url ${JSON.stringify(String(o.url))} is not a URL`);
  }
  if (o.token !== undefined && typeof o.token !== "string") throw invalidArgument("token must be a string");
  o.WebSocket ??= globalThis.WebSocket;
  if (typeof o.WebSocket !== "function") {
    throw invalidArgument("no WebSocket here: pass a WebSocket implementation (in Node 20: the ws package, or run node with --experimental-websocket)");
  }
  o.fetch ??= globalThis.fetch?.bind(globalThis);
  if (typeof o.fetch !== "function") throw invalidArgument("no fetch here: pass a fetch implementation");
  for (const k of ["minDelay", "maxDelay", "timeout"]) {
    if (o[k] !== undefined && (!Number.isFinite(o[k]) || o[k] < 0)) throw invalidArgument(`${k} must be a non-negative number of milliseconds`);
  }
  o.minDelay ??= DEFAULT_MIN_DELAY;
  o.maxDelay ??= DEFAULT_MAX_DELAY;
  o.timeout ??= DEFAULT_TIMEOUT;
  if (o.persist !== undefined && o.persist !== null && o.persist !== false) {
    if (typeof o.persist !== "object" || typeof o.persist.name !== "string" || o.persist.name === "") {
      throw invalidArgument("persist must be an object { name } with a non-empty name");
    }
  } else {
    o.persist = null;
  }
  o.name ??= o.persist?.name;
  if (o.name !== undefined && (typeof o.name !== "string" || o.name === "")) throw invalidArgument("name must be a non-empty string");
  const r = new Replica(CONNECT, ActorStore, o);
  await r[CONNECT]();
  return r;
}

/**
 * A replica of a server's store. Reads (get, getAll, changes, stats,
 * snapshot) and subscriptions (subscribe, watch) are local and
 * synchronous; writes return promises. Events (addEventListener):
 * "status" (detail { status }), "pending" (detail { pendingWrites }),
 * "resync" (detail { reason, sequence }), "settled" (detail { write,
 * result, error }) and "error" (detail { error }).
 */
export class Replica extends EventTarget {
  #ActorStore;
  #o;
  #store = null; // the store the replica keeps
  #hooks = null;
  #raw;
  #status = "connecting";
  #closed = false;
  #closing = null;
  #sync = null; // the connection, while this tab leads
  #tabs = null;
  #leader = false;
  #seq = 0;
  #epoch = 0; // counts re-syncs
  #incoming = []; // watch messages not applied yet
  #applyScheduled = false;

  // Writes. #queue: not yet acknowledged by the server, in order (this
  // tab's and, when it leads, the other tabs'); #waiting: promises of this
  // tab's writes by idempotency key; #inFlight: the one being sent;
  // #awaiting: acknowledged, waiting for their event.
  #queue = [];
  #outbox = null; // the queue in IndexedDB
  #waiting = new Map();
  #inFlight = null;
  #awaiting = [];
  #watchKeys = new Map(); // "type\0id" -> count, of writes in flight or awaiting
  #recent = []; // events on #watchKeys applied since the oldest write in flight
  #pumping = false;
  #remotePending = []; // followers: the leader's list

  constructor(token, ActorStore, options) {
    if (token !== CONNECT) throw new TypeError("use ActorStore.connect()");
    super();
    this.#ActorStore = ActorStore;
    this.#o = options;
    this.#raw = !!options.raw;
  }

  async [CONNECT]() {
    const o = this.#o;
    this.#storeOptions = {
      wasm: o.wasm,
      raw: o.raw,
      replayBufferSize: o.replayBufferSize,
      replayBufferBytes: o.replayBufferBytes,
      // The replica holds what the server holds; the server enforces its limits.
      maxValueBytes: o.maxValueBytes ?? MAX_VALUE_LIMIT,
      maxDataBytes: o.maxDataBytes ?? MAX_DATA_LIMIT,
    };
    const tabs = o.name !== undefined && Tabs.available();
    if (o.persist) environment(); // UNAVAILABLE without IndexedDB or Web Locks
    if (tabs) {
      this.#tabs = new Tabs(o.name, this.#tabHooks());
      let lead;
      try {
        lead = await this.#tabs.start();
      } catch (e) {
        this.#tabs.close();
        throw new ActorStoreError("UNAVAILABLE", `unavailable: cannot take the Web Lock of "${o.name}": ${e?.message ?? e}`);
      }
      if (!lead) {
        // Another tab leads: start from its state.
        let ready;
        this.#following = new Promise((resolve) => {
          ready = resolve;
        });
        try {
          this.#store = await this.#ActorStore.open(this.#storeOptions);
          this.#hooks = this.#store[STORE]();
          ready();
          await this.#tabs.joined(o.timeout);
          // It may have become the leader meanwhile: then connect resolves as a leader's does.
          if (this.#leading) await this.#leading;
        } catch (e) {
          ready();
          await this.#shutdown(e);
          throw e;
        }
        return;
      }
    }
    await this.#lead();
  }

  #storeOptions;
  #following = Promise.resolve(); // a follower's store is ready
  #leading = null; // a follower's taking over
  #onOnline = null;

  // #lead makes this tab the one holding the connection: the store (its
  // persisted state when persist is set), the queue, the watch. A follower
  // taking over keeps the store it has (persisting it from now on).
  async #lead() {
    const o = this.#o;
    this.#leader = true;
    let resync = null;
    try {
      // The tab that led may still be closing its database: try a while.
      for (let i = 0; ; i++) {
        try {
          if (!this.#store) {
            this.#store = await this.#ActorStore.open(o.persist
              ? { ...this.#storeOptions, persist: { name: STATE_PREFIX + o.persist.name } }
              : this.#storeOptions);
            this.#hooks = this.#store[STORE]();
          } else if (o.persist) {
            await this.#hooks.persist({ name: STATE_PREFIX + o.persist.name });
          }
          break;
        } catch (e) {
          if (e.code !== "LOCKED" || i >= 50) throw e;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      this.#seq = this.#store.stats().currentSequence;
      if (o.persist) {
        const { outbox, writes, url } = await Outbox.open(environment().idb, o.persist.name);
        this.#outbox = outbox;
        if (url !== undefined && url !== o.url) resync = "SERVER_CHANGED";
        if (url !== o.url) outbox.setURL(o.url);
        for (const w of writes) this.#enqueue(w);
      }
    } catch (e) {
      await this.#shutdown(e);
      throw e;
    }
    if (this.#closed) return;
    if (this.#seq === 0 && resync === null) resync = "INITIAL";
    this.#tabs?.lead();
    this.#sync = new Sync(this.#syncHooks(), o, resync);
    this.#sync.run().catch(reportError);
    // A browser back on the network: try at once, not at the end of a backoff.
    if (typeof globalThis.addEventListener === "function" && typeof globalThis.document !== "undefined") {
      this.#onOnline = () => {
        if (this.#status !== "online") this.#sync?.kick();
      };
      globalThis.addEventListener("online", this.#onOnline);
    }
    this.#emitPending();
    let first;
    try {
      first = await this.#sync.started;
    } catch (e) {
      await this.#shutdown(e);
      throw e;
    }
    if (first || o.persist || this.#closed) return;
    // In memory, with no state: wait for the server, up to the timeout.
    const online = await new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), o.timeout);
      const on = () => {
        if (this.#status !== "online" && !this.#closed) return;
        clearTimeout(t);
        this.removeEventListener("status", on);
        resolve(this.#status === "online");
      };
      this.addEventListener("status", on);
    });
    if (!online) {
      const e = new ActorStoreError("UNAVAILABLE", `unavailable: cannot reach ${o.url} within ${o.timeout} ms`);
      await this.#shutdown(e);
      throw e;
    }
  }

  // ---- the connection's view of the replica --------------------------------

  #syncHooks() {
    return {
      sequence: () => this.#seq,
      localEvent: (seq) => {
        const ev = this.#store.changes(seq - 1, { limit: 1 }).events[0];
        return ev?.sequence === seq ? ev : undefined;
      },
      restore: (bytes, reason, seq) => this.#restore(bytes, reason, seq),
      receive: (bytes) => {
        this.#incoming.push(bytes);
        if (!this.#applyScheduled) {
          this.#applyScheduled = true;
          nextTask(() => this.#applyIncoming());
        }
      },
      status: (s) => this.#setStatus(s),
      error: (err) => this.#emit("error", { error: err }),
    };
  }

  #restore(bytes, reason, seq) {
    this.#incoming = [];
    this.#store.restore(bytes);
    this.#seq = this.#store.stats().currentSequence;
    if (seq !== undefined && seq !== this.#seq) {
      this.#emit("error", { error: new ActorStoreError("INTERNAL", `internal: the snapshot named sequence ${seq} holds ${this.#seq}`) });
    }
    this.#epoch++;
    this.#recent = [];
    this.#tabs?.restored(bytes, reason);
    this.#recheckAwaiting();
    if (reason !== "INITIAL") this.#emit("resync", { reason, sequence: this.#seq });
  }

  #applyIncoming() {
    this.#applyScheduled = false;
    const msgs = this.#incoming;
    this.#incoming = [];
    if (this.#closed || msgs.length === 0) return;
    const evs = [];
    const records = [];
    let next = this.#seq + 1;
    // Every message that arrived since the last task, each a batch of
    // consecutive events, is applied in one go.
    apply: for (const m of msgs) {
      let batch;
      try {
        batch = eventRecords(m);
      } catch (e) {
        this.#emit("error", { error: new ActorStoreError("INTERNAL", `internal: an unreadable watch message: ${e.message}`) });
        this.#sync?.resync("DIVERGED");
        break;
      }
      for (const ev of batch) {
        if (ev.sequence < next) continue;
        if (ev.sequence > next) {
          this.#sync?.resync("DIVERGED");
          break apply;
        }
        evs.push(ev);
        records.push(ev.record);
        next++;
      }
    }
    if (records.length === 0) return;
    this.#applyRecords(records, evs);
  }

  // #applyRecords replays the server's records (evs: their events, when
  // known) and tells the other tabs and the writes waiting for them.
  #applyRecords(records, evs) {
    const first = this.#seq + 1;
    try {
      this.#seq = this.#hooks.apply(records);
    } catch (e) {
      if (this.#store.closed) {
        this.#shutdown(e);
        return;
      }
      this.#seq = this.#store.stats().currentSequence;
      this.#emit("error", { error: e });
      this.#sync?.resync("DIVERGED");
      return;
    }
    this.#tabs?.applied(first, records);
    if (evs && this.#watchKeys.size) this.#matchApplied(evs);
  }

  // ---- reads and subscriptions: the local store ---------------------------

  #local() {
    if (this.#closed) throw closedError();
    return this.#store;
  }

  /** The actor, or undefined. */
  get(type, id) {
    return this.#local().get(type, id);
  }

  /** Every actor of the type, ordered by id. */
  getAll(type) {
    return this.#local().getAll(type);
  }

  /** Events with sequence > since matching the filter: { events, next }. */
  changes(since, options) {
    return this.#local().changes(since, options);
  }

  /** Counters of the replica's store (the server's sequence numbers). */
  stats() {
    return this.#local().stats();
  }

  /** The replica's state as the portable snapshot stream. */
  snapshot() {
    return this.#local().snapshot();
  }

  /** Delivers matching events of the replica's feed; see ActorStore.subscribe. A re-sync ends it with RESTORED. */
  subscribe(options, onEvent, onError) {
    return this.#local().subscribe(options, onEvent, onError);
  }

  /** The same events as an async iterator. */
  watch(options) {
    return this.#local().watch(options);
  }

  /** "online" (watching the server), "connecting" or "offline". */
  get status() {
    return this.#status;
  }

  /** Writes not yet acknowledged by the server, in the order they go out. */
  get pendingWrites() {
    if (!this.#leader && this.#tabs) return this.#remotePending.map((w) => this.#publicWrite(w));
    return this.#queue.map((w) => this.#publicWrite(w));
  }

  /** True after close. */
  get closed() {
    return this.#closed;
  }

  // ---- writes --------------------------------------------------------------

  /** Inserts on the server; resolves with the actor once the replica has it. */
  insert(type, id, value) {
    return this.#write({ op: "insert", type, id, value });
  }

  /** Updates on the server; resolves with the actor once the replica has it. */
  update(type, id, value) {
    return this.#write({ op: "update", type, id, value });
  }

  /** Compare-and-swap on the server: VERSION_MISMATCH (expected, actual) when another version is there. */
  updateVersioned(type, id, value, expected) {
    return this.#write({ op: "updateVersioned", type, id, value, expected });
  }

  /** Deletes on the server; resolves with the deleted actor, or undefined when absent. */
  delete(type, id) {
    return this.#write({ op: "delete", type, id });
  }

  /** An atomic batch on the server; resolves with its results once the replica has its events. */
  batch(ops) {
    return this.#write({ op: "batch", ops });
  }

  #write(w) {
    if (this.#closed) return Promise.reject(closedError());
    let entry;
    try {
      entry = this.#entry(w);
    } catch (e) {
      return Promise.reject(e);
    }
    const p = new Promise((resolve, reject) => this.#waiting.set(entry.key, { resolve, reject, entry }));
    if (!this.#leader && this.#tabs) {
      this.#tabs.forward(entry);
    } else {
      this.#enqueue(entry);
    }
    return p;
  }

  // #entry checks a write as far as it can without the server and makes
  // its queue entry: values as CBOR bytes, the caller's values kept for
  // the result (input, not persisted).
  #entry(w) {
    const entry = { key: newKey(), op: w.op, queuedAt: Date.now() };
    if (w.op === "batch") {
      const ops = w.ops;
      if (!Array.isArray(ops)) throw invalidArgument("batch takes an array of operations");
      if (ops.length > MAX_BATCH_OPS) throw invalidArgument(`batch of ${ops.length} operations, limit ${MAX_BATCH_OPS}`);
      entry.ops = [];
      entry.input = [];
      // An operation the replica must not send as it is goes as a stand-in
      // the store refuses with the same code at the same index (an empty
      // key, a value that is not UTF-8), so that the server still reports
      // earlier operations' errors first; then the replica reports its own.
      const standIns = {};
      ops.forEach((op, i) => {
        const at = (e) => {
          e.index = i;
          e.message = `batch operation ${i}: ${e.message}`;
          return e;
        };
        if (!op || !WRITE_OPS.includes(op.op)) throw at(invalidArgument(`unknown batch operation ${JSON.stringify(op?.op)}`));
        if (op.op === "updateVersioned" && (!Number.isSafeInteger(op.expected) || op.expected < 0)) {
          throw at(invalidArgument(`expected version must be a non-negative integer, got ${op.expected}`));
        }
        const o = { op: op.op, type: op.type, id: op.id };
        const kerr = checkKey(op.type, op.id);
        let err = null;
        if (kerr) {
          err = kerr;
          o.type = "";
          o.id = "";
        }
        if (op.op !== "delete") {
          try {
            o.value = this.#encode(op.value);
          } catch (e) {
            err ??= e;
            o.value = STAND_IN;
          }
          if (!err && !wellFormed(o.value)) standIns[i] = { code: "INVALID_VALUE" }; // the module words it
        }
        if (op.op === "updateVersioned") o.expected = op.expected;
        if (err) {
          if (i === 0) throw at(err); // nothing comes before it
          standIns[i] = { code: err.code, error: { code: err.code, message: `batch operation ${i}: ${err.message}`, index: i } };
        }
        entry.ops.push(o);
        entry.input.push(op.value);
      });
      if (Object.keys(standIns).length) entry.standIns = standIns;
      return entry;
    }
    const kerr = checkKey(w.type, w.id);
    if (kerr) throw kerr;
    entry.type = w.type;
    entry.id = w.id;
    if (w.op !== "delete") {
      entry.value = this.#encode(w.value);
      entry.input = w.value;
      if ((isDotSegment(w.type) || isDotSegment(w.id)) && !wellFormed(entry.value)) entry.standIns = { 0: { code: "INVALID_VALUE" } };
    }
    if (w.op === "updateVersioned") {
      if (!Number.isSafeInteger(w.expected) || w.expected < 0) {
        throw invalidArgument(`expected version must be a non-negative integer, got ${w.expected}`);
      }
      entry.expected = w.expected;
    }
    return entry;
  }

  // #valueError is the module's error for a value (CBOR bytes), as the
  // batch operation i it is in; undefined when the module takes it.
  async #valueError(bytes, i) {
    this.#scratch ??= this.#ActorStore.open({
      wasm: this.#o.wasm, raw: true, replayBufferSize: 1, maxValueBytes: MAX_VALUE_LIMIT, maxDataBytes: MAX_DATA_LIMIT,
    });
    const s = await this.#scratch;
    try {
      s.batch([{ op: "insert", type: "v", id: "v", value: new RawCBOR(bytes) }, { op: "delete", type: "v", id: "v" }]);
      return undefined;
    } catch (e) {
      if (e.code !== "INVALID_VALUE") return undefined;
      e.index = i;
      e.message = e.message.replace(/^batch operation 0: /, `batch operation ${i}: `);
      return e;
    }
  }

  #scratch = null; // a store of its own that checks values (#valueError)

  #encode(value) {
    if (value instanceof RawCBOR) return value.bytes;
    if (this.#raw) {
      if (value instanceof Uint8Array) return value;
      throw new ActorStoreError("INVALID_VALUE", "invalid value: a raw store takes Uint8Array or RawCBOR values");
    }
    try {
      return encodeValue(value);
    } catch (e) {
      throw new ActorStoreError("INVALID_VALUE", `invalid value: cannot encode as CBOR: ${e.message}`);
    }
  }

  // #written is a written value as a result shows it: what was passed, or
  // (a write from before a reload, another tab's) its bytes read back.
  #written(input, bytes, hasInput) {
    if (hasInput && !(input instanceof RawCBOR)) return input;
    return this.#raw ? bytes.slice() : decodeValue(bytes);
  }

  #stored(bytes) {
    return this.#raw ? bytes.slice() : decodeValue(bytes);
  }

  #publicWrite(w) {
    const out = { key: w.key, op: w.op, queuedAt: new Date(w.queuedAt), sending: this.#inFlight?.key === w.key || !!w.sending };
    if (w.op === "batch") {
      out.ops = w.ops.map((o) => {
        const p = { op: o.op, type: o.type, id: o.id };
        if (o.value) p.value = this.#stored(o.value);
        if (o.expected !== undefined) p.expected = o.expected;
        return p;
      });
    } else {
      out.type = w.type;
      out.id = w.id;
      if (w.value) out.value = this.#stored(w.value);
      if (w.expected !== undefined) out.expected = w.expected;
    }
    return out;
  }

  // #enqueue adds a write to the queue of the leading tab (fresh: made
  // now, so it goes to IndexedDB).
  #enqueue(entry) {
    if (this.#queue.some((w) => w.key === entry.key) || this.#inFlight?.key === entry.key) return;
    this.#queue.push(entry);
    this.#outbox?.add(entry);
    this.#emitPending();
    this.#pump();
  }

  async #pump() {
    if (this.#pumping || !this.#leader) return;
    this.#pumping = true;
    try {
      while (!this.#closed && this.#queue.length && this.#sync?.open) {
        const entry = this.#queue[0];
        this.#inFlight = entry;
        this.#watch(entry, 1);
        const s0 = this.#seq;
        const epoch = this.#epoch;
        this.#emitPending();
        let res;
        try {
          res = await this.#send(entry);
        } catch {
          // Not sent, or sent and unanswered: it goes again (same key).
          this.#inFlight = null;
          this.#watch(entry, -1);
          this.#sync?.kick();
          break;
        }
        if (res.status === 502 || res.status === 504) {
          // A proxy's answer, not the store's: as if the network failed.
          await res.arrayBuffer().catch(() => {});
          this.#inFlight = null;
          this.#watch(entry, -1);
          this.#sync?.kick();
          break;
        }
        if (res.status === 503) {
          this.#inFlight = null;
          this.#watch(entry, -1);
          await res.arrayBuffer().catch(() => {});
          const after = Number(res.headers.get("retry-after"));
          await new Promise((resolve) => setTimeout(resolve, Number.isFinite(after) && after > 0 ? after * 1000 : 1000));
          continue;
        }
        let outcome;
        try {
          outcome = await this.#outcome(entry, res);
        } catch (e) {
          outcome = { error: new ActorStoreError("INTERNAL", `internal: the server's answer is unreadable: ${e.message}`) };
        }
        if (outcome.retry) {
          this.#inFlight = null;
          this.#watch(entry, -1);
          continue;
        }
        this.#queue.shift();
        this.#outbox?.remove(entry.key);
        this.#inFlight = null;
        if (outcome.error) {
          this.#watch(entry, -1);
          this.#settle(entry, outcome.error);
        } else {
          this.#acknowledged(entry, outcome, s0, epoch);
        }
        this.#emitPending();
      }
    } finally {
      this.#pumping = false;
    }
  }

  // #send sends one write; a network failure throws.
  #send(entry) {
    const headers = { "Content-Type": MEDIA_CBOR, Accept: MEDIA_CBOR, "Idempotency-Key": entry.sendKey ?? entry.key };
    const o = this.#o;
    if (o.token) headers.Authorization = `Bearer ${o.token}`;
    const base = o.url.endsWith("/") ? o.url : `${o.url}/`;
    let method;
    let path;
    let body;
    if (entry.op === "batch" || isDotSegment(entry.type) || isDotSegment(entry.id)) {
      // "." and ".." cannot be path segments (URLs drop them): such keys go as a batch of one.
      method = "POST";
      path = "v1/batch";
      body = batchBody(entry.op === "batch" ? entry.ops : [entry], entry.standIns);
    } else {
      path = `v1/actors/${encodeURIComponent(entry.type)}/${encodeURIComponent(entry.id)}`;
      method = entry.op === "insert" ? "POST" : entry.op === "delete" ? "DELETE" : "PUT";
      if (entry.op === "updateVersioned") headers["If-Match"] = `"${entry.expected}"`;
      if (entry.op !== "delete") body = entry.value;
    }
    return o.fetch(new URL(path, base), { method, headers, body, cache: "no-store" });
  }

  // #outcome reads the server's answer to a write: { result, event } —
  // event describing the last event it made, to wait for — or { error }.
  async #outcome(entry, res) {
    const single = entry.op !== "batch";
    if (!res.ok) {
      if (res.status === 404 && entry.op === "delete" && !(isDotSegment(entry.type) || isDotSegment(entry.id))) {
        await res.arrayBuffer();
        return { wire: undefined, event: null };
      }
      let err = await answerError(res);
      const ops = single ? [entry] : entry.ops;
      const stood = entry.standIns?.[err.index];
      if (stood && stood.code === err.code) {
        err = stood.error
          ? new ActorStoreError(stood.error.code, stood.error.message, stood.error)
          : await this.#valueError(ops[err.index].value, err.index);
      } else if (err.code === "INVALID_ARGUMENT" && /^malformed batch/.test(err.message) && !entry.checked) {
        // The server's decoder refused a value the replica let through:
        // the module decides which, and the batch goes again without it.
        entry.checked = true;
        let more = false;
        for (let i = 0; i < ops.length; i++) {
          if (ops[i].op !== "delete" && !entry.standIns?.[i] && (await this.#valueError(ops[i].value, i))) {
            entry.standIns = { ...entry.standIns, [i]: { code: "INVALID_VALUE" } };
            more = true;
          }
        }
        if (more) {
          entry.sendKey = newKey(); // the refused request was never applied
          return { retry: true };
        }
      }
      if (single && err.index === 0) {
        delete err.index;
        err.message = err.message.replace(/^(actorstore: )?batch operation 0: /, "$1");
      }
      return { error: err };
    }
    const body = readCBOR(new Uint8Array(await res.arrayBuffer()));
    if (single) {
      let a = body;
      if (body.results) {
        if (!body.results[0].found) return { wire: undefined, event: null };
        a = body.results[0].actor;
      }
      const event = entry.op === "delete"
        ? { op: "delete", type: entry.type, id: entry.id, version: a.version }
        : { op: EVENT_OF[entry.op], type: entry.type, id: entry.id, version: a.version, value: entry.value };
      return { wire: { version: a.version, value: entry.op === "delete" ? a.value : undefined }, event };
    }
    let event = null;
    const wire = body.results.map((r, i) => {
      const op = entry.ops[i];
      if (!r.found || !r.actor) return { found: false };
      const a = r.actor;
      event = op.op === "delete"
        ? { op: "delete", type: op.type, id: op.id, version: a.version }
        : { op: EVENT_OF[op.op], type: op.type, id: op.id, version: a.version }; // the server may re-encode a batch's values
      return { found: true, version: a.version, value: op.op === "delete" ? a.value : undefined };
    });
    return { wire, event };
  }

  // #result is what a write resolves with, from the server's answer in
  // wire form (versions; deleted values as CBOR bytes): written values are
  // the caller's own when this tab made the write, else read back.
  #result(entry, wire) {
    if (wire === undefined) return undefined;
    if (entry.op === "batch") {
      return wire.map((r, i) => {
        if (!r.found) return { actor: undefined, found: false };
        const op = entry.ops[i];
        const value = op.op === "delete" ? this.#stored(r.value) : this.#written(entry.input?.[i], op.value, !!entry.input);
        return { actor: { type: op.type, id: op.id, value, version: r.version }, found: true };
      });
    }
    const value = entry.op === "delete" ? this.#stored(wire.value) : this.#written(entry.input, entry.value, "input" in entry);
    return { type: entry.type, id: entry.id, value, version: wire.version };
  }

  // #watch counts the keys of a write whose events the replica notes
  // (#recent) while it is in flight or waits for its event.
  #watch(entry, d) {
    const keys = entry.op === "batch" ? entry.ops.map((o) => `${o.type}\0${o.id}`) : [`${entry.type}\0${entry.id}`];
    for (const k of keys) {
      const n = (this.#watchKeys.get(k) ?? 0) + d;
      if (n > 0) this.#watchKeys.set(k, n);
      else this.#watchKeys.delete(k);
    }
    if (this.#watchKeys.size === 0) this.#recent = [];
  }

  // #acknowledged: the server committed the write; it resolves once the
  // replica has applied its event (at once if it has already).
  #acknowledged(entry, outcome, s0, epoch) {
    const w = { entry, wire: outcome.wire, event: outcome.event, s0 };
    if (!w.event || this.#recent.some((ev) => matches(w, ev)) || (epoch !== this.#epoch && this.#stateHas(w.event))) {
      this.#done(w);
      return;
    }
    this.#awaiting.push(w);
  }

  #matchApplied(evs) {
    for (const ev of evs) {
      if (this.#watchKeys.has(`${ev.type}\0${ev.id}`)) this.#recent.push(ev);
    }
    if (this.#awaiting.length === 0) return;
    const keep = [];
    for (const w of this.#awaiting) {
      if (evs.some((ev) => matches(w, ev))) this.#done(w);
      else keep.push(w);
    }
    this.#awaiting = keep;
  }

  // After a re-sync, the events of writes acknowledged before it may be
  // in the snapshot, not in the feed: the state tells.
  #recheckAwaiting() {
    const keep = [];
    for (const w of this.#awaiting) {
      if (this.#stateHas(w.event)) this.#done(w);
      else keep.push(w);
    }
    this.#awaiting = keep;
  }

  #stateHas(ev) {
    const a = this.#store.get(ev.type, ev.id);
    return ev.op === "delete" ? !a || a.version !== ev.version : !!a && a.version >= ev.version;
  }

  #done(w) {
    this.#watch(w.entry, -1);
    this.#settle(w.entry, null, w.wire);
  }

  #settle(entry, error, wire) {
    const p = this.#waiting.get(entry.key);
    this.#waiting.delete(entry.key);
    const result = error ? undefined : this.#result(p?.entry ?? entry, wire);
    if (p) {
      if (error) p.reject(error);
      else p.resolve(result);
    }
    this.#tabs?.settled(entry.key, this.#seq, error, wire);
    this.#emit("settled", { write: this.#publicWrite(entry), result, error: error ?? undefined });
  }

  // ---- tabs ----------------------------------------------------------------

  #tabHooks() {
    return {
      // A follower: state from the leader, then its records.
      state: (bytes) => {
        this.#store.restore(bytes);
        this.#seq = this.#store.stats().currentSequence;
      },
      sequence: () => this.#seq,
      records: (records) => this.#applyRecords(records, null),
      restored: (bytes, reason) => this.#restore(bytes, reason),
      status: (s) => this.#setStatus(s),
      pending: (list) => {
        this.#remotePending = list;
        this.#emitPending();
      },
      settled: (key, error, wire) => this.#remoteSettled(key, error, wire),
      unsettled: () => [...this.#waiting.keys()],
      // The leader: state for a new tab, writes from the others.
      snapshot: () => ({ bytes: this.#store.snapshot(), status: this.#status, pending: this.#queue }),
      write: (entry) => this.#enqueue(entry),
      // This tab now leads.
      lead: () => {
        this.#leading = this.#following.then(async () => {
          if (this.#closed) return;
          if (!this.#tabs.synced) {
            // It never had the old leader's state: start from this
            // browser's copy (persisted) or the server, as a first tab would.
            const s = this.#store;
            this.#store = null;
            this.#hooks = null;
            await s?.close();
          }
          await this.#lead();
        });
        this.#leading.catch((e) => this.#shutdown(e));
      },
    };
  }

  // #remoteSettled: the leader settled a write of this tab's. The records
  // the leader applied before (up to its sequence then) came first on the
  // channel and were applied on arrival, so this tab has the write too.
  #remoteSettled(key, error, wire) {
    const p = this.#waiting.get(key);
    if (!p) return;
    this.#waiting.delete(key);
    if (error) p.reject(error);
    else p.resolve(this.#result(p.entry, wire));
  }

  // ---- status and events ---------------------------------------------------

  #setStatus(s) {
    if (s === this.#status) return;
    this.#status = s;
    if (this.#leader) this.#tabs?.status(s);
    this.#emit("status", { status: s });
    if (s === "online") this.#pump();
  }

  #emitPending() {
    if (this.#leader) this.#tabs?.pending(this.#queue);
    this.#emit("pending", { pendingWrites: this.#leader || !this.#tabs ? this.#queue.length : this.#remotePending.length });
  }

  #emit(type, detail) {
    if (this.#closed && type !== "status") return;
    try {
      this.dispatchEvent(new CustomEvent(type, { detail }));
    } catch (e) {
      reportError(e);
    }
  }

  // ---- lifetime ------------------------------------------------------------

  /**
   * Stops following the server and closes the replica's store. Writes not
   * yet acknowledged reject with CLOSED (persisted ones stay queued in
   * IndexedDB and go out at the next connect); acknowledged ones resolve.
   */
  close() {
    if (!this.#closed) this.#closing = this.#shutdown(null);
    return this.#closing;
  }

  async #shutdown(err) {
    if (this.#closed) return this.#closing;
    this.#setStatus("offline");
    this.#closed = true;
    this.#sync?.stop();
    if (this.#onOnline) globalThis.removeEventListener("online", this.#onOnline);
    for (const w of this.#awaiting) this.#settle(w.entry, null, w.wire);
    this.#awaiting = [];
    const why = err
      ? Object.assign(new ActorStoreError("CLOSED", `closed: ${err.message}`), { cause: err })
      : new ActorStoreError("CLOSED", this.#o.persist
        ? "closed: the replica closed before the server acknowledged this write; it stays queued and goes out at the next connect"
        : "closed: the replica closed before the server acknowledged this write");
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const p of waiting) p.reject(why);
    await this.#outbox?.close();
    if (this.#scratch) await (await this.#scratch).close();
    await this.#store?.close();
    this.#tabs?.close(); // last: the next tab leads once the database is free
  }
}

function matches(w, ev) {
  const d = w.event;
  return ev.sequence > w.s0 && ev.operation === d.op && ev.type === d.type && ev.id === d.id &&
    (d.op === "delete" ? ev.previousVersion === d.version
      : ev.newVersion === d.version && (d.value === undefined || bytesEqual(ev.newValue, d.value)));
}

function bytesEqual(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isDotSegment(s) {
  return s === "." || s === "..";
}

// checkKey is INVALID_KEY for a key the module would refuse (core's
// checks and words), undefined for one that may go to the server.
function checkKey(type, id) {
  if (typeof type !== "string" || typeof id !== "string") {
    return new ActorStoreError("INVALID_KEY", "invalid key: type and id must be strings");
  }
  return keyError(type, id);
}

// A value that cannot be embedded in a CBOR body (it is not well-formed)
// goes as this stand-in, which the store refuses as INVALID_VALUE at the
// same operation (a text string that is not UTF-8): so the server still
// reports any earlier operation's error first, and the replica reports the
// value's own error in its place.
const STAND_IN = Uint8Array.of(0x61, 0xff);

// batchBody is POST /v1/batch's CBOR body: { ops: [{ op, type, id,
// value, expectedVersion }] }, values embedded as they are (standIns: the
// indices whose values go as STAND_IN).
function batchBody(ops, standIns) {
  const w = new CBORWriter().map(1).text("ops").array(ops.length);
  for (let i = 0; i < ops.length; i++) {
    const o = ops[i];
    const n = 3 + (o.op !== "delete" ? 1 : 0) + (o.op === "updateVersioned" ? 1 : 0);
    w.map(n).text("op").text(o.op).text("type").text(o.type).text("id").text(o.id);
    if (o.op !== "delete") w.text("value").raw(standIns?.[i]?.code === "INVALID_VALUE" ? STAND_IN : o.value);
    if (o.op === "updateVersioned") w.text("expectedVersion").uint(o.expected);
  }
  return w.bytes();
}


function newKey() {
  if (globalThis.crypto?.randomUUID) return globalThis.crypto.randomUUID();
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}


