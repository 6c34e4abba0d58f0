// Persistence of the JS host (ActorStore.open({ persist })), in Node on
// fake-indexeddb (a fresh IDBFactory per test) and a small fake of
// navigator.locks (the Web Locks API with ifAvailable). The browser runs the
// same code on the real IndexedDB in web-demo/e2e.

import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { IDBFactory, IDBKeyRange } from "fake-indexeddb";
import { ActorStore, RawCBOR, encodeValue } from "../actorstore.js";
import { wasm, tick, throwsCode, rejectsCode, assertCode, hex, dump as dumpTypes } from "./helpers.mjs";

// ---- environment -----------------------------------------------------------

// fakeLocks is navigator.locks reduced to what the store uses: exclusive
// locks, with ifAvailable giving the callback null when the name is held.
function fakeLocks() {
  const held = new Set();
  return {
    held,
    async request(name, options, callback) {
      if (held.has(name)) {
        if (options?.ifAvailable) return callback(null);
        throw new Error("fakeLocks: only ifAvailable is implemented");
      }
      held.add(name);
      try {
        return await callback({ name, mode: "exclusive" });
      } finally {
        held.delete(name);
      }
    },
  };
}

let locks;
beforeEach(() => {
  globalThis.indexedDB = new IDBFactory();
  globalThis.IDBKeyRange = IDBKeyRange;
  locks = fakeLocks();
  Object.defineProperty(globalThis, "navigator", { value: { locks }, configurable: true, writable: true });
});

const DB = (name) => `actorstore:${name}`;

/** Opens a persisted store; closed (awaited) when t ends unless closed before. */
async function openP(t, name = "t", options = {}) {
  const { persist, ...rest } = options;
  const store = await ActorStore.open({ wasm, ...rest, persist: { name, ...persist } });
  t.after(() => store.close());
  return store;
}

// readDB reads the database of name through a separate connection:
// { meta, log: [[key, bytes]], snapshotKeys }.
async function readDB(name) {
  const db = await new Promise((resolve, reject) => {
    const r = indexedDB.open(DB(name));
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  try {
    const tx = db.transaction(["meta", "log", "snapshot"], "readonly");
    const get = (r) => new Promise((resolve, reject) => {
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const [meta, keys, values, snapshotKeys] = await Promise.all([
      get(tx.objectStore("meta").get("snapshot")),
      get(tx.objectStore("log").getAllKeys()),
      get(tx.objectStore("log").getAll()),
      get(tx.objectStore("snapshot").getAllKeys()),
    ]);
    // log: every record as [its first sequence, its bytes]; values: the
    // IndexedDB values as [key, bytes], each holding a group of records.
    return { meta, log: values.flatMap(splitValue), values: keys.map((k, i) => [k, values[i]]), snapshotKeys };
  } finally {
    db.close();
  }
}

// uvarint reads the uvarint at b[p]: [value, offset after it].
function uvarint(b, p) {
  let v = 0;
  for (let mul = 1; ; mul *= 128) {
    const c = b[p++];
    v += (c & 127) * mul;
    if (c < 128) return [v, p];
  }
}

// splitValue splits a log value into its records, as [first sequence, bytes].
function splitValue(v) {
  const out = [];
  for (let p = 0; p < v.length;) {
    const [n, q] = uvarint(v, p);
    const rec = v.subarray(q, q + n);
    out.push([uvarint(rec, 1)[0], rec]);
    p = q + n;
  }
  return out;
}

// joinRecords makes one log value of records.
function joinRecords(recs) {
  const parts = [];
  for (const r of recs) {
    const len = [];
    for (let n = r.length; ; n = Math.floor(n / 128)) {
      if (n < 128) {
        len.push(n);
        break;
      }
      len.push((n % 128) | 128);
    }
    parts.push(...len, ...r);
  }
  return Uint8Array.from(parts);
}

// writeDB runs f(tx) in a readwrite transaction on the database of name.
async function writeDB(name, f) {
  const db = await new Promise((resolve, reject) => {
    const r = indexedDB.open(DB(name));
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  await new Promise((resolve, reject) => {
    const tx = db.transaction(["meta", "log", "snapshot"], "readwrite");
    f(tx);
    tx.oncomplete = resolve;
    tx.onabort = () => reject(tx.error);
  });
  db.close();
}

// dump is helpers.mjs's, over the types these tests write.
const dump = (store, types = ["user", "card", "raw"]) => dumpTypes(store, types);

// workload makes every kind of mutation, failing ones and ones without an
// event included, at clock times with sub-millisecond parts.
function workload(store, clock) {
  clock.now = 1_700_000_000_000.1235;
  store.insert("user", "u1", { name: "Ann", tags: ["a", "b"], n: 2 ** 40 });
  clock.now += 1.5;
  store.insert("user", "u2", "two");
  store.insert("card", "c1", { title: "Write docs", column: "todo" });
  store.update("user", "u1", { name: "Ann B." });
  store.updateVersioned("card", "c1", { title: "Write docs", column: "doing" }, 0);
  throwsCode(() => store.updateVersioned("card", "c1", {}, 0), "VERSION_MISMATCH");
  throwsCode(() => store.insert("user", "u1", 1), "ALREADY_EXISTS");
  assert.equal(store.delete("user", "nobody"), undefined);
  store.delete("user", "u2");
  clock.now = -5.25; // before 1970
  store.batch([
    { op: "insert", type: "user", id: "u3", value: { big: 12345678901234567890n } },
    { op: "delete", type: "user", id: "absent" },
    { op: "updateVersioned", type: "card", id: "c1", value: { title: "x", column: "done" }, expected: 1 },
    { op: "update", type: "user", id: "u3", value: new Uint8Array([1, 2, 3]) },
  ]);
  throwsCode(() => store.batch([
    { op: "insert", type: "user", id: "u4", value: 1 },
    { op: "update", type: "user", id: "nobody", value: 1 },
  ]), "NOT_FOUND");
  store.batch([{ op: "delete", type: "user", id: "absent" }]); // no event: no record
  clock.now = 1_800_000_000_000;
  store.insert("user", "ü-ñ", { emoji: "😀" });
  store.insert("raw", "r1", new RawCBOR(Uint8Array.of(0xd9, 0x01, 0x02, 0x01))); // tag 258 around 1
}

// ---- tests ------------------------------------------------------------------

test("write, flush, reopen: the same state, sequences and replay buffer", async (t) => {
  const clock = { now: 0 };
  const opts = { clock: () => clock.now };
  let store = await openP(t, "w", opts);
  workload(store, clock);
  const before = dump(store);
  assert.equal(before.stats.currentSequence, 11);
  await store.flush();
  assert.equal(store.pendingWrites, 0);
  await store.close();

  store = await openP(t, "w", opts);
  assert.deepEqual(dump(store), before);
  // Timestamps were recorded exactly: the events' ns survive in the log.
  const db = await readDB("w");
  assert.deepEqual(db.log.map(([k]) => k), [1, 2, 3, 4, 5, 6, 7, 10, 11]);
  assert.equal(db.meta, undefined, "no snapshot yet");
  // Sequences go on from where they were.
  assert.equal(store.insert("user", "u9", 9).version, 0);
  assert.equal(store.stats().currentSequence, 12);
  const after = dump(store);
  await store.close();
  store = await openP(t, "w", opts);
  assert.deepEqual(dump(store), after);

  // A subscriber resuming by sequence gets the same events after a reload.
  const got = [];
  store.subscribe({ from: { sequence: 10 } }, (e) => got.push(e));
  await tick();
  assert.deepEqual(got, after.events.filter((e) => e.sequence >= 10));
});

test("records are the v1 mutation record bytes", async (t) => {
  let now = 1000.000001; // 1,000,000,001 ns
  const store = await openP(t, "rec", { clock: () => now });
  store.insert("t", "a", 1);
  now = -0.000001; // -1 ns
  store.updateVersioned("t", "a", "x", 0);
  store.batch([
    { op: "delete", type: "t", id: "zz" }, // absent: still one of the record's ops
    { op: "delete", type: "t", id: "a" },
  ]);
  await store.flush();
  const { log } = await readDB("rec");
  const ts = (ns) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigInt64(0, ns, true);
    return hex(b);
  };
  assert.deepEqual(log.map(([k, v]) => [k, hex(v)]), [
    [1, `0101${ts(1_000_000_001n)}01 01 0174 0161 0101`.replaceAll(" ", "")],
    [2, `0102${ts(-1n)}01 03 0174 0161 026178 00`.replaceAll(" ", "")],
    [3, `0103${ts(-1n)}02 04 0174 027a7a 04 0174 0161`.replaceAll(" ", "")],
  ]);
});

test("pendingWrites counts records not yet committed", async (t) => {
  const store = await openP(t, "pw");
  assert.equal(store.pendingWrites, 0);
  store.insert("user", "a", 1);
  store.insert("user", "b", 2);
  throwsCode(() => store.insert("user", "a", 1), "ALREADY_EXISTS");
  store.delete("user", "absent");
  store.batch([{ op: "update", type: "user", id: "a", value: 3 }, { op: "delete", type: "user", id: "b" }]);
  assert.equal(store.pendingWrites, 3, "two inserts and a batch; no failures, no event-less delete");
  const f = store.flush();
  store.insert("user", "c", 4); // after the flush call
  await f;
  assert.ok(store.pendingWrites <= 1);
  assert.deepEqual((await readDB("pw")).log.slice(0, 3).map(([k]) => k), [1, 2, 3], "what came before the flush is committed");
  await store.flush();
  assert.equal(store.pendingWrites, 0);
  assert.deepEqual((await readDB("pw")).log.map(([k]) => k), [1, 2, 3, 5]);
});

test("one transaction per turn: writes of one task commit together", async (t) => {
  const store = await openP(t, "turn");
  for (let i = 0; i < 1000; i++) store.insert("user", `u${i}`, i);
  assert.equal(store.pendingWrites, 1000);
  await store.flush();
  assert.equal(store.pendingWrites, 0);
  const db = await readDB("turn");
  assert.equal(db.log.length, 1000);
  assert.deepEqual(db.values.map(([k]) => k), [1000], "one value holds the turn's records, keyed by the last");
  // A flush with nothing queued resolves at once.
  await store.flush();
});

test("compaction: snapshot, meta switch, log trimmed, state kept", async (t) => {
  const opts = { replayBufferSize: 50, persist: { snapshotRecords: 40 } };
  let store = await openP(t, "cmp", opts);
  for (let round = 0; round < 10; round++) {
    for (let i = 0; i < 20; i++) store.insert("user", `r${round}-${i}`, { round, i, pad: "x".repeat(50) });
    store.update("user", `r${round}-0`, { updated: round });
    await tick();
  }
  await store.flush();
  let db;
  for (let i = 0; i < 200; i++) {
    db = await readDB("cmp");
    if (db.meta && store.pendingWrites === 0) break;
    await tick(5);
  }
  assert.ok(db.meta, "a snapshot was written");
  assert.ok(db.meta.seq > 0 && db.meta.chunks >= 1, JSON.stringify(db.meta));
  assert.ok(db.values.every(([k]) => k > db.meta.seq), "the log holds only values with records after the snapshot");
  assert.ok(db.log.length < 210, `${db.log.length} records left`);
  assert.ok(db.snapshotKeys.every(([g]) => g === db.meta.generation), "older snapshots are gone");
  const before = dump(store);
  assert.equal(before.stats.eventsDropped, 210 - 50);
  await store.close();
  store = await openP(t, "cmp", opts);
  assert.deepEqual(dump(store), before);
  store.insert("user", "later", 1);
  assert.equal(store.stats().currentSequence, 211);
});

test("compaction of a large store while writes go on", async (t) => {
  const big = "y".repeat(512 * 1024);
  const opts = { persist: { snapshotBytes: 5 << 20 } };
  let store = await openP(t, "big", opts);
  for (let i = 0; i < 12; i++) store.insert("card", `big${i}`, { i, big });
  // The threshold is passed: the snapshot is pulled a few MiB per task while
  // these writes go on (copy-on-write in the module).
  for (let i = 0; i < 30; i++) {
    store.update("card", `big${i % 12}`, { i, small: true });
    store.insert("user", `w${i}`, i);
    await tick();
  }
  let db;
  for (let i = 0; i < 200; i++) {
    await store.flush();
    db = await readDB("big");
    if (db.meta) break;
    await tick(5);
  }
  assert.ok(db.meta, "a snapshot was written");
  assert.ok(db.meta.chunks > 1, `${db.meta.chunks} chunks`);
  const before = dump(store);
  await store.close();
  store = await openP(t, "big", opts);
  assert.deepEqual(dump(store), before);
});

test("close() finishes a snapshot being taken and waits for the writes", async (t) => {
  const store = await openP(t, "cl", { persist: { snapshotRecords: 10 } });
  for (let i = 0; i < 25; i++) store.insert("user", `u${i}`, i);
  await tick(); // the snapshot begins
  const p = store.close();
  assert.ok(p instanceof Promise);
  assert.equal(store.close(), p, "idempotent: the same promise");
  throwsCode(() => store.get("user", "u1"), "CLOSED");
  await p;
  const db = await readDB("cl");
  assert.equal(db.meta?.seq, 25);
  assert.deepEqual(db.log, []);
  const again = await openP(t, "cl");
  assert.equal(again.stats().currentSequence, 25);
  assert.equal(again.getAll("user").length, 25);
});

test("an in-memory store: close() resolves, flush resolves, pendingWrites 0", async () => {
  const store = await ActorStore.open({ wasm });
  store.insert("user", "a", 1);
  assert.equal(store.pendingWrites, 0);
  await store.flush();
  await store.close();
});

test("LOCKED: one store per name; released by close", async (t) => {
  const a = await openP(t, "lock");
  a.insert("user", "a", 1);
  const e = await rejectsCode(ActorStore.open({ wasm, persist: { name: "lock" } }), "LOCKED");
  assert.match(e.message, /"lock" is open in another tab or window/);
  await rejectsCode(ActorStore.deletePersisted("lock"), "LOCKED");
  // Another name is another database.
  const other = await openP(t, "lock2");
  assert.equal(other.stats().currentSequence, 0);
  await a.close();
  assert.equal(locks.held.has("actorstore:lock"), false, "the lock is released");
  const b = await openP(t, "lock");
  assert.equal(b.get("user", "a").value, 1);
});

test("UNAVAILABLE without IndexedDB or Web Locks: never a silent memory store", async () => {
  const idb = globalThis.indexedDB;
  delete globalThis.indexedDB;
  let e = await rejectsCode(ActorStore.open({ wasm, persist: { name: "x" } }), "UNAVAILABLE");
  assert.match(e.message, /IndexedDB/);
  await rejectsCode(ActorStore.deletePersisted("x"), "UNAVAILABLE");
  globalThis.indexedDB = idb;
  globalThis.navigator = {};
  e = await rejectsCode(ActorStore.open({ wasm, persist: { name: "x" } }), "UNAVAILABLE");
  assert.match(e.message, /navigator\.locks/);
  delete globalThis.navigator;
  await rejectsCode(ActorStore.open({ wasm, persist: { name: "x" } }), "UNAVAILABLE");
});

test("persist options are checked", async () => {
  for (const persist of [{}, { name: "" }, { name: 3 }, "name", { name: "a", snapshotBytes: 0 }, { name: "a", snapshotRecords: 1.5 }]) {
    await rejectsCode(ActorStore.open({ wasm, persist }), "INVALID_ARGUMENT");
  }
  await rejectsCode(ActorStore.deletePersisted(""), "INVALID_ARGUMENT");
  assert.equal(locks.held.size, 0);
});

test("deletePersisted wipes the store", async (t) => {
  const a = await openP(t, "del");
  a.insert("user", "a", 1);
  await a.close();
  await ActorStore.deletePersisted("del");
  const b = await openP(t, "del");
  assert.equal(b.stats().currentSequence, 0);
  assert.equal(b.get("user", "a"), undefined);
  await ActorStore.deletePersisted("never-made"); // nothing to delete: fine
  assert.equal(locks.held.size, 1, "only b's lock");
});

test("restore on a persisted store: garbage leaves all as it was; a snapshot is persisted", async (t) => {
  const src = await ActorStore.open({ wasm });
  for (let i = 0; i < 30; i++) src.insert("card", `c${i}`, { i });
  src.delete("card", "c3");
  const snap = src.snapshot();
  const want = dump(src);
  await src.close();

  let store = await openP(t, "rs");
  store.insert("user", "mine", 1);
  store.insert("user", "mine2", 2);
  await store.flush();
  const before = dump(store);
  for (const bad of [new Uint8Array(0), Uint8Array.of(1, 2, 3), snap.subarray(0, snap.length - 1),
    snap.subarray(0, 40), new TextEncoder().encode("ACTORSNP but not really a snapshot")]) {
    throwsCode(() => store.restore(bad), "INVALID_ARGUMENT");
    assert.deepEqual(dump(store), before);
    assert.equal(store.pendingWrites, 0, "nothing queued");
  }
  throwsCode(() => store.restore("not bytes"), "INVALID_ARGUMENT");
  store.insert("user", "still-works", 3);

  store.restore(snap);
  assert.deepEqual(dump(store), want);
  assert.equal(store.pendingWrites, 2, "the insert and the restore");
  store.insert("card", "after", { after: true });
  const after = dump(store);
  await store.close();
  const db = await readDB("rs");
  assert.equal(db.meta.seq, 31);
  assert.deepEqual(db.log.map(([k]) => k), [32], "the log was cleared by the restore");
  store = await openP(t, "rs");
  assert.deepEqual(dump(store), after);
});

test("CORRUPT: a log record that does not replay, a gap, a missing chunk", async (t) => {
  let store = await openP(t, "bad");
  for (let i = 0; i < 5; i++) store.insert("user", `u${i}`, i);
  await store.close();

  const recs = (await readDB("bad")).log.map(([, r]) => r.slice());
  assert.equal(recs.length, 5);
  const rewrite = (rs) => writeDB("bad", (tx) => {
    tx.objectStore("log").clear();
    tx.objectStore("log").put(joinRecords(rs), 5);
  });
  await rewrite([...recs.slice(0, 3), Uint8Array.of(1, 4, 0, 0), recs[4]]);
  let e = await rejectsCode(ActorStore.open({ wasm, persist: { name: "bad" } }), "CORRUPT");
  assert.match(e.message, /log record at sequence 4/);
  assert.equal(locks.held.size, 0, "a failed open releases the lock");

  await rewrite([...recs.slice(0, 3), recs[4]]);
  e = await rejectsCode(ActorStore.open({ wasm, persist: { name: "bad" } }), "CORRUPT");
  assert.match(e.message, /log record at sequence 5/, "a gap");

  await writeDB("bad", (tx) => tx.objectStore("log").put(Uint8Array.of(200, 1, 1), 9));
  e = await rejectsCode(ActorStore.open({ wasm, persist: { name: "bad" } }), "CORRUPT");
  assert.match(e.message, /log value 9 is malformed/, "a cut value");

  await ActorStore.deletePersisted("bad");
  store = await openP(t, "bad", { persist: { snapshotRecords: 3 } });
  for (let i = 0; i < 5; i++) store.insert("user", `u${i}`, i);
  await tick();
  await store.close();
  const db = await readDB("bad");
  assert.ok(db.meta);
  await writeDB("bad", (tx) => tx.objectStore("meta").put({ ...db.meta, chunks: db.meta.chunks + 1 }, "snapshot"));
  e = await rejectsCode(ActorStore.open({ wasm, persist: { name: "bad" } }), "CORRUPT");
  assert.match(e.message, /chunks/);
  await writeDB("bad", (tx) => {
    tx.objectStore("meta").put(db.meta, "snapshot");
    tx.objectStore("snapshot").put(Uint8Array.of(0, 1, 2), [db.meta.generation, 0]);
  });
  e = await rejectsCode(ActorStore.open({ wasm, persist: { name: "bad" } }), "CORRUPT");
  assert.match(e.message, /snapshot at sequence \d+ is unreadable/);
});

test("STORAGE: a failed write closes the store; flush rejects; CLOSED names the cause", async (t) => {
  const store = await openP(t, "fail");
  store.insert("user", "a", 1);
  await store.flush();
  // Someone deletes the database under the store: its connection closes,
  // and the next write fails.
  await new Promise((resolve, reject) => {
    const r = indexedDB.deleteDatabase(DB("fail"));
    r.onsuccess = resolve;
    r.onerror = () => reject(r.error);
  });
  store.insert("user", "b", 2);
  const e = await rejectsCode(store.flush(), "STORAGE");
  assert.match(e.message, /IndexedDB/);
  assert.equal(store.closed, true);
  const c = throwsCode(() => store.insert("user", "c", 3), "CLOSED");
  assert.match(c.message, /IndexedDB write failed/);
  assert.equal(c.cause, e);
  await rejectsCode(store.flush(), "STORAGE");
  await store.close(); // the failure was reported: close just releases the name
  assert.equal(locks.held.size, 0);
});

test("a persisted raw store replays raw values byte for byte", async (t) => {
  const bytes = encodeValue({ a: [1, 2, { b: null }] });
  let store = await openP(t, "raw", { raw: true });
  store.insert("raw", "x", bytes);
  store.batch([{ op: "insert", type: "raw", id: "y", value: Uint8Array.of(0xf6) }]);
  await store.close();
  store = await openP(t, "raw", { raw: true });
  assert.equal(hex(store.get("raw", "x").value), hex(bytes));
  assert.equal(hex(store.get("raw", "y").value), "f6");
});

test("a store opened with other replay-buffer options keeps the persisted events it can", async (t) => {
  let store = await openP(t, "opts", { replayBufferSize: 100 });
  for (let i = 0; i < 30; i++) store.insert("user", `u${i}`, i);
  await store.close();
  store = await openP(t, "opts", { replayBufferSize: 10 });
  const st = store.stats();
  assert.equal(st.currentSequence, 30);
  assert.equal(st.actors, 30);
  assertCode((() => { try { store.changes(0); } catch (e) { return e; } })(), "COMPACTED");
});

test("a persisted store too big for the options it is reopened with: STORE_FULL, not CORRUPT", async (t) => {
  let store = await openP(t, "full", { persist: { snapshotRecords: 5 } });
  for (let i = 0; i < 12; i++) store.insert("user", `u${i}`, "z".repeat(1000));
  await tick();
  await store.close();
  assert.ok((await readDB("full")).meta, "a snapshot and a log");
  const e = await rejectsCode(ActorStore.open({ wasm, maxDataBytes: 3000, persist: { name: "full" } }), "STORE_FULL");
  assert.match(e.message, /does not fit this open's maxDataBytes/);
  store = await openP(t, "full");
  assert.equal(store.stats().actors, 12);
});
