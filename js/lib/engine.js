// The engine: one instance of actorstore.wasm and the plumbing every call
// shares (wasm/ABI.md, "Conventions"): its memory, the input buffer that
// requests are written to, the packed results and the error layout read
// back, and what a trap leaves. calls.js builds each export's request and
// reads its result on top of this.
//
// Memory grows during calls, so the views on it are re-made whenever
// memory.buffer has changed, after every call; none is kept across one.
// The fields are read by calls.js and change only here: u8 and dv are
// valid until the next call, `in` until the next ensureInput.

import {
  CODES, MAX_TYPE_BYTES, MAX_ID_BYTES, MIN_INPUT_BUFFER, STATUS_SIZE,
  ERROR_CODE, ERROR_EXPECTED, ERROR_ACTUAL, ERROR_REQUESTED, ERROR_OLDEST, ERROR_INDEX, ERROR_MSG_LEN, ERROR_HEADER,
} from "./abi.js";
import { ActorStoreError } from "./errors.js";
import { RawCBOR, encodeValue, decodeValue } from "./codec.js";
import { nsToDate } from "./time.js";

// A packed result is ptr << 32 | len (wasm/ABI.md, "Results").
const PACKED_PTR_SHIFT = 32n;
export const PACKED_LEN_MASK = 0xffffffffn;
const OK = CODES.indexOf("OK"); // the status byte of a success

const INVALID_CBOR = Uint8Array.of(0xff); // a lone "break": never well-formed

/** keyValue's value for requests that carry only a key. */
export const NO_VALUE = Symbol("no value");

const utf8 = new TextEncoder();
const utf8d = new TextDecoder("utf-8", { fatal: false });

export class Engine {
  ex; // the instance's exports; null once released
  memory;
  buf = null; // memory.buffer the views below were made on
  u8;
  dv;
  in = 0; // input buffer address and capacity
  inCap = 0;
  calling = false; // inside an export: what is thrown now is fatal
  raw; // values are CBOR bytes (Uint8Array) in and out, not JS values
  maxValueBytes;

  // A request the module must not see as it is gets a stand-in (see
  // keyValue): substituted is the real error, substitutedAt its batch
  // operation (-1 outside a batch), standIn the code the module gives the
  // stand-in. lens holds keyValue's three lengths.
  substituted = null;
  substitutedAt = -1;
  standIn = "";
  lens = [0, 0, 0];

  constructor(instance, raw, maxValueBytes) {
    this.ex = instance.exports;
    this.memory = instance.exports.memory;
    this.raw = raw;
    this.maxValueBytes = maxValueBytes;
    this.view();
  }

  /**
   * The exports, for one call: `e.result(e.enter().get(tl, il))`. From
   * here until result (or view) returns, a throw is the module's failure.
   */
  enter() {
    this.calling = true;
    return this.ex;
  }

  /** After a call: re-makes the views and returns status(r). */
  result(r) {
    this.view();
    return this.status(r);
  }

  /** Calls an export by name (for calls off the hot paths); returns what it returns. */
  call(name, ...args) {
    this.calling = true;
    const r = this.ex[name](...args);
    this.view();
    return r;
  }

  /** Re-makes the views if memory grew; ends a call. */
  view() {
    this.calling = false;
    const buf = this.memory.buffer;
    if (buf !== this.buf) {
      this.buf = buf;
      this.u8 = new Uint8Array(buf);
      this.dv = new DataView(buf);
    }
  }

  /** Drops the instance, so that its memory can be collected. */
  release() {
    this.ex = null;
    this.memory = null;
    this.buf = this.u8 = this.dv = null;
  }

  /**
   * Makes the input buffer hold size bytes, keeping its first `keep` bytes
   * (the module's buffer does not keep them when it grows).
   */
  ensureInput(size, keep = 0) {
    if (size <= this.inCap) return;
    const saved = keep ? this.u8.slice(this.in, this.in + keep) : null;
    let cap = Math.max(size, this.inCap * 2, MIN_INPUT_BUFFER);
    this.calling = true;
    let p = this.ex.input_buffer(cap);
    if (p === 0 && cap > size) {
      cap = size;
      this.calling = true;
      p = this.ex.input_buffer(size);
    }
    this.view();
    if (p === 0) {
      throw new ActorStoreError("INVALID_ARGUMENT", `invalid argument: a request of ${size} bytes is over the module's limit`);
    }
    this.in = p;
    this.inCap = cap;
    if (saved) this.u8.set(saved, p);
  }

  /** Copies bytes to the start of the input buffer. */
  input(bytes) {
    this.ensureInput(bytes.length);
    this.u8.set(bytes, this.in);
  }

  // ---- reading and writing memory ----------------------------------------

  /**
   * Writes s at addr (room for 3 bytes per UTF-16 unit), returns its UTF-8
   * length. ASCII is copied directly; other text checks for lone
   * surrogates, which UTF-8 cannot hold (TextEncoder would replace them).
   */
  str(s, addr) {
    const u8 = this.u8;
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

  /** The n UTF-8 bytes at p as a string. */
  readStr(p, n) {
    const u8 = this.u8;
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

  /** The u64 at p as a number (sequences, versions and counts stay below 2^53). */
  u64(p) {
    const dv = this.dv;
    return dv.getUint32(p, true) + dv.getUint32(p + 4, true) * 4294967296;
  }

  /** Writes v, a non-negative safe integer, as the u64 at p. */
  setU64(p, v) {
    const dv = this.dv;
    dv.setUint32(p, v % 4294967296, true);
    dv.setUint32(p + 4, Math.floor(v / 4294967296), true);
  }

  /** The i64 nanosecond timestamp at p as a Date (millisecond floor). */
  date(p) {
    return nsToDate(this.dv.getBigInt64(p, true));
  }

  /** The value of n bytes at p: decoded, or a copy of the bytes in raw mode. */
  value(p, n) {
    const bytes = this.u8.subarray(p, p + n);
    return this.raw ? bytes.slice() : decodeValue(bytes);
  }

  /**
   * A written actor's value as the caller sees it: what they passed,
   * except that raw CBOR reads back in the store's mode.
   */
  written(value) {
    if (value instanceof RawCBOR) return this.raw ? value.bytes.slice() : decodeValue(value.bytes);
    return value;
  }

  // ---- requests: keys and values -----------------------------------------

  /**
   * A value's CBOR bytes, or an error to report if the module finds
   * nothing earlier to complain about (see keyValue).
   */
  encode(value) {
    if (value instanceof RawCBOR) return value.bytes;
    if (this.raw) {
      if (value instanceof Uint8Array) return value;
      return new ActorStoreError("INVALID_VALUE", "invalid value: a raw store takes Uint8Array or RawCBOR values");
    }
    try {
      return encodeValue(value);
    } catch (e) {
      return new ActorStoreError("INVALID_VALUE", `invalid value: cannot encode as CBOR: ${e.message}`);
    }
  }

  /**
   * Notes err as the error the module will stop at when it reaches the
   * stand-in of operation opIndex and reports standIn; the first one wins.
   */
  substitute(err, opIndex, standIn) {
    if (!this.substituted) {
      this.substituted = err;
      this.substitutedAt = opIndex;
      this.standIn = standIn;
    }
  }

  /** Forgets a substituted error (the request was not sent). */
  forget() {
    this.substituted = null;
  }

  /**
   * Writes type ‖ id ‖ value at the input buffer's offset `at` and returns
   * the three lengths in `lens` (value NO_VALUE: none).
   *
   * What the module must not see — a value that cannot be encoded or is
   * larger than maxValueBytes, a key that is not a string, is certainly too
   * long, or holds a lone surrogate — is replaced by a stand-in the module
   * refuses with the same code: an empty key (INVALID_KEY) or one invalid
   * CBOR byte (INVALID_VALUE). So the module still reports any earlier
   * error in its own order (key before value, earlier batch operations
   * first) and fails there at the latest.
   */
  keyValue(at, type, id, value, opIndex = -1) {
    let keyErr = null;
    if (typeof type !== "string" || typeof id !== "string") {
      keyErr = new ActorStoreError("INVALID_KEY", "invalid key: type and id must be strings");
    } else if (type.length > MAX_TYPE_BYTES || id.length > MAX_ID_BYTES) {
      // Certainly too long: UTF-8 takes at least a byte per UTF-16 unit.
      keyErr = keyError(type, id);
    }
    if (keyErr) {
      this.substitute(keyErr, opIndex, "INVALID_KEY");
      type = id = "";
      value = NO_VALUE;
    }
    let bytes = value === NO_VALUE ? null : this.encode(value);
    if (bytes instanceof ActorStoreError || (bytes && bytes.length > this.maxValueBytes)) {
      if (!(bytes instanceof ActorStoreError)) {
        bytes = new ActorStoreError("VALUE_TOO_LARGE", `value too large: ${bytes.length} bytes, limit ${this.maxValueBytes}`);
      }
      this.substitute(bytes, opIndex, "INVALID_VALUE");
      bytes = INVALID_CBOR;
    }
    const vlen = bytes ? bytes.length : 0;
    this.ensureInput(at + 3 * (type.length + id.length) + vlen, at);
    const base = this.in + at;
    let tl, il;
    try {
      tl = this.str(type, base);
      il = this.str(id, base + tl);
    } catch (e) {
      if (!(e instanceof ActorStoreError)) throw e;
      this.substitute(keyError(type, id), opIndex, "INVALID_KEY"); // a lone surrogate
      tl = il = 0;
    }
    if (bytes) this.u8.set(bytes, base + tl + il);
    const lens = this.lens;
    lens[0] = tl;
    lens[1] = il;
    lens[2] = vlen;
    return lens;
  }

  // ---- results -------------------------------------------------------------

  /**
   * The address of a successful result's body, or throws its error. r is
   * a packed result: ptr << 32 | len.
   */
  status(r) {
    const p = Number(r >> PACKED_PTR_SHIFT);
    if (this.u8[p] === OK) {
      this.substituted = null;
      return p + STATUS_SIZE;
    }
    const sub = this.substituted;
    this.substituted = null;
    throw this.error(p, sub);
  }

  // error reads the error layout at p; the substituted error instead when
  // the module stopped at its stand-in.
  error(p, substituted) {
    const dv = this.dv;
    const code = CODES[this.u8[p + ERROR_CODE]] ?? "INTERNAL";
    const index = dv.getInt32(p + ERROR_INDEX, true);
    const message = this.readStr(p + ERROR_HEADER, dv.getUint32(p + ERROR_MSG_LEN, true));
    if (substituted && index === this.substitutedAt && code === this.standIn) {
      if (index >= 0) {
        // As the module words a batch operation's error (core.Store.Batch).
        substituted.index = index;
        substituted.message = `batch operation ${index}: ${substituted.message}`;
      }
      return substituted;
    }
    const details = {};
    if (code === "VERSION_MISMATCH") {
      details.expected = this.u64(p + ERROR_EXPECTED);
      details.actual = this.u64(p + ERROR_ACTUAL);
    } else if (code === "COMPACTED") {
      details.requested = this.u64(p + ERROR_REQUESTED);
      details.oldest = this.u64(p + ERROR_OLDEST);
    }
    if (index >= 0) details.index = index;
    return new ActorStoreError(code, message, details);
  }
}

// keyError is the module's verdict (core.CheckKey: its order of checks,
// its words) on a key it is not shown: one certainly too long, or one
// holding a lone surrogate, which UTF-8 cannot hold (TextEncoder would
// replace it) and which is reported as the invalid UTF-8 it stands for.
// js/test/keys.test.mjs holds the two to the same messages.
export function keyError(type, id) {
  const invalid = (what) => new ActorStoreError("INVALID_KEY", `invalid key: ${what}`);
  if (type === "") return invalid("empty actor type");
  if (id === "") return invalid("empty actor id");
  const tl = utf8.encode(type).length;
  if (tl > MAX_TYPE_BYTES) return invalid(`actor type is ${tl} bytes, more than ${MAX_TYPE_BYTES}`);
  const il = utf8.encode(id).length;
  if (il > MAX_ID_BYTES) return invalid(`actor id is ${il} bytes, more than ${MAX_ID_BYTES}`);
  if (!type.isWellFormed()) return invalid("actor type is not valid UTF-8 (a lone surrogate)");
  if (!id.isWellFormed()) return invalid("actor id is not valid UTF-8 (a lone surrogate)");
  return undefined;
}
