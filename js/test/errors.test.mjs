// Error mapping: every code a JS caller can meet, with its fields, and the
// closed store.

import { test } from "node:test";
import assert from "node:assert/strict";
import { ActorStore, ActorStoreError, RawCBOR } from "../actorstore.js";
import { open, wasm, tick, throwsCode, rejectsCode } from "./helpers.mjs";

const DETAILS = ["expected", "actual", "requested", "oldest", "index"];

// Asserts that the error carries no detail but the listed ones.
function onlyDetails(error, ...names) {
  for (const k of DETAILS) {
    if (!names.includes(k)) assert.equal(error[k], undefined, `${error.code} (${error.message}) has ${k}`);
  }
}

test("ActorStoreError is an Error with a name, a code and a message", () => {
  const e = new ActorStoreError("VERSION_MISMATCH", "mismatch", { expected: 1, actual: 2 });
  assert.ok(e instanceof Error);
  assert.ok(e instanceof ActorStoreError);
  assert.equal(e.name, "ActorStoreError");
  assert.equal(e.code, "VERSION_MISMATCH");
  assert.equal(e.message, "mismatch");
  assert.equal(e.expected, 1);
  assert.equal(e.actual, 2);
  assert.match(e.stack, /ActorStoreError/);
});

test("INVALID_KEY for every operation taking a key, counted in UTF-8 bytes", async (t) => {
  const store = await open(t);
  const badTypes = ["", "t".repeat(257), "\u00e9".repeat(129) /* 258 bytes in 129 UTF-16 units */,
    "\udc00x" /* a lone surrogate is not UTF-8 */];
  const badIds = ["", "i".repeat(1025), "😀".repeat(257) /* 1028 bytes */, "a\ud800"];
  const keys = [...badTypes.map((type) => [type, "a"]), ...badIds.map((id) => ["t", id])];
  for (const [type, id] of keys) {
    for (const f of [() => store.insert(type, id, 1), () => store.update(type, id, 1), () => store.get(type, id),
      () => store.updateVersioned(type, id, 1, 0), () => store.delete(type, id)]) {
      onlyDetails(throwsCode(f, "INVALID_KEY"));
    }
  }
  for (const type of badTypes) onlyDetails(throwsCode(() => store.getAll(type), "INVALID_KEY"));
  throwsCode(() => store.get(1, "a"), "INVALID_KEY");
  throwsCode(() => store.insert("t", undefined, 1), "INVALID_KEY");
  // The limits themselves are fine.
  store.insert("t".repeat(256), "i".repeat(1024), 1);
  store.insert("\u00e9".repeat(128), "😀".repeat(256), 1);
  assert.equal(store.stats().actors, 2);
  assert.equal(store.stats().totalEvents, 2, "failed operations made events");
});

test("a key error comes before a value error", async (t) => {
  const store = await open(t, { maxValueBytes: 4 });
  throwsCode(() => store.insert("", "a", new RawCBOR(Uint8Array.of(0xff))), "INVALID_KEY");
  throwsCode(() => store.insert("", "a", "too long a value"), "INVALID_KEY");
  throwsCode(() => store.insert("t", "", Symbol("not encodable")), "INVALID_KEY");
});

test("ALREADY_EXISTS, NOT_FOUND and VERSION_MISMATCH with expected and actual", async (t) => {
  const store = await open(t);
  store.insert("t", "a", 1);
  onlyDetails(throwsCode(() => store.insert("t", "a", 2), "ALREADY_EXISTS"));
  onlyDetails(throwsCode(() => store.update("t", "b", 2), "NOT_FOUND"));
  onlyDetails(throwsCode(() => store.updateVersioned("t", "b", 2, 0), "NOT_FOUND"));
  store.update("t", "a", 2);
  store.update("t", "a", 3);
  const e = throwsCode(() => store.updateVersioned("t", "a", 4, 1), "VERSION_MISMATCH", { expected: 1, actual: 2 });
  onlyDetails(e, "expected", "actual");
  assert.equal(store.updateVersioned("t", "a", 4, 2).version, 3);
  // Versions beyond 2^32 are passed whole.
  throwsCode(() => store.updateVersioned("t", "a", 5, 2 ** 40 + 3), "VERSION_MISMATCH", { expected: 2 ** 40 + 3, actual: 3 });
  assert.deepEqual(store.get("t", "a"), { type: "t", id: "a", value: 4, version: 3 });
});

test("COMPACTED from changes with requested and oldest", async (t) => {
  const store = await open(t, { replayBufferSize: 4 });
  for (let i = 0; i < 10; i++) store.insert("t", `k${i}`, i); // retained 7..10
  const e = throwsCode(() => store.changes(2), "COMPACTED", { requested: 3, oldest: 7 });
  onlyDetails(e, "requested", "oldest");
  throwsCode(() => store.changes(5, { actorType: "nothing" }), "COMPACTED", { requested: 6, oldest: 7 });
  assert.deepEqual(store.changes(6).events.map((e) => e.sequence), [7, 8, 9, 10]);
});

test("INVALID_VALUE: malformed raw CBOR, unencodable values, lone surrogates in text", async (t) => {
  const store = await open(t);
  for (const bytes of [[], [0xff], [0x82, 0x01], [0x01, 0x01], [0x1c], [0x62, 0xc3, 0x28], [0x5f, 0x01, 0xff], [0xf8, 0x01]]) {
    onlyDetails(throwsCode(() => store.insert("t", "a", new RawCBOR(Uint8Array.from(bytes))), "INVALID_VALUE"));
  }
  throwsCode(() => store.insert("t", "a", Symbol("s")), "INVALID_VALUE");
  throwsCode(() => store.insert("t", "a", { f() {} }), "INVALID_VALUE");
  throwsCode(() => store.insert("t", "a", { text: "ok \ud800" }), "INVALID_VALUE");
  const nested = (n) => Uint8Array.from([...new Array(n).fill(0x81), 0x00]);
  store.insert("t", "deep", new RawCBOR(nested(512)));
  throwsCode(() => store.insert("t", "deeper", new RawCBOR(nested(513))), "INVALID_VALUE");
  const raw = await open(t, { raw: true });
  throwsCode(() => raw.insert("t", "a", { not: "bytes" }), "INVALID_VALUE");
  throwsCode(() => raw.insert("t", "a", "text"), "INVALID_VALUE");
  throwsCode(() => raw.insert("t", "a", Uint8Array.of(0x82, 0x01)), "INVALID_VALUE");
  assert.equal(store.stats().actors, 1);
  assert.equal(raw.stats().actors, 0);
});

test("VALUE_TOO_LARGE at maxValueBytes + 1, raw or encoded", async (t) => {
  const store = await open(t, { maxValueBytes: 10 });
  store.insert("t", "ok", new RawCBOR(new Uint8Array(10).fill(0x00).fill(0x49, 0, 1))); // bytes(9): 10 bytes
  onlyDetails(throwsCode(() => store.insert("t", "a", new RawCBOR(Uint8Array.from([0x4a, ...new Array(10).fill(0)]))), "VALUE_TOO_LARGE"));
  throwsCode(() => store.insert("t", "a", "0123456789"), "VALUE_TOO_LARGE"); // 11 bytes encoded
  store.insert("t", "b", "012345678"); // 10 bytes
  throwsCode(() => store.update("t", "b", "0123456789"), "VALUE_TOO_LARGE");
});

test("STORE_FULL when accounted data would pass maxDataBytes; deletes and shrinking still work", async (t) => {
  // An actor accounts len(type) + len(id) + len(value) + 80 bytes.
  const store = await open(t, { maxDataBytes: 300 });
  store.insert("t", "a", new RawCBOR(new Uint8Array(100).fill(0).fill(0x58, 0, 1).fill(98, 1, 2))); // 182 bytes
  onlyDetails(throwsCode(() => store.insert("t", "b", new RawCBOR(new Uint8Array(37).fill(0).fill(0x58, 0, 1).fill(35, 1, 2))), "STORE_FULL"));
  store.insert("t", "b", new RawCBOR(new Uint8Array(36).fill(0).fill(0x58, 0, 1).fill(34, 1, 2))); // 118 bytes: total 300
  assert.equal(store.stats().dataBytes, 300);
  throwsCode(() => store.update("t", "b", new RawCBOR(Uint8Array.of(0x58, 35, ...new Array(35).fill(0)))), "STORE_FULL");
  store.update("t", "b", 1); // shrinks
  store.delete("t", "a");
  assert.equal(store.stats().dataBytes, 83);
});

test("a failed batch reports the failing operation's index and changes nothing", async (t) => {
  const store = await open(t, { maxValueBytes: 150, maxDataBytes: 900 });
  store.insert("t", "a", 1);
  store.update("t", "a", 2);
  const before = store.stats();
  const cases = [
    [[{ op: "insert", type: "t", id: "b", value: 1 }, { op: "insert", type: "t", id: "a", value: 1 }], "ALREADY_EXISTS", 1],
    [[{ op: "delete", type: "t", id: "a" }, { op: "update", type: "t", id: "a", value: 1 }], "NOT_FOUND", 1],
    [[{ op: "insert", type: "t", id: "c", value: 1 }, { op: "insert", type: "t", id: "d", value: 1 },
      { op: "updateVersioned", type: "t", id: "a", value: 3, expected: 0 }], "VERSION_MISMATCH", 2, { expected: 0, actual: 1 }],
    [[{ op: "insert", type: "t", id: "c", value: new RawCBOR(Uint8Array.of(0x82)) }], "INVALID_VALUE", 0],
    [[{ op: "insert", type: "t", id: "c", value: 1 }, { op: "insert", type: "t", id: "e", value: "x".repeat(200) }], "VALUE_TOO_LARGE", 1],
    [[{ op: "insert", type: "t", id: "c", value: "x".repeat(99) }, { op: "insert", type: "t", id: "d", value: "x".repeat(99) },
      { op: "insert", type: "t", id: "e", value: "x".repeat(99) }, { op: "insert", type: "t", id: "f", value: "x".repeat(99) },
      { op: "insert", type: "t", id: "g", value: "x".repeat(99) }], "STORE_FULL", 4],
    [[{ op: "insert", type: "t", id: "c", value: 1 }, { op: "insert", type: "", id: "d", value: 1 }], "INVALID_KEY", 1],
    [[{ op: "insert", type: "t", id: "c", value: 1 }, { op: "upsert", type: "t", id: "d", value: 1 }], "INVALID_ARGUMENT", 1],
    [[{ op: "insert", type: "t", id: "c", value: 1 }, { op: "updateVersioned", type: "t", id: "a", value: 1, expected: -1 }], "INVALID_ARGUMENT", 1],
  ];
  for (const [ops, code, index, fields = {}] of cases) {
    const e = throwsCode(() => store.batch(ops), code, { index, ...fields });
    onlyDetails(e, "index", ...Object.keys(fields));
  }
  const after = store.stats();
  assert.deepEqual(after, before, "a failed batch changed the store");
  assert.deepEqual(store.getAll("t").map((a) => a.id), ["a"]);
});

test("INVALID_ARGUMENT: limits, cursors, versions, batches and options", async (t) => {
  const store = await open(t);
  onlyDetails(throwsCode(() => store.changes(0, { limit: -1 }), "INVALID_ARGUMENT"));
  throwsCode(() => store.changes(0, { limit: 2.5 }), "INVALID_ARGUMENT");
  throwsCode(() => store.changes(-1), "INVALID_ARGUMENT");
  throwsCode(() => store.changes(0.5), "INVALID_ARGUMENT");
  throwsCode(() => store.changes("0"), "INVALID_ARGUMENT");
  throwsCode(() => store.changes(0, { actorType: 7 }), "INVALID_ARGUMENT");
  throwsCode(() => store.updateVersioned("t", "a", 1, -1), "INVALID_ARGUMENT");
  throwsCode(() => store.updateVersioned("t", "a", 1, 0.5), "INVALID_ARGUMENT");
  throwsCode(() => store.batch("not a list"), "INVALID_ARGUMENT");
  throwsCode(() => store.batch(Array.from({ length: 100_001 }, () => ({ op: "delete", type: "t", id: "x" }))), "INVALID_ARGUMENT");
  assert.deepEqual(store.batch([]), []);
  for (const options of [{ replayBufferSize: -1 }, { replayBufferBytes: 1.5 }, { maxValueBytes: 64 * 2 ** 20 + 1 },
    { maxDataBytes: 1.5 * 2 ** 30 + 1 }, { maxValueBytes: "1" }, { clock: 5 }]) {
    await rejectsCode(ActorStore.open({ wasm, ...options }), "INVALID_ARGUMENT");
  }
  await rejectsCode(ActorStore.open(null), "INVALID_ARGUMENT");
  assert.equal(store.stats().totalEvents, 0);
});

test("a clock that gives no time is INVALID_ARGUMENT and writes nothing", async (t) => {
  let now = "soon";
  const store = await open(t, { clock: () => now });
  throwsCode(() => store.insert("t", "a", 1), "INVALID_ARGUMENT");
  now = new Date(5000);
  assert.equal(store.insert("t", "a", 1).version, 0);
  assert.equal(store.changes(0).events[0].timestamp.getTime(), 5000);
});

test("a clock that throws fails the write but does not kill the store", async (t) => {
  let broken = false;
  const store = await open(t, { clock: () => {
    if (broken) throw new Error("clock broke");
    return 1000;
  } });
  store.insert("t", "before", 1);
  broken = true;
  assert.throws(() => store.insert("t", "a", 1));
  assert.equal(store.closed, false, "a throwing clock closed the store and lost its data");
  broken = false;
  assert.deepEqual(store.getAll("t").map((a) => a.id), ["before"]);
  store.insert("t", "after", 1);
  assert.equal(store.stats().currentSequence, 2);
});

test("a closed store throws CLOSED from every method; close is idempotent", async () => {
  const store = await ActorStore.open({ wasm });
  store.insert("t", "a", 1);
  assert.equal(store.closed, false);
  store.close();
  assert.equal(store.closed, true);
  store.close();
  assert.equal(store.closed, true);
  const calls = {
    insert: () => store.insert("t", "b", 1),
    get: () => store.get("t", "a"),
    update: () => store.update("t", "a", 2),
    updateVersioned: () => store.updateVersioned("t", "a", 2, 0),
    delete: () => store.delete("t", "a"),
    getAll: () => store.getAll("t"),
    changes: () => store.changes(0),
    batch: () => store.batch([]),
    stats: () => store.stats(),
    subscribe: () => store.subscribe({}, () => {}),
    watch: () => store.watch(),
  };
  for (const [name, f] of Object.entries(calls)) {
    onlyDetails(throwsCode(f, "CLOSED", {}, name));
  }
  // Even with arguments that would be invalid: CLOSED comes first.
  throwsCode(() => store.insert("", "", Symbol("x")), "CLOSED");
  throwsCode(() => store.changes(-1), "CLOSED");
});

test("closing ends subscriptions: no callbacks after close, stop still harmless", async () => {
  const store = await ActorStore.open({ wasm });
  const got = [];
  const errors = [];
  const stop = store.subscribe({}, (e) => got.push(e), (e) => errors.push(e));
  store.insert("t", "a", 1);
  store.close();
  await tick(5);
  assert.deepEqual(got, []);
  stop();
});
