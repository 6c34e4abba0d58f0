// Values and keys: big values, Unicode ids and their byte order, and
// which JS values round-trip through the store's codec (test names say
// what does not).

import { test } from "node:test";
import assert from "node:assert/strict";
import { RawCBOR, ActorStoreError, encodeValue, decodeValue } from "../actorstore.js";
import { open, throwsCode, hex } from "./helpers.mjs";

const MiB = 1 << 20;

// byteString returns the CBOR byte string of total size n (n ≥ 5),
// with a payload pattern that a misplaced byte would show.
function byteString(n) {
  const b = new Uint8Array(n);
  b[0] = 0x5a;
  new DataView(b.buffer).setUint32(1, n - 5);
  for (let i = 5; i < n; i++) b[i] = (i * 31 + (i >> 11)) & 0xff;
  return b;
}

// readsBack checks that a raw store returns bytes everywhere it returns
// the actor's value.
function readsBack(store, type, id, bytes, version = 0) {
  const same = (got, what) => {
    assert.ok(got instanceof Uint8Array, `${what}: not bytes`);
    assert.ok(Buffer.compare(got, bytes) === 0, `${what}: ${got.length} bytes differ from the ${bytes.length} written`);
  };
  const a = store.get(type, id);
  assert.equal(a.version, version);
  same(a.value, "get");
  const all = store.getAll(type).filter((x) => x.id === id);
  assert.equal(all.length, 1);
  same(all[0].value, "getAll");
  const seq = store.stats().currentSequence;
  const ev = store.changes(seq - 1).events;
  assert.equal(ev.length, 1);
  same(ev[0].newValue, "changes");
}

test("a value of exactly 1 MiB (the default limit) is stored whole; one byte more is VALUE_TOO_LARGE", async (t) => {
  const store = await open(t, { raw: true });
  const v = byteString(MiB);
  assert.equal(store.insert("big", "a", v).version, 0);
  readsBack(store, "big", "a", v);
  throwsCode(() => store.insert("big", "b", byteString(MiB + 1)), "VALUE_TOO_LARGE");
  // Updates keep both values in the event.
  const w = byteString(MiB - 1);
  store.update("big", "a", w);
  readsBack(store, "big", "a", w, 1);
  const ev = store.changes(1).events[0];
  assert.equal(Buffer.compare(ev.previousValue, v), 0);
});

test("a decoded string of exactly 1 MiB round-trips in normal mode", async (t) => {
  const store = await open(t);
  const s = `${"é".repeat((MiB - 5) / 2 - 1)}abc`; // 0x7a, 4 length bytes, 2^20 - 5 bytes of UTF-8
  assert.equal(encodeValue(s).length, MiB);
  store.insert("big", "s", s);
  assert.equal(store.get("big", "s").value, s);
  throwsCode(() => store.insert("big", "t", `${s}x`), "VALUE_TOO_LARGE");
});

test("with maxValueBytes 16 MiB, 16 MiB values are stored and read back whole", async (t) => {
  const store = await open(t, { raw: true, maxValueBytes: 16 * MiB });
  const v = byteString(16 * MiB);
  store.insert("big", "a", v);
  readsBack(store, "big", "a", v);
  store.insert("big", "b", byteString(3 * MiB));
  assert.deepEqual(store.getAll("big").map((a) => a.value.length), [16 * MiB, 3 * MiB]);
  throwsCode(() => store.insert("big", "c", byteString(16 * MiB + 1)), "VALUE_TOO_LARGE");
  const decoded = await open(t, { maxValueBytes: 16 * MiB });
  const doc = { text: "x".repeat(10 * MiB), bytes: new Uint8Array(5 * MiB).fill(7) };
  decoded.insert("big", "doc", doc);
  const back = decoded.get("big", "doc").value;
  assert.equal(back.text, doc.text);
  assert.ok(back.bytes instanceof Uint8Array && Buffer.compare(back.bytes, doc.bytes) === 0);
});

// ---- Unicode keys -----------------------------------------------------------

const utf8Order = (ids) => [...ids].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

test("Unicode ids are kept exactly (no normalization) and ordered by UTF-8 bytes, not UTF-16", async (t) => {
  const store = await open(t);
  const ids = ["z", "é" /* U+00E9 */, "e\u0301" /* e + combining acute */, "\uE000", "\uFFFF", "\u{10000}",
    "😀", "😀👍", "👩‍👩‍👧" /* ZWJ sequence */, "日本語", "שלום", "a\u0000b", "𝄞music", "\u{10FFFF}"];
  for (const [i, id] of ids.entries()) store.insert("ü", id, i);
  for (const [i, id] of ids.entries()) assert.equal(store.get("ü", id)?.value, i, `get ${JSON.stringify(id)}`);
  assert.equal(store.get("ü", "e"), undefined);
  assert.equal(store.get("ü", "é".normalize("NFD"))?.value, ids.indexOf("e\u0301"));
  const got = store.getAll("ü").map((a) => a.id);
  assert.deepEqual(got, utf8Order(ids));
  assert.notDeepEqual(got, [...ids].sort(), "UTF-16 order would be different: the test shows nothing");
  // In particular: U+FFFF (EF BF BF) sorts before U+10000 (F0 90 80 80),
  // although its UTF-16 (FFFF) sorts after (D800 DC00).
  assert.ok(got.indexOf("\uFFFF") < got.indexOf("\u{10000}"));
  assert.ok(got.indexOf("\uE000") < got.indexOf("😀"));
  const events = store.changes(0).events;
  assert.deepEqual(events.map((e) => [e.actorType, e.actorId]), ids.map((id) => ["ü", id]));
});

test("key limits count UTF-8 bytes: 256 four-byte emoji fill an id, 64 a type", async (t) => {
  const store = await open(t);
  store.insert("😀".repeat(64), "😀".repeat(256), 1);
  throwsCode(() => store.insert("😀".repeat(65), "a", 1), "INVALID_KEY");
  throwsCode(() => store.insert("t", `${"😀".repeat(256)}a`, 1), "INVALID_KEY");
  store.insert("t", "é".repeat(512), 1); // 1024 bytes in 512 UTF-16 units
  throwsCode(() => store.insert("t", "é".repeat(513), 1), "INVALID_KEY");
  assert.deepEqual(store.getAll("😀".repeat(64)).map((a) => a.id), ["😀".repeat(256)]);
});

test("Unicode prefixes and types filter changes and subscriptions by exact bytes", async (t) => {
  const store = await open(t);
  store.batch(["😀a", "😀b", "😁", "e\u0301x", "éx", "ex"].map((id) => ({ op: "insert", type: "ü", id, value: 0 })));
  store.insert("u", "😀c", 0);
  const ids = (opts) => store.changes(0, opts).events.map((e) => e.actorId);
  assert.deepEqual(ids({ keyPrefix: "😀" }), ["😀a", "😀b", "😀c"]);
  assert.deepEqual(ids({ keyPrefix: "e" }), ["e\u0301x", "ex"]);
  assert.deepEqual(ids({ keyPrefix: "é" }), ["éx"]);
  assert.deepEqual(ids({ actorType: "ü", keyPrefix: "😀" }), ["😀a", "😀b"]);
  assert.deepEqual(ids({ actorType: "u\u0308" }), []);
});

// ---- JS values through the codec --------------------------------------------

// Values written in normal mode and read back with get, getAll and changes.
// `back` is what is read when it is not the value itself.
const shapes = [
  ["nested objects and arrays", { a: { b: [1, { c: [null, true, false, "x"] }], d: {} }, e: [] }],
  ["strings, with every Unicode plane", ["", "plain", "é日本😀\u{10FFFF}", "\u0000nul", "x".repeat(300)]],
  ["small and 32-bit integers", [0, 1, -1, 23, 24, 255, 256, 65535, 65536, 2 ** 31 - 1, -(2 ** 31), 2 ** 32 - 1, -(2 ** 32)]],
  ["integers up to 2^53 exactly (written as float64 beyond 32 bits)", [2 ** 32, 2 ** 40 + 1, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53]],
  ["floats", [0.1, 1.5, -2.25, 1e300, 5e-324, Number.MAX_VALUE, Number.MIN_VALUE, 3.4028234663852886e38]],
  ["NaN, Infinity and -Infinity", [NaN, Infinity, -Infinity]],
  ["null and booleans", [null, true, false]],
  ["top-level scalars: a string", "just a string"],
  ["top-level scalars: a number", 42.5],
  ["top-level scalars: null", null],
  ["Uint8Array as a byte string", new Uint8Array([0, 1, 254, 255])],
  ["empty Uint8Array", new Uint8Array(0)],
  ["Date, to the millisecond", new Date(1700000000123)],
  ["Date before 1970", new Date(-86400000 * 365.25 * 100)],
  ["BigInt beyond 2^53 within 64 bits", [2n ** 64n - 1n, -(2n ** 63n), 12345678901234567890n]],
  ["BigInt beyond 64 bits (tags 2 and 3)", [2n ** 100n, -(2n ** 100n) - 7n]],
  ["undefined, top level and inside containers", { u: undefined, a: [undefined, 1] }],
  ["Set (tag 258)", new Set([1, "two", null])],
  ["typed arrays (tags 64–87)", { i16: new Int16Array([1, -1, 300]), f64: new Float64Array([1.5, -0.25]), u32: new Uint32Array([7]) }],
  ["-0 does not round-trip: written as the integer 0", -0, 0],
  ["a BigInt within 2^53 does not round-trip: read back as a number", [5n, -(2n ** 53n) + 1n], [5, -(2 ** 53) + 1]],
  ["undefined at the top level", undefined],
  ["Map with string keys does not round-trip: read back as a plain object", new Map([["a", 1], ["b", [2]]]), { a: 1, b: [2] }],
  ["Map with number keys does not round-trip: keys come back as strings", new Map([[1, "one"], [2, "two"]]), { 1: "one", 2: "two" }],
  ["class instances do not round-trip: read back as plain objects", new (class Point { x = 1; y = 2; })(), { x: 1, y: 2 }],
  ["null-prototype objects read back as plain objects", Object.assign(Object.create(null), { k: "v" }), { k: "v" }],
  ["ArrayBuffer does not round-trip: read back as a Uint8Array", Uint8Array.of(9, 8).buffer, Uint8Array.of(9, 8)],
];

// same compares values deep-strictly, except that byte strings may come
// back as any Uint8Array (Node's decoder makes Buffers).
function same(got, want, path = "value") {
  if (want instanceof Uint8Array && want.constructor === Uint8Array) {
    assert.ok(got instanceof Uint8Array, `${path}: ${got} is not a Uint8Array`);
    assert.deepEqual([...got], [...want], path);
    return;
  }
  if (want && typeof want === "object" && !(want instanceof Date) && !ArrayBuffer.isView(want) && !(want instanceof Set)) {
    assert.equal(typeof got, "object", path);
    assert.ok(got !== null, path);
    assert.equal(Array.isArray(got), Array.isArray(want), path);
    assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort(), path);
    for (const k of Object.keys(want)) same(got[k], want[k], `${path}.${k}`);
    if (!Array.isArray(want)) assert.equal(Object.getPrototypeOf(got), Object.prototype, `${path}: not a plain object`);
    return;
  }
  assert.deepStrictEqual(got, want, path);
}

for (const [name, value, back = value] of shapes) {
  test(`round trip: ${name}`, async (t) => {
    const store = await open(t);
    const bytes = encodeValue(value);
    same(decodeValue(bytes), back, "decodeValue(encodeValue(v))");
    store.insert("v", "a", value);
    same(store.get("v", "a").value, back, "get");
    same(store.getAll("v")[0].value, back, "getAll");
    store.update("v", "a", value);
    const [ins, upd] = store.changes(0).events;
    same(ins.newValue, back, "insert event");
    same(upd.previousValue, back, "update event, previous");
    // The store's bytes are the codec's bytes.
    const raw = await open(t, { raw: true });
    raw.insert("v", "a", bytes);
    assert.equal(hex(raw.get("v", "a").value), hex(bytes));
    assert.equal(store.stats().dataBytes, raw.stats().dataBytes, "normal mode wrote other bytes than encodeValue");
  });
}

test("values that cannot be encoded are INVALID_VALUE: symbols, functions, lone surrogates", async (t) => {
  const store = await open(t);
  for (const v of [Symbol("s"), () => 1, { f: Math.max }, "\ud800", { k: ["\udfff"] }]) {
    throwsCode(() => store.insert("v", "a", v), "INVALID_VALUE");
  }
  assert.equal(store.stats().actors, 0);
});

test("RawCBOR in normal mode is written as is and read back decoded", async (t) => {
  const store = await open(t);
  const a = store.insert("v", "a", new RawCBOR(Uint8Array.of(0xa1, 0x61, 0x6b, 0x82, 0x01, 0xf9, 0x3c, 0x00)));
  assert.deepEqual(a.value, { k: [1, 1] });
  assert.deepEqual(store.get("v", "a").value, { k: [1, 1] });
});

// Well-formed CBOR that the core accepts but cbor-x may not decode: the
// read must fail (or succeed) without taking the store down.
const hardToDecode = [
  ["an indefinite-length text string", "7f616161626163ff"],
  ["an indefinite-length byte string", "5f4101420203ff"],
  ["a map with an array key", "a1820102f6"],
  ["a map with a map key", "a1a10102f6"],
  ["tag 27 around a number", "d81b01"],
  ["tag 258 around a number", "d9010201"],
];

for (const [name, h] of hardToDecode) {
  test(`reading ${name} in normal mode leaves the store working`, async (t) => {
    const store = await open(t);
    store.insert("v", "keep", { still: "here" });
    const bytes = Uint8Array.from(Buffer.from(h, "hex"));
    let written;
    try {
      written = store.insert("v", "odd", new RawCBOR(bytes));
    } catch (e) {
      assert.ok(e instanceof ActorStoreError && e.code !== "INTERNAL", `insert: ${e.stack}`);
    }
    assert.equal(store.closed, false, "the store closed itself");
    assert.equal(store.stats().actors, 2, "the insert was not made");
    for (const read of [() => store.get("v", "odd"), () => store.getAll("v"), () => store.changes(0)]) {
      try {
        read();
      } catch (e) {
        assert.ok(e instanceof ActorStoreError && e.code !== "INTERNAL", `read: ${e.stack}`);
      }
      assert.equal(store.closed, false, "a read closed the store");
    }
    assert.deepEqual(store.get("v", "keep").value, { still: "here" });
    void written;
  });
}
