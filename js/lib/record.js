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

/**
 * Builds mutation records (format v1) from the module's input buffer: op
 * notes where an op's type, id and value lie in u8 (no copy), finish
 * copies them into the record, so it must run before the buffer changes.
 */
export class RecordBuilder {
  #u8;
  #parts = []; // kind, offset, tl, il, vl, expected per op
  #size = 0;
  #n = 0;

  constructor(u8) {
    this.#u8 = u8;
  }

  /** Adds an op whose type, id and value are u8[off:off+tl], [+tl:+il], [+il:+vl]. */
  op(kind, off, tl, il, vl, expected) {
    this.#parts.push(kind, off, tl, il, vl, expected);
    this.#size += 1 + uvarintLen(tl) + tl + uvarintLen(il) + il;
    if (kind !== KIND.delete) this.#size += uvarintLen(vl) + vl;
    if (kind === KIND.updateVersioned) this.#size += uvarintLen(expected);
    this.#n++;
  }

  /** The record: firstSeq a number, ts a BigInt of nanoseconds. */
  finish(firstSeq, ts) {
    const u8 = this.#u8;
    const out = new Uint8Array(1 + uvarintLen(firstSeq) + 8 + uvarintLen(this.#n) + this.#size);
    let p = 0;
    const uv = (v) => {
      p = putUvarint(out, p, v);
    };
    out[p++] = RECORD_FORMAT;
    uv(firstSeq);
    new DataView(out.buffer).setBigInt64(p, ts, true);
    p += 8;
    uv(this.#n);
    const parts = this.#parts;
    for (let i = 0; i < parts.length; i += 6) {
      const kind = parts[i];
      let off = parts[i + 1];
      const tl = parts[i + 2];
      const il = parts[i + 3];
      const vl = parts[i + 4];
      out[p++] = kind;
      uv(tl);
      out.set(u8.subarray(off, off + tl), p);
      p += tl;
      off += tl;
      uv(il);
      out.set(u8.subarray(off, off + il), p);
      p += il;
      off += il;
      if (kind !== KIND.delete) {
        uv(vl);
        out.set(u8.subarray(off, off + vl), p);
        p += vl;
      }
      if (kind === KIND.updateVersioned) uv(parts[i + 5]);
    }
    return out;
  }
}

/** One op's record, built in one step (the common case). */
export function singleRecord(firstSeq, ts, kind, u8, off, tl, il, vl, expected) {
  const b = new RecordBuilder(u8);
  b.op(kind, off, tl, il, vl, expected);
  return b.finish(firstSeq, ts);
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
