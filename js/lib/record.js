// Mutation records (format v1): the bytes a persisted store logs for each
// successful mutation, the same on every host. core/record.go is the
// layout's definition and the Go side; tests/crosshost/records.json pins
// both hosts to the same bytes.
//
//   u8 0x01 | uvarint firstSeq | int64 LE ts (ns) | uvarint n | n ops:
//   u8 kind (1 insert, 2 update, 3 updateVersioned, 4 delete) |
//   uvarint len(type) type | uvarint len(id) id |
//   kinds 1-3: uvarint len(value) value | kind 3: uvarint expected.

import { KIND, RECORD_FORMAT } from "./abi.js";

// putUvarint writes v (a safe integer) at out[p] as a uvarint and returns
// the offset after it.
export function putUvarint(out, p, v) {
  while (v >= 128) {
    out[p++] = (v % 128) | 128;
    v = Math.floor(v / 128);
  }
  out[p++] = v;
  return p;
}

export function uvarintLen(v) {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

// opSize is the bytes of one op in a record.
function opSize(kind, tl, il, vl, expected) {
  let n = 1 + uvarintLen(tl) + tl + uvarintLen(il) + il;
  if (kind !== KIND.delete) n += uvarintLen(vl) + vl;
  if (kind === KIND.updateVersioned) n += uvarintLen(expected);
  return n;
}

// putHead writes the record's format, first sequence, timestamp and op
// count at out[0]; returns the offset after them.
function putHead(out, firstSeq, ts, n) {
  out[0] = RECORD_FORMAT;
  let p = putUvarint(out, 1, firstSeq);
  tsView.setBigInt64(0, ts, true);
  for (let i = 0; i < 8; i++) out[p + i] = tsBytes[i];
  p += 8;
  return putUvarint(out, p, n);
}

const tsBytes = new Uint8Array(8);
const tsView = new DataView(tsBytes.buffer);

// putOp writes one op, its type, id and value copied from u8 at off (back
// to back, as in a request); returns the offset after it.
function putOp(out, p, u8, kind, off, tl, il, vl, expected) {
  out[p++] = kind;
  p = putUvarint(out, p, tl);
  p = copy(out, p, u8, off, tl);
  p = putUvarint(out, p, il);
  p = copy(out, p, u8, off + tl, il);
  if (kind !== KIND.delete) {
    p = putUvarint(out, p, vl);
    p = copy(out, p, u8, off + tl + il, vl);
  }
  if (kind === KIND.updateVersioned) p = putUvarint(out, p, expected);
  return p;
}

// copy copies n bytes of src at off to out at p: short runs byte by byte
// (cheaper than the view subarray makes), longer ones by set.
function copy(out, p, src, off, n) {
  if (n > 64) {
    out.set(src.subarray(off, off + n), p);
    return p + n;
  }
  for (let i = 0; i < n; i++) out[p + i] = src[off + i];
  return p + n;
}

/**
 * The record of one op (the common case): kind, with its type, id and
 * value at u8[off:off+tl], [+tl:+il], [+il:+vl] (the module's input
 * buffer: call before it changes); firstSeq a number, ts a BigInt of
 * nanoseconds.
 */
export function singleRecord(firstSeq, ts, kind, u8, off, tl, il, vl, expected = 0) {
  const out = new Uint8Array(1 + uvarintLen(firstSeq) + 8 + 1 + opSize(kind, tl, il, vl, expected));
  putOp(out, putHead(out, firstSeq, ts, 1), u8, kind, off, tl, il, vl, expected);
  return out;
}

/**
 * Builds the record of several ops (a batch) from the module's input
 * buffer: op notes where an op's type, id and value lie in u8 (no copy),
 * finish copies them into the record, so it must run before the buffer
 * changes.
 */
export class RecordBuilder {
  #u8;
  #parts = []; // kind, offset, tl, il, vl, expected per op
  #size = 0;

  constructor(u8) {
    this.#u8 = u8;
  }

  /** Adds an op whose type, id and value are u8[off:off+tl], [+tl:+il], [+il:+vl]. */
  op(kind, off, tl, il, vl, expected) {
    this.#parts.push(kind, off, tl, il, vl, expected);
    this.#size += opSize(kind, tl, il, vl, expected);
  }

  /** The record: firstSeq a number, ts a BigInt of nanoseconds. */
  finish(firstSeq, ts) {
    const parts = this.#parts;
    const n = parts.length / 6;
    const out = new Uint8Array(1 + uvarintLen(firstSeq) + 8 + uvarintLen(n) + this.#size);
    let p = putHead(out, firstSeq, ts, n);
    for (let i = 0; i < parts.length; i += 6) {
      p = putOp(out, p, this.#u8, parts[i], parts[i + 1], parts[i + 2], parts[i + 3], parts[i + 4], parts[i + 5]);
    }
    return out;
  }
}

// readUvarint returns the uvarint at b[p] and the offset after it, or
// [0, -1] when it is cut off or longer than a safe integer.
export function readUvarint(b, p) {
  let v = 0;
  for (let mul = 1; p < b.length && mul < 2 ** 53; mul *= 128) {
    const c = b[p++];
    v += (c & 127) * mul;
    if (c < 128) return [v, p];
  }
  return [0, -1];
}

const utf8 = new TextEncoder();

/**
 * The record of one op from its parts: type and id strings, value the
 * CBOR bytes (none for a delete), expected for updateVersioned; firstSeq
 * a number, ts a BigInt of nanoseconds. A replica makes one per event of
 * the server's feed.
 */
export function opRecord(firstSeq, ts, kind, type, id, value, expected = 0) {
  const tb = utf8.encode(type);
  const ib = utf8.encode(id);
  const vl = kind === KIND.delete ? 0 : value.length;
  const out = new Uint8Array(1 + uvarintLen(firstSeq) + 8 + 1 + opSize(kind, tb.length, ib.length, vl, expected));
  let p = putHead(out, firstSeq, ts, 1);
  out[p++] = kind;
  p = putUvarint(out, p, tb.length);
  out.set(tb, p);
  p += tb.length;
  p = putUvarint(out, p, ib.length);
  out.set(ib, p);
  p += ib.length;
  if (kind !== KIND.delete) {
    p = putUvarint(out, p, vl);
    out.set(value, p);
    p += vl;
  }
  if (kind === KIND.updateVersioned) putUvarint(out, p, expected);
  return out;
}
