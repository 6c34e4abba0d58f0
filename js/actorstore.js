// Actor Store's JS host: drives actorstore.wasm (wasm/ABI.md) in pages and
// in Node with the API of DESIGN.md ("JS API"); types in actorstore.d.ts.
//
// Every call writes its request into the module's input buffer, calls one
// export and reads the result bytes back. Memory grows during calls, so the
// views on it are re-made whenever memory.buffer has changed, after every
// call; none is kept across one.

import { Encoder } from "cbor-x";
import { createWasi } from "./wasi.js";

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
    const store = new ActorStore(OPEN, instance, options);
    store.#configure(config);
    return store;
  }

  #configure(config) {
    this.#calling = true;
    const r = this.#ex.configure(...config);
    this.#view();
    this.#status(r);
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
    return { cursor, actorType, keyPrefix, onEvent: null, onError: null, wake: null };
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

  #deliver(sub) {
    while (!this.#closed && this.#subs.has(sub)) {
      let page;
      try {
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

  // ---- lifetime ----------------------------------------------------------

  /** True after close (or after the module failed). */
  get closed() {
    return this.#closed;
  }

  /** Frees the module; every later call throws CLOSED. Idempotent. */
  close() {
    this.#shutdown();
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
  }
}

const OPEN = Symbol("open");
const NO_VALUE = Symbol("no value");

const reportError = globalThis.reportError ?? ((e) => console.error(e));
