// The server's wire format as a replica reads and writes it (DESIGN.md,
// "HTTP API"): CBOR answers and watch messages whose stored values stay
// CBOR bytes (never decoded and re-encoded, so they are byte-exact), CBOR
// request bodies with values embedded as they are, and RFC 3339
// timestamps to the module's nanoseconds.

const utf8d = new TextDecoder("utf-8", { fatal: false });
const utf8 = new TextEncoder();

/** The keys whose values readCBOR leaves as CBOR bytes (stored values). */
export const VALUE_KEYS = new Set(["value", "newValue", "previousValue"]);

/**
 * Reads one CBOR data item from b (a Uint8Array) whole: maps as objects
 * (text keys) — the items under VALUE_KEYS as their bytes (a subarray of
 * b), not decoded — arrays, integers (BigInt past 2^53), strings, byte
 * strings, floats, true/false/null/undefined; tags read as their content.
 * Throws on malformed input or trailing bytes.
 */
export function readCBOR(b) {
  const r = new Reader(b);
  const v = r.item(false);
  if (r.p !== b.length) throw new Error(`CBOR: ${b.length - r.p} trailing bytes`);
  return v;
}

/** Whether b is one whole CBOR data item as far as its structure goes (lengths, nesting, breaks). */
export function wellFormed(b) {
  try {
    const r = new Reader(b);
    r.item(true);
    return r.p === b.length;
  } catch {
    return false;
  }
}

// text decodes UTF-8: short ASCII strings (an event's keys, types, ids,
// operations, timestamps) by hand, which is several times faster than a
// TextDecoder call for them; the rest, and any non-ASCII, by utf8d.
function text(b) {
  if (b.length > 40) return utf8d.decode(b);
  let s = "";
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    if (c >= 0x80) return utf8d.decode(b);
    s += String.fromCharCode(c);
  }
  return s;
}

class Reader {
  constructor(b) {
    this.b = b;
    this.p = 0;
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  byte() {
    if (this.p >= this.b.length) throw new Error("CBOR: unexpected end");
    return this.b[this.p++];
  }

  // arg reads the argument of additional information ai: a number (a
  // BigInt past 2^53), or -1 for an indefinite length.
  arg(ai) {
    if (ai < 24) return ai;
    const n = ai === 24 ? 1 : ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0;
    if (ai === 31) return -1;
    if (n === 0) throw new Error(`CBOR: reserved additional information ${ai}`);
    if (this.p + n > this.b.length) throw new Error("CBOR: unexpected end");
    const dv = this.dv;
    const p = this.p;
    this.p += n;
    if (n === 1) return this.b[p];
    if (n === 2) return dv.getUint16(p);
    if (n === 4) return dv.getUint32(p);
    const big = dv.getBigUint64(p);
    return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }

  length(ai) {
    const n = this.arg(ai);
    if (typeof n === "bigint" || n > this.b.length - this.p) throw new Error("CBOR: length out of range");
    return n;
  }

  // item reads one item; skip: only move past it (returns undefined).
  item(skip) {
    const ib = this.byte();
    const major = ib >> 5;
    const ai = ib & 31;
    switch (major) {
      case 0:
      case 1: {
        const v = this.arg(ai);
        if (v === -1) throw new Error("CBOR: indefinite integer");
        if (skip) return undefined;
        if (major === 0) return v;
        return typeof v === "bigint" || v >= Number.MAX_SAFE_INTEGER ? -1n - BigInt(v) : -1 - v;
      }
      case 2:
      case 3: {
        if (ai === 31) {
          const parts = [];
          for (;;) {
            const c = this.byte();
            if (c === 0xff) break;
            if (c >> 5 !== major || (c & 31) === 31) throw new Error("CBOR: bad string chunk");
            const n = this.length(c & 31);
            parts.push(this.b.subarray(this.p, this.p + n));
            this.p += n;
          }
          if (skip) return undefined;
          const all = concat(parts);
          return major === 2 ? all : text(all);
        }
        const n = this.length(ai);
        const s = this.b.subarray(this.p, this.p + n);
        this.p += n;
        if (skip) return undefined;
        return major === 2 ? s : text(s);
      }
      case 4: {
        const n = ai === 31 ? -1 : this.length(ai);
        const out = skip ? undefined : [];
        for (let i = 0; n < 0 ? this.b[this.p] !== 0xff : i < n; i++) {
          if (n < 0 && this.p >= this.b.length) throw new Error("CBOR: unexpected end");
          const v = this.item(skip);
          if (!skip) out.push(v);
        }
        if (n < 0) this.p++;
        return out;
      }
      case 5: {
        const n = ai === 31 ? -1 : this.length(ai);
        const out = skip ? undefined : {};
        for (let i = 0; n < 0 ? this.b[this.p] !== 0xff : i < n; i++) {
          if (n < 0 && this.p >= this.b.length) throw new Error("CBOR: unexpected end");
          const k = this.item(skip);
          if (!skip && typeof k === "string" && VALUE_KEYS.has(k)) {
            const start = this.p;
            this.item(true);
            out[k] = this.b.subarray(start, this.p);
            continue;
          }
          const v = this.item(skip);
          if (!skip) out[String(k)] = v;
        }
        if (n < 0) this.p++;
        return out;
      }
      case 6:
        this.arg(ai);
        return this.item(skip);
      default: {
        if (ai === 20) return false;
        if (ai === 21) return true;
        if (ai === 22) return null;
        if (ai === 23) return undefined;
        if (ai < 24) return undefined;
        if (ai === 24) {
          this.byte();
          return undefined;
        }
        const n = ai === 25 ? 2 : ai === 26 ? 4 : ai === 27 ? 8 : 0;
        if (n === 0) throw new Error(`CBOR: unexpected simple value ${ai}`);
        if (this.p + n > this.b.length) throw new Error("CBOR: unexpected end");
        const p = this.p;
        this.p += n;
        if (skip) return undefined;
        if (n === 2) return half(this.dv.getUint16(p));
        return n === 4 ? this.dv.getFloat32(p) : this.dv.getFloat64(p);
      }
    }
  }
}

function half(h) {
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  const sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

// concat joins byte arrays into one.
export function concat(parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  n = 0;
  for (const p of parts) {
    out.set(p, n);
    n += p.length;
  }
  return out;
}

// ---- writing ---------------------------------------------------------------

/**
 * Builds a CBOR item from parts: map(n), array(n), text(s), uint(n),
 * raw(bytes) (an item already encoded: a stored value).
 */
export class CBORWriter {
  #parts = [];
  #n = 0;

  #head(major, n) {
    let h;
    if (n < 24) h = Uint8Array.of((major << 5) | n);
    else if (n < 0x100) h = Uint8Array.of((major << 5) | 24, n);
    else if (n < 0x10000) h = Uint8Array.of((major << 5) | 25, n >> 8, n & 0xff);
    else if (n < 0x100000000) h = Uint8Array.of((major << 5) | 26, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
    else {
      h = new Uint8Array(9);
      h[0] = (major << 5) | 27;
      new DataView(h.buffer).setBigUint64(1, BigInt(n));
    }
    this.raw(h);
  }

  map(n) {
    this.#head(5, n);
    return this;
  }

  array(n) {
    this.#head(4, n);
    return this;
  }

  uint(n) {
    this.#head(0, n);
    return this;
  }

  text(s) {
    const b = utf8.encode(s);
    this.#head(3, b.length);
    return this.raw(b);
  }

  raw(b) {
    this.#parts.push(b);
    this.#n += b.length;
    return this;
  }

  bytes() {
    return concat(this.#parts);
  }
}

// ---- time --------------------------------------------------------------

const RFC3339 = /^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d\d):(\d\d))$/;

/** An RFC 3339 time (as the server writes events' timestamps) to int64 nanoseconds, a BigInt. */
export function rfc3339ToNs(s) {
  const m = typeof s === "string" ? RFC3339.exec(s) : null;
  if (!m) throw new Error(`not an RFC 3339 time: ${JSON.stringify(s)}`);
  const d = new Date(0);
  d.setUTCFullYear(+m[1], +m[2] - 1, +m[3]);
  d.setUTCHours(+m[4], +m[5], +m[6], 0);
  let ns = BigInt(d.getTime()) * 1000000n;
  if (m[7]) ns += BigInt(m[7].padEnd(9, "0"));
  if (!m[8]) {
    const off = (+m[10] * 60 + +m[11]) * 60 * 1e9;
    ns += BigInt(m[9] === "+" ? -off : off);
  }
  return ns;
}
