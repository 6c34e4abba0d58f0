// store.snapshot() and store.restore(bytes) of the JS host (in memory; the
// persisted side is in persist.test.mjs), and snapshots across hosts: the
// Go host's tests/crosshost/go.snap, when present, restores in JS to the
// state the Go host had, and the JS host writes the same bytes for it.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { ActorStore } from "../actorstore.js";
import { wasm, open, tick, throwsCode, hex, dump } from "./helpers.mjs";


async function filled(t, options = {}) {
  let now = 1_700_000_000_000.5;
  const store = await open(t, { clock: () => (now += 0.25), ...options });
  for (let i = 0; i < 200; i++) store.insert(i % 2 ? "user" : "card", `id${i}`, { i, s: "v".repeat(i) });
  for (let i = 0; i < 50; i++) store.update("user", `id${2 * i + 1}`, { updated: i });
  store.batch([{ op: "delete", type: "card", id: "id0" }, { op: "delete", type: "card", id: "absent" },
    { op: "insert", type: "card", id: "new", value: [1, 2, 3] }]);
  return store;
}

test("snapshot then restore into a fresh store gives the same state, sequences and replay buffer", async (t) => {
  const a = await filled(t, { replayBufferSize: 100 });
  const snap = a.snapshot();
  assert.ok(snap instanceof Uint8Array);
  assert.equal(new TextDecoder().decode(snap.subarray(0, 8)), "ACTORSNP");
  const want = dump(a, ["user", "card"]);
  assert.ok(want.stats.eventsDropped > 0);
  const b = await open(t, { replayBufferSize: 100 });
  b.insert("other", "x", 1); // replaced entirely
  b.restore(snap);
  assert.deepEqual(dump(b, ["user", "card", "other"]), want);
  assert.equal(hex(b.snapshot()), hex(snap), "the same state makes the same bytes");
  // Both go on alike.
  a.insert("user", "next", 1);
  b.insert("user", "next", 1);
  assert.equal(b.stats().currentSequence, want.stats.currentSequence + 1);
  // A snapshot is a moment: writes after it are not in it.
  const c = await open(t, { replayBufferSize: 100 });
  c.restore(snap);
  assert.equal(c.get("user", "next"), undefined);
});

test("restore of garbage or a truncated stream: INVALID_ARGUMENT, store unchanged", async (t) => {
  const a = await filled(t);
  const snap = a.snapshot();
  const b = await open(t);
  b.insert("user", "keep", { me: true });
  const before = dump(b, ["user", "card"]);
  const cuts = [0, 1, 7, 8, 9, 20, snap.length >> 1, snap.length - 5, snap.length - 1];
  for (const n of cuts) {
    throwsCode(() => b.restore(snap.subarray(0, n)), "INVALID_ARGUMENT", {}, `restore of the first ${n} bytes`);
    assert.deepEqual(dump(b, ["user", "card"]), before);
  }
  for (const at of [0, 8, 12, 40, snap.length >> 1, snap.length - 2]) {
    const bad = snap.slice();
    bad[at] ^= 0x55;
    throwsCode(() => b.restore(bad), "INVALID_ARGUMENT", {}, `restore with byte ${at} flipped`);
    assert.deepEqual(dump(b, ["user", "card"]), before);
  }
  const extra = new Uint8Array(snap.length + 3);
  extra.set(snap);
  throwsCode(() => b.restore(extra), "INVALID_ARGUMENT", {}, "trailing bytes");
  throwsCode(() => b.restore([1, 2, 3]), "INVALID_ARGUMENT");
  assert.deepEqual(dump(b, ["user", "card"]), before);
  b.insert("user", "still", 1);
  // An ArrayBuffer is taken too.
  b.restore(snap.slice().buffer);
  assert.deepEqual(dump(b, ["user", "card"]), dump(a, ["user", "card"]));
});

test("snapshot and restore of an empty store", async (t) => {
  const a = await open(t);
  const snap = a.snapshot();
  const b = await open(t);
  b.insert("user", "x", 1);
  b.restore(snap);
  assert.equal(b.stats().currentSequence, 0);
  assert.equal(b.stats().actors, 0);
  assert.equal(b.insert("user", "x", 1).version, 0);
  assert.equal(b.stats().currentSequence, 1);
});

test("subscribers see events written after a restore", async (t) => {
  const a = await filled(t);
  const snap = a.snapshot();
  const seq = a.stats().currentSequence;
  const b = await open(t);
  b.restore(snap);
  const got = [];
  b.subscribe({ from: "now" }, (e) => got.push(e.sequence));
  b.insert("user", "after", 1);
  await tick();
  assert.deepEqual(got, [seq + 1]);
});

test("a restore ends subscriptions and watchers made before it with RESTORED", async (t) => {
  const a = await filled(t);
  const snap = a.snapshot();
  const b = await open(t);
  b.insert("user", "before", 1);
  const errors = [];
  const got = [];
  b.subscribe({ from: "now" }, (e) => got.push(e), (err) => errors.push(err.code));
  const w = b.watch({ from: "now" })[Symbol.asyncIterator]();
  const pending = w.next().then(() => "no error", (e) => e.code);
  await tick();
  b.restore(snap);
  b.insert("user", "after", 1);
  await tick();
  assert.deepEqual(errors, ["RESTORED"]);
  assert.deepEqual(got, []);
  assert.equal(await pending, "RESTORED");
});

test("snapshot and restore after close: CLOSED", async () => {
  const s = await ActorStore.open({ wasm });
  await s.close();
  throwsCode(() => s.snapshot(), "CLOSED");
  throwsCode(() => s.restore(new Uint8Array(1)), "CLOSED");
});

// ---- Go → JS ----------------------------------------------------------------

const cross = new URL("../../tests/crosshost/", import.meta.url);
const goSnap = new URL("go.snap", cross);

test("the Go host's snapshot (tests/crosshost/go.snap) restores in JS", { skip: !existsSync(goSnap) && "no tests/crosshost/go.snap yet" }, async (t) => {
  const snap = new Uint8Array(readFileSync(goSnap));
  const store = await open(t, { raw: true });
  store.restore(snap);
  // The expected state: a JSON file beside it (go.snap.json or
  // go_snap.json: actors, events, stats as in go_store.json), else
  // go_store.json (go.snap is then the store script.json made there).
  const name = ["go.snap.json", "go_snap.json", "go_store.json"].find((f) => existsSync(new URL(f, cross)));
  const want = JSON.parse(readFileSync(new URL(name, cross), "utf8"));
  const types = [...new Set(want.actors.map((a) => a.type))];
  const got = {
    actors: types.flatMap((type) => store.getAll(type)).map((a) => ({ type: a.type, id: a.id, valueHex: hex(a.value), version: a.version })),
    events: store.changes(store.stats().oldestSequence - 1, { limit: 100_000 }).events.map((e) => ({
      sequence: e.sequence, operation: e.operation, actorType: e.actorType, actorId: e.actorId,
      previousValueHex: e.previousValue && hex(e.previousValue), previousVersion: e.previousVersion,
      newValueHex: e.newValue && hex(e.newValue), newVersion: e.newVersion, timestamp: e.timestamp.getTime(),
    })),
  };
  const st = store.stats();
  const stats = Object.fromEntries(Object.keys(want.stats ?? {}).map((k) => [k, st[k]]));
  assert.deepEqual(JSON.parse(JSON.stringify(got.actors)), want.actors, `actors of go.snap vs ${name}`);
  if (want.events) assert.deepEqual(JSON.parse(JSON.stringify(got.events)), want.events, `events of go.snap vs ${name}`);
  assert.deepEqual(stats, want.stats ?? {}, `stats of go.snap vs ${name}`);
  // The same state snapshots to the same bytes on the JS host.
  assert.equal(hex(store.snapshot()), hex(snap), "JS writes other snapshot bytes for the same state");
});
