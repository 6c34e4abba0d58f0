// Actor Store's JS host: drives actorstore.wasm (wasm/ABI.md) in pages and
// in Node with the API of DESIGN.md ("JS API"); types in actorstore.d.ts.
//
// Every call writes its request into the module's input buffer, calls one
// export and reads the result bytes back. Memory grows during calls, so the
// views on it are re-made whenever memory.buffer has changed, after every
// call; none is kept across one.

import { Encoder } from "cbor-x";
import { createWasi } from "./wasi.js";
import {
  PersistError, WriteQueue, RecordBuilder, singleRecord, environment, acquireLock, openDatabase, loadDatabase,
  deleteDatabase, nextTask, CHUNK_BYTES,
} from "./persist.js";

const ABI_VERSION = 1;
const MAX_BATCH_OPS = 100_000;
const DEFAULT_CHANGES_LIMIT = 1000;
const DEFAULT_MAX_VALUE_BYTES = 1 << 20;
const PAGE_BYTES = 4 << 20; // bytes of events or actors per changes/get_all call
const MAX_TYPE_BYTES = 256;
const MAX_ID_BYTES = 1024;
const INVALID_CBOR = Uint8Array.of(0xff); // a lone "break": never well-formed

// What this host calls (wasm/exports.txt lists them all).
const EXPORTS = [
  "memory", "_initialize", "abi_version", "configure", "input_buffer", "insert", "update",
  "update_versioned", "get", "delete", "get_all", "changes", "sequence_at_time", "stats", "batch",
];

// The exports of snapshots, restores and log replay (persistence).
const SNAPSHOT_EXPORTS = [
  "replay", "snapshot_begin", "snapshot_next", "snapshot_end", "restore_begin", "restore_write", "restore_end",
  "restore_abort",
];
const DEFAULT_SNAPSHOT_BYTES = 4 << 20; // log bytes since the snapshot that start a new one
const DEFAULT_SNAPSHOT_RECORDS = 20_000; // or log records
const SNAPSHOT_BYTES_PER_TASK = 4 * CHUNK_BYTES; // pulled per task while writes go on

const CODES = [
  "OK", "INVALID_KEY", "ALREADY_EXISTS", "NOT_FOUND", "VERSION_MISMATCH", "COMPACTED",
  "INVALID_VALUE", "VALUE_TOO_LARGE", "CLOSED", "STORE_FULL", "INVALID_ARGUMENT", "INTERNAL",
];
const OPERATIONS = [undefined, "insert", "update", "delete"];
const KIND = { insert: 1, update: 2, updateVersioned: 3, delete: 4 };

/** Every failure of the store is an ActorStoreError with a `code`. */
export class ActorStoreError extends Error {
  constructor(code, message, details) {
    super(message);
    this.name = "ActorStoreError";
    this.code = code;
    if (details) {
      for (const k of ["expected", "actual", "requested", "oldest", "index"]) {
        if (details[k] !== undefined) this[k] = details[k];
      }
    }
  }
}

/** CBOR bytes passed through untouched as a value. */
export class RawCBOR {
  constructor(bytes) {
    if (!(bytes instanceof Uint8Array)) throw new TypeError("RawCBOR takes a Uint8Array");
    this.bytes = bytes;
  }
}

// Plain CBOR that every host reads: objects as maps (no record extension,
// no tag 259), Uint8Array as byte strings; byte strings decoded as copies,
// never views into the module's memory.
const codec = new Encoder({
  useRecords: false,
  mapsAsObjects: true,
  useTag259ForMaps: false,
  tagUint8Array: false,
  copyBuffers: true,
});

/** Encodes a JS value to CBOR exactly as the store does for writes. */
export function encodeValue(value) {
  return codec.encode(value);
}

/** Decodes CBOR bytes exactly as the store does for reads. */
export function decodeValue(bytes) {
  let v;
  try {
    v = codec.decode(bytes);
  } catch (e) {
    v = decodeHarder(bytes, e);
  }
  // cbor-x reads every 8-byte integer as a BigInt, even a small one (Go
  // writes integers from 2^32 up that way). Integers are numbers here, as
  // in JSON, and BigInts only past 2^53 where a number would lose digits.
  // Only bytes holding such a head can hold such an integer.
  return bytes.indexOf(0x1b) >= 0 || bytes.indexOf(0x3b) >= 0 ? narrow(v) : v;
}

// Maps into JS Maps, for keys no object property can be.
const mapCodec = new Encoder({
  useRecords: false,
  mapsAsObjects: false,
  useTag259ForMaps: false,
  tagUint8Array: false,
  copyBuffers: true,
});

// decodeHarder reads what the store accepted (it is well-formed CBOR) but
// cbor-x refused: indefinite-length strings are made definite; maps with
// array or map keys become Maps; anything else JS cannot represent (say,
// tag 258 around a number) reads as a RawCBOR of its bytes, never throws.
function decodeHarder(bytes, err) {
  if (/indefinite/i.test(err.message)) {
    try {
      bytes = definiteStrings(bytes);
      return codec.decode(bytes);
    } catch {
      // fall through with the definite bytes
    }
  }
  try {
    return mapCodec.decode(bytes);
  } catch {
    return new RawCBOR(bytes.slice());
  }
}

// definiteStrings rewrites one well-formed CBOR item with every
// indefinite-length byte or text string made definite (its chunks joined);
// everything else is copied as is.
function definiteStrings(b) {
  const out = [];
  let pos = 0;
  const arg = (ai) => {
    if (ai < 24) return ai;
    const n = 1 << (ai - 24); // 1, 2, 4 or 8 bytes follow
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 256 + b[pos + i];
    pos += n;
    return v;
  };
  const head = (major, len) => {
    const m = major << 5;
    if (len < 24) out.push(Uint8Array.of(m | len));
    else if (len < 0x100) out.push(Uint8Array.of(m | 24, len));
    else if (len < 0x10000) out.push(Uint8Array.of(m | 25, len >> 8, len & 0xff));
    else out.push(Uint8Array.of(m | 26, len >>> 24, (len >> 16) & 0xff, (len >> 8) & 0xff, len & 0xff));
  };
  const item = () => {
    const start = pos;
    const ib = b[pos++];
    const major = ib >> 5;
    const ai = ib & 31;
    if ((major === 2 || major === 3) && ai === 31) {
      const chunks = [];
      let len = 0;
      while (b[pos] !== 0xff) {
        const n = arg(b[pos++] & 31);
        chunks.push(b.subarray(pos, pos + n));
        len += n;
        pos += n;
      }
      pos++;
      head(major, len);
      out.push(...chunks);
      return;
    }
    const v = ai === 31 ? -1 : arg(ai);
    if (major === 2 || major === 3) pos += v;
    out.push(b.subarray(start, pos));
    if (major === 4 || major === 5) {
      const per = major === 5 ? 2 : 1;
      if (v < 0) {
        while (b[pos] !== 0xff) item();
        out.push(b.subarray(pos, ++pos));
      } else {
        for (let i = 0; i < v * per; i++) item();
      }
    } else if (major === 6) {
      item();
    }
  };
  item();
  let n = 0;
  for (const c of out) n += c.length;
  const r = new Uint8Array(n);
  n = 0;
  for (const c of out) {
    r.set(c, n);
    n += c.length;
  }
  return r;
}

function narrow(v) {
  if (typeof v === "bigint") {
    return v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : v;
  }
  if (v === null || typeof v !== "object" || ArrayBuffer.isView(v) || v instanceof Date) return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = narrow(v[i]);
  } else if (v instanceof Map) {
    for (const [k, x] of v) v.set(k, narrow(x));
  } else {
    for (const k of Object.keys(v)) v[k] = narrow(v[k]);
  }
  return v;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

const utf8 = new TextEncoder();
const utf8d = new TextDecoder("utf-8", { fatal: false });
const isNode = typeof process !== "undefined" && !!process.versions?.node;

// Compiled modules by source URL, so that opening many stores compiles once.
const compiled = new Map();

async function compileFrom(src) {
  if (src instanceof WebAssembly.Module) return src;
  if (src === undefined) src = new URL("./actorstore.wasm", import.meta.url);
  if (src instanceof ArrayBuffer) return WebAssembly.compile(src);
  if (ArrayBuffer.isView(src)) return WebAssembly.compile(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
  if (typeof src === "string" || src instanceof URL) {
    const key = String(src);
    let p = compiled.get(key);
    if (!p) {
      p = compileURL(src);
      compiled.set(key, p);
      p.catch(() => compiled.delete(key));
    }
    return p;
  }
  if (src && typeof src.then === "function") src = await src;
  if (typeof Response !== "undefined" && src instanceof Response) return compileResponse(src);
  throw new ActorStoreError("INVALID_ARGUMENT",
    "invalid argument: wasm must be a URL, a path, a Response, bytes or a WebAssembly.Module");
}

async function compileURL(src) {
  if (isNode) {
    let url;
    try {
      url = src instanceof URL ? src : new URL(src);
    } catch {
      url = undefined; // a file system path
    }
    if (!url || url.protocol === "file:") {
      const { readFile } = await import("node:fs/promises");
      return WebAssembly.compile(await readFile(url ?? src));
    }
  }
  return compileResponse(await fetch(src));
}

async function compileResponse(res) {
  if (!res.ok) throw new Error(`fetching ${res.url || "the module"}: HTTP ${res.status}`);
  const type = res.headers.get("content-type") || "";
  if (WebAssembly.compileStreaming && type.split(";")[0].trim() === "application/wasm") {
    return WebAssembly.compileStreaming(res);
  }
  return WebAssembly.compile(await res.arrayBuffer());
}

function optionInt(options, name) {
  const v = options[name];
  if (v === undefined || v === null) return 0n;
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new ActorStoreError("INVALID_ARGUMENT", `invalid argument: ${name} must be a non-negative integer, got ${v}`);
  }
  return BigInt(v);
}

function closedError() {
  return new ActorStoreError("CLOSED", "closed: the store is closed");
}

// fromPersist turns persist.js's errors into ActorStoreErrors.
function fromPersist(e) {
  return e instanceof PersistError ? new ActorStoreError(e.code, e.message) : e;
}

// persistOptions checks options.persist: undefined, or { name, snapshotBytes, snapshotRecords }.
function persistOptions(p) {
  if (p === undefined || p === null || p === false) return null;
  if (typeof p !== "object") {
    throw new ActorStoreError("INVALID_ARGUMENT", "invalid argument: persist must be an object { name }");
  }
  if (typeof p.name !== "string" || p.name === "") {
    throw new ActorStoreError("INVALID_ARGUMENT", "invalid argument: persist.name must be a non-empty string");
  }
  const out = { name: p.name, snapshotBytes: DEFAULT_SNAPSHOT_BYTES, snapshotRecords: DEFAULT_SNAPSHOT_RECORDS };
  for (const k of ["snapshotBytes", "snapshotRecords"]) {
    if (p[k] === undefined) continue;
    if (!Number.isSafeInteger(p[k]) || p[k] < 1) {
      throw new ActorStoreError("INVALID_ARGUMENT", `invalid argument: persist.${k} must be a positive integer, got ${p[k]}`);
    }
    out[k] = p[k];
  }
  return out;
}

// Milliseconds (or a Date) to int64 nanoseconds, clamped as the Go host does.
const MIN_NS = -(1n << 63n);
const MAX_NS = (1n << 63n) - 1n;
function msToNs(t) {
  const ms = typeof t === "number" ? t : t instanceof Date ? t.getTime() : NaN;
  if (Number.isNaN(ms)) throw new ActorStoreError("INVALID_ARGUMENT", `invalid argument: the clock gave ${t}, not a time`);
  if (ms >= 9.3e12) return MAX_NS;
  if (ms <= -9.3e12) return MIN_NS;
  const whole = Math.floor(ms);
  let ns = BigInt(whole) * 1000000n;
  if (whole !== ms) ns += BigInt(Math.round((ms - whole) * 1e6));
  return ns < MIN_NS ? MIN_NS : ns > MAX_NS ? MAX_NS : ns;
}

function checkIndex(name, v) {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new ActorStoreError("INVALID_ARGUMENT", `invalid argument: ${name} must be a non-negative integer, got ${v}`);
  }
}

// keyError mirrors the core's key rules on JS strings; used only where a
// request cannot be sent to the module as it is (see writeValue).
function keyError(type, id) {
  for (const [what, s, max] of [["type", type, MAX_TYPE_BYTES], ["id", id, MAX_ID_BYTES]]) {
    if (s === "") return new ActorStoreError("INVALID_KEY", `invalid key: empty ${what}`);
    if (!s.isWellFormed()) return new ActorStoreError("INVALID_KEY", `invalid key: ${what} is not valid Unicode (a lone surrogate)`);
    const n = utf8.encode(s).length;
    if (n > max) return new ActorStoreError("INVALID_KEY", `invalid key: ${what} is ${n} bytes, limit ${max}`);
  }
  return undefined;
}

export class ActorStore {
  #ex; // the instance's exports
  #memory;
  #buf = null; // memory.buffer the views below were made on
  #u8;
  #dv;
  #in = 0; // input buffer address and capacity
  #inCap = 0;
  #clock;
  #raw;
  #maxValueBytes;
  #closed = false;
  #calling = false; // inside an export: what is thrown now is fatal
  #dead = null; // the trap that killed the instance
  #subs = new Set();
  #pumping = false;
  #epoch = 0; // counts restores: subscriptions end at a new one
  #persist = null; // persistence state (#openPersisted), null in memory
  #storageError = null; // the failed IndexedDB write that closed the store
  #closing = null; // close()'s promise

  constructor(token, instance, options) {
    if (token !== OPEN) throw new TypeError("use ActorStore.open()");
    this.#ex = instance.exports;
    this.#memory = instance.exports.memory;
    this.#clock = options.clock;
    this.#raw = !!options.raw;
    this.#maxValueBytes = options.maxValueBytes || DEFAULT_MAX_VALUE_BYTES;
    this.#view();
  }

  /** Compiles (or reuses) the module, instantiates it and opens a store. */
  static async open(options = {}) {
    if (options === null || typeof options !== "object") {
      throw new ActorStoreError("INVALID_ARGUMENT", "invalid argument: open takes an options object");
    }
    const config = [
      optionInt(options, "replayBufferSize"), optionInt(options, "replayBufferBytes"),
      optionInt(options, "maxValueBytes"), optionInt(options, "maxDataBytes"),
    ];
    if (options.clock !== undefined && typeof options.clock !== "function") {
      throw new ActorStoreError("INVALID_ARGUMENT", "invalid argument: clock must be a function");
    }
    const persist = persistOptions(options.persist);
    let env;
    if (persist) {
      env = environment();
      if (env instanceof PersistError) throw fromPersist(env);
    }
    let module;
    try {
      module = await compileFrom(options.wasm);
    } catch (e) {
      if (e instanceof ActorStoreError) throw e;
      throw new ActorStoreError("INVALID_ARGUMENT", `invalid argument: cannot load actorstore.wasm: ${e.message}`, undefined);
    }
    let instance;
    try {
      const wasi = createWasi();
      instance = await WebAssembly.instantiate(module, { wasi_snapshot_preview1: wasi.imports });
      const missing = EXPORTS.filter((name) => typeof instance.exports[name] !== (name === "memory" ? "object" : "function"));
      if (missing.length) throw new Error(`not an Actor Store module: no export ${missing.join(", ")}`);
      wasi.bind(instance.exports.memory);
      instance.exports._initialize();
    } catch (e) {
      throw new ActorStoreError("INVALID_ARGUMENT", `invalid argument: cannot instantiate actorstore.wasm: ${e?.message ?? e}`);
    }
    const v = instance.exports.abi_version();
    if (v !== ABI_VERSION) {
      throw new ActorStoreError("INVALID_ARGUMENT", `invalid argument: module ABI version ${v}, this host speaks ${ABI_VERSION}`);
    }
    if (persist) {
      const missing = SNAPSHOT_EXPORTS.filter((name) => typeof instance.exports[name] !== "function");
      if (missing.length) {
        throw new ActorStoreError("INVALID_ARGUMENT", `invalid argument: this actorstore.wasm cannot persist: no export ${missing.join(", ")}`);
      }
    }
    const store = new ActorStore(OPEN, instance, options);
    store.#configure(config);
    if (persist) await store.#openPersisted(persist, env);
    return store;
  }

  // #openPersisted takes the name's lock, rebuilds the store from its
  // database (the snapshot, then the log after it) and makes it persist
  // every mutation from now on.
  async #openPersisted(persist, env) {
    const { name } = persist;
    let release;
    let db;
    try {
      release = await acquireLock(env.locks, name);
      db = await openDatabase(env.idb, name);
      const loaded = await loadDatabase(db, name);
      const state = {
        name,
        queue: null,
        release,
        generation: loaded.generation,
        logBytes: 0,
        logRecords: 0,
        snapshotBytes: persist.snapshotBytes,
        snapshotRecords: persist.snapshotRecords,
        compaction: null, // { seq, chunks, coveredBytes, coveredRecords } while a snapshot is pulled
        compactScheduled: false,
        compactionError: null,
      };
      this.#rebuild(loaded, state);
      state.queue = new WriteQueue(db, name, (err) => this.#storageFailed(err));
      this.#persist = state;
      this.#maybeCompact();
    } catch (e) {
      db?.close();
      release?.();
      this.#shutdown();
      throw fromPersist(e);
    }
  }

  // #rebuild restores the persisted snapshot and replays the log after it.
  #rebuild(loaded, state) {
    const where = `IndexedDB database actorstore:${state.name}`;
    // A persisted store larger than this open's maxDataBytes or
    // maxValueBytes allow is not corrupt: say so with the module's code.
    const tooBig = (e) => (e.code === "STORE_FULL" || e.code === "VALUE_TOO_LARGE") &&
      new ActorStoreError(e.code, `${e.message} (${where}: the persisted store does not fit this open's maxDataBytes or maxValueBytes)`);
    if (loaded.chunks.length) {
      let seq;
      try {
        ({ seq } = this.#restoreStream(loaded.chunks));
      } catch (e) {
        if (!(e instanceof ActorStoreError) || this.#closed) throw this.#fail(e);
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
        this.#ensureInput(rec.length);
        this.#u8.set(rec, this.#in);
        this.#status(this.#call("replay", rec.length));
      } catch (e) {
        if (!(e instanceof ActorStoreError) || this.#closed) throw this.#fail(e);
        throw tooBig(e) || new ActorStoreError("CORRUPT",
          `corrupt: ${where}: the log record at sequence ${keys[i]} cannot be replayed (${e.code}): ${e.message}`);
      }
      state.logBytes += rec.length;
      state.logRecords++;
    }
  }

  #configure(config) {
    this.#calling = true;
    const r = this.#ex.configure(...config);
    this.#view();
    this.#status(r);
  }

  // #call calls an export by name and re-makes the views.
  #call(name, ...args) {
    this.#calling = true;
    const r = this.#ex[name](...args);
    this.#view();
    return r;
  }

  // ---- memory ------------------------------------------------------------

  #view() {
    this.#calling = false;
    const buf = this.#memory.buffer;
    if (buf !== this.#buf) {
      this.#buf = buf;
      this.#u8 = new Uint8Array(buf);
      this.#dv = new DataView(buf);
    }
  }

  // #ensureInput makes the input buffer hold size bytes, keeping its first
  // `keep` bytes (the module's buffer does not keep them when it grows).
  #ensureInput(size, keep = 0) {
    if (size <= this.#inCap) return;
    const saved = keep ? this.#u8.slice(this.#in, this.#in + keep) : null;
    let cap = Math.max(size, this.#inCap * 2, 4096);
    this.#calling = true;
    let p = this.#ex.input_buffer(cap);
    if (p === 0 && cap > size) {
      cap = size;
      this.#calling = true;
      p = this.#ex.input_buffer(size);
    }
    this.#view();
    if (p === 0) {
      throw new ActorStoreError("INVALID_ARGUMENT", `invalid argument: a request of ${size} bytes is over the module's limit`);
    }
    this.#in = p;
    this.#inCap = cap;
    if (saved) this.#u8.set(saved, p);
  }

  // #str writes s at addr (room for 3 bytes per UTF-16 unit), returns its
  // UTF-8 length. ASCII is copied directly; other text checks for lone
  // surrogates, which UTF-8 cannot hold (TextEncoder would replace them).
  #str(s, addr) {
    const u8 = this.#u8;
    const n = s.length;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      u8[addr + i] = c;
    }
    if (i === n) return n;
    if (!s.isWellFormed()) {
      throw new ActorStoreError("INVALID_KEY", "invalid key: not valid Unicode (a lone surrogate)");
    }
    return i + utf8.encodeInto(s.slice(i), u8.subarray(addr + i, addr + 3 * n)).written;
  }

  // #readStr reads n UTF-8 bytes at p.
  #readStr(p, n) {
    const u8 = this.#u8;
    if (n <= 32) {
      let s = "";
      for (let i = 0; i < n; i++) {
        const c = u8[p + i];
        if (c >= 0x80) return utf8d.decode(u8.subarray(p, p + n));
        s += String.fromCharCode(c);
      }
      return s;
    }
    return utf8d.decode(u8.subarray(p, p + n));
  }

  #u64(p) {
    const dv = this.#dv;
    return dv.getUint32(p, true) + dv.getUint32(p + 4, true) * 4294967296;
  }

  // #date reads an i64 nanosecond timestamp as a Date (millisecond floor).
  #date(p) {
    const ns = this.#dv.getBigInt64(p, true);
    let ms = ns / 1000000n;
    if (ns < 0n && ms * 1000000n !== ns) ms -= 1n;
    return new Date(Number(ms));
  }

  #value(p, n) {
    const bytes = this.#u8.subarray(p, p + n);
    return this.#raw ? bytes.slice() : decodeValue(bytes);
  }

  // ---- requests ----------------------------------------------------------

  #check() {
    if (this.#closed) {
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
  }

  #now() {
    if (!this.#clock) return msToNs(Date.now());
    let t;
    try {
      t = this.#clock();
    } catch (e) {
      throw new ActorStoreError("INVALID_ARGUMENT", `invalid argument: the clock threw: ${e?.message ?? e}`);
    }
    return msToNs(t);
  }

  // #encode turns a value into CBOR bytes, or an error to report if the
  // module finds nothing earlier to complain about (see #send).
  #encode(value) {
    if (value instanceof RawCBOR) return value.bytes;
    if (this.#raw) {
      if (value instanceof Uint8Array) return value;
      return new ActorStoreError("INVALID_VALUE", "invalid value: a raw store takes Uint8Array or RawCBOR values");
    }
    try {
      return codec.encode(value);
    } catch (e) {
      return new ActorStoreError("INVALID_VALUE", `invalid value: cannot encode as CBOR: ${e.message}`);
    }
  }

  // #keyValue writes type ‖ id ‖ value at the input buffer's offset `at`
  // and returns the three lengths in #lens.
  //
  // What the module must not see — a value that cannot be encoded or is
  // larger than maxValueBytes, a key that is not a string, is certainly too
  // long, or holds a lone surrogate — is replaced by a stand-in the module
  // refuses with the same code: an empty key (INVALID_KEY) or one invalid
  // CBOR byte (INVALID_VALUE). So the module still reports any earlier
  // error in its own order (key before value, earlier batch operations
  // first) and fails there at the latest. #substituted keeps the real
  // error and #substitutedAt its batch operation (-1 outside a batch).
  #lens = [0, 0, 0];
  #substituted = null;
  #substitutedAt = -1;
  #standIn = ""; // the code the module gives the stand-in
  #substitute(err, opIndex, standIn) {
    if (!this.#substituted) {
      this.#substituted = err;
      this.#substitutedAt = opIndex;
      this.#standIn = standIn;
    }
  }

  #keyValue(at, type, id, value, opIndex = -1) {
    let keyErr = null;
    if (typeof type !== "string" || typeof id !== "string") {
      keyErr = new ActorStoreError("INVALID_KEY", "invalid key: type and id must be strings");
    } else if (type.length > MAX_TYPE_BYTES || id.length > MAX_ID_BYTES) {
      // Certainly too long: UTF-8 takes at least a byte per UTF-16 unit.
      keyErr = keyError(type, id);
    }
    if (keyErr) {
      this.#substitute(keyErr, opIndex, "INVALID_KEY");
      type = id = "";
      value = NO_VALUE;
    }
    let bytes = value === NO_VALUE ? null : this.#encode(value);
    if (bytes instanceof ActorStoreError || (bytes && bytes.length > this.#maxValueBytes)) {
      if (!(bytes instanceof ActorStoreError)) {
        bytes = new ActorStoreError("VALUE_TOO_LARGE",
          `value too large: ${bytes.length} bytes, limit ${this.#maxValueBytes}`);
      }
      this.#substitute(bytes, opIndex, "INVALID_VALUE");
      bytes = INVALID_CBOR;
    }
    const vlen = bytes ? bytes.length : 0;
    this.#ensureInput(at + 3 * (type.length + id.length) + vlen, at);
    const base = this.#in + at;
    let tl, il;
    try {
      tl = this.#str(type, base);
      il = this.#str(id, base + tl);
    } catch (e) {
      this.#substitute(e, opIndex, "INVALID_KEY"); // a lone surrogate
      tl = il = 0;
    }
    if (bytes) this.#u8.set(bytes, base + tl + il);
    const lens = this.#lens;
    lens[0] = tl;
    lens[1] = il;
    lens[2] = vlen;
    return lens;
  }

  // #status returns the address of a successful result's body, or throws
  // its error. r is a packed result: ptr << 32 | len.
  #status(r) {
    const p = Number(r >> 32n);
    const u8 = this.#u8;
    if (u8[p] === 0) {
      this.#substituted = null;
      return p + 1;
    }
    const sub = this.#substituted;
    this.#substituted = null;
    throw this.#error(p, sub);
  }

  #error(p, substituted) {
    const dv = this.#dv;
    const code = CODES[this.#u8[p]] ?? "INTERNAL";
    const index = dv.getInt32(p + 33, true);
    const message = this.#readStr(p + 41, dv.getUint32(p + 37, true));
    if (substituted && index === this.#substitutedAt && code === this.#standIn) {
      // The module stopped at the stand-in: report the real error.
      if (index >= 0) substituted.index = index;
      return substituted;
    }
    const details = {};
    if (code === "VERSION_MISMATCH") {
      details.expected = this.#u64(p + 1);
      details.actual = this.#u64(p + 9);
    } else if (code === "COMPACTED") {
      details.requested = this.#u64(p + 17);
      details.oldest = this.#u64(p + 25);
    }
    if (index >= 0) details.index = index;
    return new ActorStoreError(code, message, details);
  }

  // #fail turns anything thrown into the error to report. What is thrown
  // inside an export — a trap, a stack overflow, a failing import — leaves
  // the instance unusable: the store closes for good and says why. Errors
  // outside one (a bug in this file) leave it as it was.
  #fail(e) {
    this.#substituted = null;
    if (e instanceof ActorStoreError) return e;
    if (this.#closed) return closedError();
    if (!this.#calling) {
      return new ActorStoreError("INTERNAL", `internal: ${e?.message ?? e}`);
    }
    this.#dead = e;
    this.#shutdown();
    return new ActorStoreError("INTERNAL", `internal: actorstore.wasm failed (${e?.message ?? e}); its in-memory state is lost`);
  }

  #notify() {
    if (this.#subs.size !== 0 && !this.#pumping) {
      this.#pumping = true;
      queueMicrotask(() => this.#pump());
    }
  }

  #write(kind, type, id, value, expected) {
    this.#check();
    try {
      const ts = this.#now();
      const [tl, il, vl] = this.#keyValue(0, type, id, value);
      let r;
      if (kind === KIND.updateVersioned) {
        if (!Number.isSafeInteger(expected) || expected < 0) {
          throw new ActorStoreError("INVALID_ARGUMENT", `invalid argument: expected version must be a non-negative integer, got ${expected}`);
        }
        this.#calling = true;
        r = this.#ex.update_versioned(tl, il, vl, BigInt(expected), ts);
      } else if (kind === KIND.insert) {
        this.#calling = true;
        r = this.#ex.insert(tl, il, vl, ts);
      } else {
        this.#calling = true;
        r = this.#ex.update(tl, il, vl, ts);
      }
      this.#view();
      const p = this.#status(r);
      if (this.#persist) {
        const seq = this.#u64(p + 8);
        this.#log(seq, singleRecord(seq, ts, kind, this.#u8, this.#in, tl, il, vl, expected));
      }
      this.#notify();
      return { type, id, value: this.#written(value), version: this.#u64(p) };
    } catch (e) {
      throw this.#fail(e);
    }
  }

  // #written is the value of a written actor as the caller sees it: what
  // they passed, except that raw CBOR reads back in the store's mode.
  #written(value) {
    if (value instanceof RawCBOR) return this.#raw ? value.bytes.slice() : decodeValue(value.bytes);
    return value;
  }

  // ---- the API -----------------------------------------------------------

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

  /** The actor, or undefined. */
  get(type, id) {
    this.#check();
    try {
      const [tl, il] = this.#keyValue(0, type, id, NO_VALUE);
      this.#calling = true;
      const r = this.#ex.get(tl, il);
      this.#view();
      const p = this.#status(r);
      if (this.#u8[p] === 0) return undefined;
      return { type, id, value: this.#value(p + 13, this.#dv.getUint32(p + 9, true)), version: this.#u64(p + 1) };
    } catch (e) {
      throw this.#fail(e);
    }
  }

  /** Removes an actor and returns it, or undefined when absent (no event). */
  delete(type, id) {
    this.#check();
    try {
      const ts = this.#now();
      const [tl, il] = this.#keyValue(0, type, id, NO_VALUE);
      this.#calling = true;
      const r = this.#ex.delete(tl, il, ts);
      this.#view();
      const p = this.#status(r);
      if (this.#u8[p] === 0) return undefined;
      if (this.#persist) {
        const seq = this.#u64(p + 9);
        this.#log(seq, singleRecord(seq, ts, KIND.delete, this.#u8, this.#in, tl, il, 0));
      }
      this.#notify();
      return { type, id, value: this.#value(p + 21, this.#dv.getUint32(p + 17, true)), version: this.#u64(p + 1) };
    } catch (e) {
      throw this.#fail(e);
    }
  }

  /** Every actor of the type, ordered by id (UTF-8 bytes). */
  getAll(type) {
    this.#check();
    try {
      const out = [];
      let after = "";
      for (;;) {
        const [tl, al] = this.#keyValue(0, type, after, NO_VALUE);
        this.#calling = true;
        const r = this.#ex.get_all(tl, al, PAGE_BYTES);
        this.#view();
        let p = this.#status(r);
        const more = this.#u8[p];
        const count = this.#dv.getUint32(p + 1, true);
        p += 5;
        for (let i = 0; i < count; i++) {
          const version = this.#u64(p);
          const idLen = this.#dv.getUint32(p + 8, true);
          const valueLen = this.#dv.getUint32(p + 12, true);
          const id = this.#readStr(p + 16, idLen);
          out.push({ type, id, value: this.#value(p + 16 + idLen, valueLen), version });
          p += 16 + idLen + valueLen;
          after = id;
        }
        if (!more || count === 0) return out;
      }
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
        throw new ActorStoreError("INVALID_ARGUMENT", `invalid argument: limit must be a non-negative integer, got ${limit}`);
      }
      return this.#changes(since, options.actorType ?? "", options.keyPrefix ?? "", limit || DEFAULT_CHANGES_LIMIT);
    } catch (e) {
      throw this.#fail(e);
    }
  }

  #changes(since, actorType, keyPrefix, limit) {
    if (typeof actorType !== "string" || typeof keyPrefix !== "string") {
      throw new ActorStoreError("INVALID_ARGUMENT", "invalid argument: actorType and keyPrefix must be strings");
    }
    this.#ensureInput(3 * (actorType.length + keyPrefix.length));
    const tl = this.#str(actorType, this.#in);
    const pl = this.#str(keyPrefix, this.#in + tl);
    this.#calling = true;
    const r = this.#ex.changes(BigInt(since), Math.min(limit, 0x7fffffff), tl, pl, PAGE_BYTES);
    this.#view();
    let p = this.#status(r);
    const dv = this.#dv;
    const next = this.#u64(p);
    const count = dv.getUint32(p + 8, true);
    p += 12;
    const events = new Array(count);
    for (let i = 0; i < count; i++) {
      const flags = this.#u8[p + 9];
      const typeLen = dv.getUint32(p + 34, true);
      const idLen = dv.getUint32(p + 38, true);
      const prevLen = dv.getUint32(p + 42, true);
      const newLen = dv.getUint32(p + 46, true);
      let q = p + 50;
      const actorType = this.#readStr(q, typeLen);
      q += typeLen;
      const actorId = this.#readStr(q, idLen);
      q += idLen;
      const hasPrev = (flags & 1) !== 0;
      const hasNew = (flags & 2) !== 0;
      events[i] = {
        sequence: this.#u64(p),
        operation: OPERATIONS[this.#u8[p + 8]],
        actorType,
        actorId,
        previousValue: hasPrev ? this.#value(q, prevLen) : undefined,
        previousVersion: hasPrev ? this.#u64(p + 18) : undefined,
        newValue: hasNew ? this.#value(q + prevLen, newLen) : undefined,
        newVersion: hasNew ? this.#u64(p + 26) : undefined,
        timestamp: this.#date(p + 10),
      };
      p = q + prevLen + newLen;
    }
    return { events, next };
  }

  /** Applies the operations atomically, in order: all or none. */
  batch(ops) {
    this.#check();
    try {
      if (!Array.isArray(ops)) throw new ActorStoreError("INVALID_ARGUMENT", "invalid argument: batch takes an array of operations");
      if (ops.length > MAX_BATCH_OPS) {
        throw new ActorStoreError("INVALID_ARGUMENT", `invalid argument: batch of ${ops.length} operations, limit ${MAX_BATCH_OPS}`);
      }
      const ts = this.#now();
      let size = 0;
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i];
        let kind = (op && KIND[op.op]) || 0;
        let expected = 0;
        if (!kind) {
          // Kind 0 is the module's INVALID_ARGUMENT, in operation order.
          this.#substitute(new ActorStoreError("INVALID_ARGUMENT",
            `invalid argument: unknown batch operation ${JSON.stringify(op?.op)}`), i, "INVALID_ARGUMENT");
        } else if (kind === KIND.updateVersioned) {
          expected = op.expected;
          if (!Number.isSafeInteger(expected) || expected < 0) {
            this.#substitute(new ActorStoreError("INVALID_ARGUMENT",
              `invalid argument: expected version must be a non-negative integer, got ${expected}`), i, "INVALID_ARGUMENT");
            kind = 0;
            expected = 0;
          }
        }
        const [tl, il, vl] = kind === 0
          ? this.#keyValue(size + 21, "", "", NO_VALUE, i)
          : this.#keyValue(size + 21, op.type, op.id, kind === KIND.delete ? NO_VALUE : op.value, i);
        const h = this.#in + size;
        const dv = this.#dv;
        this.#u8[h] = kind;
        dv.setUint32(h + 1, tl, true);
        dv.setUint32(h + 5, il, true);
        dv.setUint32(h + 9, vl, true);
        dv.setUint32(h + 13, expected % 4294967296, true);
        dv.setUint32(h + 17, Math.floor(expected / 4294967296), true);
        size += 21 + tl + il + vl;
      }
      this.#calling = true;
      const r = this.#ex.batch(ops.length, size, ts);
      this.#view();
      let p = this.#status(r);
      const count = this.#dv.getUint32(p, true);
      p += 4;
      if (this.#persist) this.#logBatch(count, p, ts);
      const out = new Array(count);
      for (let i = 0; i < count; i++) {
        const op = ops[i];
        const found = this.#u8[p] === 1;
        const version = this.#u64(p + 1);
        const valueLen = this.#dv.getUint32(p + 17, true);
        let actor;
        if (op.op === "delete") {
          actor = found ? { type: op.type, id: op.id, value: this.#value(p + 21, valueLen), version } : undefined;
        } else {
          actor = { type: op.type, id: op.id, value: this.#written(op.value), version };
        }
        out[i] = { actor, found };
        p += 21 + valueLen;
      }
      this.#notify();
      return out;
    } catch (e) {
      throw this.#fail(e);
    }
  }

  /** Counters of the store and its change feed. */
  stats() {
    this.#check();
    try {
      this.#calling = true;
      const r = this.#ex.stats();
      this.#view();
      const p = this.#status(r);
      return {
        totalEvents: this.#u64(p),
        currentSequence: this.#u64(p + 8),
        replayBufferSize: this.#u64(p + 24),
        activeSubscriptions: this.#subs.size,
        eventsDropped: this.#u64(p + 40),
        oldestSequence: this.#u64(p + 16),
        replayBufferBytes: this.#u64(p + 32),
        actors: this.#u64(p + 48),
        dataBytes: this.#u64(p + 56),
      };
    } catch (e) {
      throw this.#fail(e);
    }
  }

  // ---- subscriptions -----------------------------------------------------
  //
  // A subscription is a cursor over the replay buffer, like the Go host's:
  // it holds no events itself, so writers never wait for it. After every
  // mutation one microtask ("pump") reads each callback subscription's
  // events through #changes and delivers them; watchers (async iterators)
  // read on demand and are only woken.

  #subscription(options) {
    if (options === null || typeof options !== "object") {
      throw new ActorStoreError("INVALID_ARGUMENT", "invalid argument: subscribe takes an options object");
    }
    const { from = "beginning", actorType = "", keyPrefix = "" } = options;
    if (typeof actorType !== "string" || typeof keyPrefix !== "string") {
      throw new ActorStoreError("INVALID_ARGUMENT", "invalid argument: actorType and keyPrefix must be strings");
    }
    let cursor;
    if (from === "beginning") {
      cursor = this.stats().oldestSequence - 1;
    } else if (from === "now") {
      cursor = this.stats().currentSequence;
    } else if (from && typeof from === "object" && "sequence" in from) {
      checkIndex("from.sequence", from.sequence);
      cursor = Math.max(from.sequence, 1) - 1;
    } else if (from && typeof from === "object" && "time" in from) {
      this.#calling = true;
      const r = this.#ex.sequence_at_time(msToNs(from.time));
      this.#view();
      cursor = Number(r) - 1;
    } else {
      throw new ActorStoreError("INVALID_ARGUMENT",
        `invalid argument: from must be "beginning", "now", { sequence } or { time }, got ${JSON.stringify(from)}`);
    }
    return { cursor, actorType, keyPrefix, epoch: this.#epoch, onEvent: null, onError: null, wake: null };
  }

  /**
   * Delivers matching events to onEvent asynchronously, in order, exactly
   * once; a subscriber that falls behind the replay buffer gets COMPACTED
   * through onError and ends. Returns the function that ends it.
   */
  subscribe(options, onEvent, onError) {
    this.#check();
    if (typeof onEvent !== "function") {
      throw new ActorStoreError("INVALID_ARGUMENT", "invalid argument: subscribe needs an onEvent function");
    }
    let sub;
    try {
      sub = this.#subscription(options);
    } catch (e) {
      throw this.#fail(e);
    }
    sub.onEvent = onEvent;
    sub.onError = onError ?? ((err) => console.error("actorstore subscription ended:", err));
    this.#subs.add(sub);
    this.#pumping = true;
    queueMicrotask(() => this.#pump());
    return () => {
      this.#subs.delete(sub);
    };
  }

  #pump() {
    this.#pumping = false;
    for (const sub of this.#subs) {
      if (sub.onEvent) this.#deliver(sub);
      else this.#wake(sub);
    }
  }

  // A restore replaced the history a subscription was reading.
  #restoredError(sub) {
    if (sub.epoch === this.#epoch) return null;
    return new ActorStoreError("RESTORED", "the store was restored from a snapshot: subscribe again");
  }

  #deliver(sub) {
    while (!this.#closed && this.#subs.has(sub)) {
      let page;
      try {
        const restored = this.#restoredError(sub);
        if (restored) throw restored;
        page = this.#changes(sub.cursor, sub.actorType, sub.keyPrefix, DEFAULT_CHANGES_LIMIT);
      } catch (e) {
        this.#subs.delete(sub);
        const err = this.#fail(e);
        try {
          sub.onError(err);
        } catch (e2) {
          reportError(e2);
        }
        return;
      }
      if (page.next === sub.cursor) return;
      sub.cursor = page.next;
      for (const ev of page.events) {
        if (!this.#subs.has(sub)) return;
        try {
          sub.onEvent(ev);
        } catch (e) {
          reportError(e); // a throwing callback does not stop the feed
        }
      }
    }
  }

  #wake(sub) {
    const w = sub.wake;
    if (w) {
      sub.wake = null;
      w();
    }
  }

  /** The same events as an async iterator; `break` (return) ends it. */
  watch(options = {}) {
    this.#check();
    let sub;
    try {
      sub = this.#subscription(options);
    } catch (e) {
      throw this.#fail(e);
    }
    this.#subs.add(sub);
    const store = this;
    let buffered = [];
    let done = false;
    const end = () => {
      done = true;
      buffered = [];
      store.#subs.delete(sub);
      store.#wake(sub);
    };
    return {
      [Symbol.asyncIterator]() {
        return this;
      },
      async next() {
        for (;;) {
          if (buffered.length) return { value: buffered.shift(), done: false };
          if (done || store.#closed) {
            end();
            return { value: undefined, done: true };
          }
          let page;
          try {
            const restored = store.#restoredError(sub);
            if (restored) throw restored;
            page = store.#changes(sub.cursor, sub.actorType, sub.keyPrefix, DEFAULT_CHANGES_LIMIT);
          } catch (e) {
            end();
            throw store.#fail(e);
          }
          if (page.next !== sub.cursor) {
            sub.cursor = page.next;
            buffered = page.events;
            continue;
          }
          await new Promise((resolve) => {
            sub.wake = resolve;
          });
        }
      },
      async return(value) {
        end();
        return { value, done: true };
      },
      async throw(err) {
        end();
        throw err;
      },
    };
  }

  // ---- persistence -------------------------------------------------------
  //
  // A persisted store queues one mutation record per mutation that made an
  // event (persist.js writes them in batched IndexedDB transactions). When
  // the log since the snapshot passes persist.snapshotBytes or
  // persist.snapshotRecords, a snapshot is taken (copy-on-write in the
  // module) and pulled out a few chunks per task while writes go on; the
  // queue then writes it, switches the meta record and drops the older
  // snapshot and the log records it covers, in one transaction.

  #log(firstSeq, rec) {
    const ps = this.#persist;
    ps.queue.record(firstSeq, rec);
    ps.logBytes += rec.length;
    ps.logRecords++;
    this.#maybeCompact();
  }

  // #logBatch queues the record of a successful batch of count operations
  // (results at p), unless it made no event (only deletes of absent actors).
  #logBatch(count, p, ts) {
    const u8 = this.#u8;
    const dv = this.#dv;
    let firstSeq = 0;
    for (let i = 0, q = p; i < count; i++) {
      firstSeq = this.#u64(q + 9);
      if (firstSeq) break;
      q += 21 + dv.getUint32(q + 17, true);
    }
    if (!firstSeq) return;
    const b = new RecordBuilder(u8);
    let h = this.#in;
    for (let i = 0; i < count; i++) {
      const tl = dv.getUint32(h + 1, true);
      const il = dv.getUint32(h + 5, true);
      const vl = dv.getUint32(h + 9, true);
      b.op(u8[h], h + 21, tl, il, vl, dv.getUint32(h + 13, true) + dv.getUint32(h + 17, true) * 4294967296);
      h += 21 + tl + il + vl;
    }
    this.#log(firstSeq, b.finish(firstSeq, ts));
  }

  #maybeCompact() {
    const ps = this.#persist;
    if (!ps || ps.compaction || ps.compactScheduled || ps.compactionError || this.#closed) return;
    if (!this.#compactionDue()) return;
    ps.compactScheduled = true;
    nextTask(() => {
      if (!ps.compactScheduled || this.#closed || ps.compaction) return; // begun by #drainCompaction
      const c = this.#startCompaction();
      if (c) nextTask(() => this.#compactStep(c));
    });
  }

  #compactionDue() {
    const ps = this.#persist;
    return ps.logBytes >= ps.snapshotBytes || ps.logRecords >= ps.snapshotRecords;
  }

  // #startCompaction begins the module's snapshot of a compaction.
  #startCompaction() {
    const ps = this.#persist;
    ps.compactScheduled = false;
    try {
      const c = this.#beginSnapshot();
      c.coveredBytes = ps.logBytes;
      c.coveredRecords = ps.logRecords;
      ps.compaction = c;
      return c;
    } catch (e) {
      this.#compactionFailed(e);
      return null;
    }
  }

  #compactStep(c) {
    const ps = this.#persist;
    if (ps.compaction !== c || this.#closed) return;
    try {
      if (this.#pullSnapshot(c, SNAPSHOT_BYTES_PER_TASK)) this.#compactDone(c);
      else nextTask(() => this.#compactStep(c));
    } catch (e) {
      this.#compactionFailed(e);
    }
  }

  #compactDone(c) {
    const ps = this.#persist;
    ps.compaction = null;
    ps.queue.snapshot(++ps.generation, c.seq, c.chunks, false);
    ps.logBytes -= c.coveredBytes;
    ps.logRecords -= c.coveredRecords;
    this.#maybeCompact();
  }

  // #compactionFailed gives up automatic snapshots after an error (the log
  // keeps growing; snapshot() still reports errors to its caller).
  #compactionFailed(e) {
    const ps = this.#persist;
    ps.compaction = null;
    const err = this.#fail(e);
    if (!this.#closed) {
      ps.compactionError = err;
      reportError(err);
    }
  }

  // #drainCompaction finishes a snapshot being pulled, or due, synchronously
  // (before a snapshot, restore or close needs the module's snapshot state).
  #drainCompaction() {
    const ps = this.#persist;
    if (!ps) return;
    // One that is due but not begun yet is taken now.
    const c = ps.compaction ?? (ps.compactScheduled ? this.#startCompaction() : null);
    if (!c) return;
    try {
      this.#pullSnapshot(c, Infinity);
      this.#compactDone(c);
    } catch (e) {
      this.#compactionFailed(e);
    }
  }

  // #beginSnapshot starts the module's snapshot: { seq, chunks: [] }.
  #beginSnapshot() {
    const p = this.#status(this.#call("snapshot_begin"));
    return { seq: this.#u64(p), chunks: [] };
  }

  // #pullSnapshot appends about budget bytes of the stream to c.chunks;
  // true (and the module's snapshot ended) when the stream is complete.
  #pullSnapshot(c, budget) {
    for (;;) {
      const r = this.#call("snapshot_next", CHUNK_BYTES);
      const p = this.#status(r);
      const n = Number(r & 0xffffffffn) - 1;
      if (n === 0) {
        this.#status(this.#call("snapshot_end"));
        return true;
      }
      c.chunks.push(this.#u8.slice(p, p + n));
      budget -= n;
      if (budget <= 0) return false;
    }
  }

  // #restoreStream feeds a snapshot stream (pieces in order) to the
  // module's restore: { seq, actors }. On any error the store is as it was.
  #restoreStream(pieces) {
    this.#status(this.#call("restore_begin"));
    try {
      for (const piece of pieces) {
        for (let off = 0; off < piece.length; off += CHUNK_BYTES) {
          const part = piece.subarray(off, Math.min(off + CHUNK_BYTES, piece.length));
          this.#ensureInput(part.length);
          this.#u8.set(part, this.#in);
          this.#status(this.#call("restore_write", part.length));
        }
      }
      const p = this.#status(this.#call("restore_end"));
      return { seq: this.#u64(p), actors: this.#u64(p + 8) };
    } catch (e) {
      if (e instanceof ActorStoreError && !this.#closed) {
        try {
          this.#call("restore_abort");
        } catch (e2) {
          throw this.#fail(e2);
        }
      }
      throw e;
    }
  }

  #needSnapshots(what) {
    const missing = SNAPSHOT_EXPORTS.filter((name) => typeof this.#ex[name] !== "function");
    if (missing.length) {
      throw new ActorStoreError("INVALID_ARGUMENT", `invalid argument: this actorstore.wasm has no ${what}: no export ${missing.join(", ")}`);
    }
  }

  /**
   * The whole state — actors, sequence counter, dropped count and the
   * retained replay buffer — as the portable snapshot stream (the same
   * bytes as the Go host's Snapshot of the same state).
   */
  snapshot() {
    this.#check();
    this.#needSnapshots("snapshots");
    try {
      this.#drainCompaction();
      const c = this.#beginSnapshot();
      try {
        this.#pullSnapshot(c, Infinity);
      } catch (e) {
        if (e instanceof ActorStoreError && !this.#closed) this.#call("snapshot_end");
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
    this.#needSnapshots("restore");
    if (bytes instanceof ArrayBuffer) bytes = new Uint8Array(bytes);
    if (!(bytes instanceof Uint8Array)) {
      throw new ActorStoreError("INVALID_ARGUMENT", "invalid argument: restore takes the snapshot's bytes as a Uint8Array");
    }
    try {
      this.#drainCompaction();
      const { seq } = this.#restoreStream([bytes]);
      const ps = this.#persist;
      if (ps) {
        const chunks = [];
        for (let off = 0; off < bytes.length; off += CHUNK_BYTES) chunks.push(bytes.slice(off, off + CHUNK_BYTES));
        ps.queue.snapshot(++ps.generation, seq, chunks, true);
        ps.logBytes = 0;
        ps.logRecords = 0;
      }
      this.#epoch++;
      this.#notify();
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
    const ps = this.#persist;
    if (!ps) return Promise.resolve();
    return ps.queue.flush().catch((e) => {
      throw this.#storageError ?? fromPersist(e);
    });
  }

  /** Mutations (and restores) not yet committed to IndexedDB; 0 in memory. */
  get pendingWrites() {
    return this.#persist ? this.#persist.queue.pending : 0;
  }

  // #storageFailed: an IndexedDB write failed, so memory is ahead of what
  // is durable: the store closes itself (and releases its name).
  #storageFailed(err) {
    this.#storageError = fromPersist(err);
    this.#shutdown();
  }

  /** Deletes the persisted store of name; LOCKED while it is open somewhere. */
  static async deletePersisted(name) {
    if (typeof name !== "string" || name === "") {
      throw new ActorStoreError("INVALID_ARGUMENT", "invalid argument: deletePersisted takes a non-empty name");
    }
    const env = environment();
    if (env instanceof PersistError) throw fromPersist(env);
    let release;
    try {
      release = await acquireLock(env.locks, name);
      await deleteDatabase(env.idb, name);
    } catch (e) {
      throw fromPersist(e);
    } finally {
      release?.();
    }
  }

  // ---- lifetime ----------------------------------------------------------

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
      this.#drainCompaction();
      this.#shutdown();
    }
    return this.#closing;
  }

  #shutdown() {
    if (this.#closed) return;
    this.#closed = true;
    const subs = [...this.#subs];
    this.#subs.clear();
    for (const sub of subs) this.#wake(sub);
    // Drop the instance so that its memory can be collected.
    this.#ex = null;
    this.#memory = null;
    this.#buf = this.#u8 = this.#dv = null;
    const ps = this.#persist;
    if (!ps) {
      this.#closing = Promise.resolve();
      return;
    }
    ps.compaction = null;
    const done = ps.queue.close().then(() => {}, (e) => {
      throw this.#storageError ?? fromPersist(e);
    }).finally(() => ps.release());
    // After a failed write, the failure was reported (flush, CLOSED): close
    // itself then just releases the name.
    this.#closing = this.#storageError ? done.catch(() => {}) : done;
    this.#closing.catch(() => {}); // a trap's close may fail unobserved
  }
}

const OPEN = Symbol("open");
const NO_VALUE = Symbol("no value");

const reportError = globalThis.reportError ?? ((e) => console.error(e));
