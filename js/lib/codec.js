// The value codec: JS values to CBOR for writes and back for reads, the
// same plain CBOR every host reads (RATIONALE.md, "The CBOR profile").
// cbor-x does the work; this file sets it up for that profile and covers
// what it reads differently from the Go host (8-byte integers, maps with
// non-string keys, indefinite-length strings).

import { Encoder } from "cbor-x";
import { concat } from "./wire.js";

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
  return concat(out);
}

// narrow turns BigInts within Number's safe range into numbers, in place.
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

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
