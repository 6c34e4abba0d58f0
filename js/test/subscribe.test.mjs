// Subscriptions and watch(): start positions, filters, asynchronous and
// ordered exactly-once delivery, unsubscribing, and lagging subscribers.

import { test } from "node:test";
import assert from "node:assert/strict";
import { open, tick, assertCode, rejectsCode, throwsCode } from "./helpers.mjs";

// subscribe collects what a subscription delivers.
function subscribe(store, options) {
  const got = { events: [], errors: [] };
  got.stop = store.subscribe(options, (e) => got.events.push(e), (e) => got.errors.push(e));
  got.keys = () => got.events.map((e) => `${e.sequence}:${e.actorType}/${e.actorId}`);
  return got;
}

// A store with a fixed clock advanced by hand, holding events 1..5.
async function fiveEvents(t) {
  let now = 1000;
  const store = await open(t, { clock: () => now });
  for (const [type, id] of [["user", "u1"], ["user", "u2"], ["order", "o1"], ["user", "x1"], ["order", "u9"]]) {
    store.insert(type, id, { id });
    now += 1000;
  }
  return { store, setNow: (ms) => (now = ms) };
}

test("start positions: beginning, default, now, sequence, time (number and Date)", async (t) => {
  const { store } = await fiveEvents(t); // events 1..5 at 1000, 2000, … 5000 ms
  const subs = {
    beginning: subscribe(store, { from: "beginning" }),
    default: subscribe(store, {}),
    now: subscribe(store, { from: "now" }),
    seq3: subscribe(store, { from: { sequence: 3 } }),
    seq0: subscribe(store, { from: { sequence: 0 } }),
    seqFuture: subscribe(store, { from: { sequence: 7 } }),
    time: subscribe(store, { from: { time: 2500 } }),
    timeDate: subscribe(store, { from: { time: new Date(4000) } }),
    timeAfter: subscribe(store, { from: { time: 99999 } }),
  };
  await tick();
  const seqs = (s) => s.events.map((e) => e.sequence);
  assert.deepEqual(seqs(subs.beginning), [1, 2, 3, 4, 5]);
  assert.deepEqual(seqs(subs.default), [1, 2, 3, 4, 5]);
  assert.deepEqual(seqs(subs.now), []);
  assert.deepEqual(seqs(subs.seq3), [3, 4, 5]);
  assert.deepEqual(seqs(subs.seq0), [1, 2, 3, 4, 5]);
  assert.deepEqual(seqs(subs.seqFuture), []);
  assert.deepEqual(seqs(subs.time), [3, 4, 5]);
  assert.deepEqual(seqs(subs.timeDate), [4, 5]);
  assert.deepEqual(seqs(subs.timeAfter), []);

  store.insert("user", "u3", 6); // sequence 6
  store.insert("user", "u4", 7); // sequence 7
  await tick();
  assert.deepEqual(seqs(subs.beginning), [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(seqs(subs.now), [6, 7]);
  assert.deepEqual(seqs(subs.seqFuture), [7]);
  assert.deepEqual(seqs(subs.timeAfter), [6, 7], "events written after the subscription follow");
  for (const s of Object.values(subs)) assert.deepEqual(s.errors, []);
  assert.equal(store.stats().activeSubscriptions, Object.keys(subs).length);
  for (const s of Object.values(subs)) s.stop();
  assert.equal(store.stats().activeSubscriptions, 0);
});

test("events carry every field, decoded values and Date timestamps", async (t) => {
  const { store, setNow } = await fiveEvents(t);
  store.update("user", "u1", { id: "u1", n: 2 }); // at 6000 ms
  setNow(7000.75); // fractions of milliseconds are kept by the core, floored in the Date
  store.delete("user", "u1");
  const s = subscribe(store, { from: { sequence: 6 } });
  await tick();
  assert.deepEqual(s.events, [
    { sequence: 6, operation: "update", actorType: "user", actorId: "u1", previousValue: { id: "u1" }, previousVersion: 0,
      newValue: { id: "u1", n: 2 }, newVersion: 1, timestamp: new Date(6000) },
    { sequence: 7, operation: "delete", actorType: "user", actorId: "u1", previousValue: { id: "u1", n: 2 }, previousVersion: 1,
      newValue: undefined, newVersion: undefined, timestamp: new Date(7000) },
  ]);
  s.stop();
});

test("filters: actor type, key prefix, both, and a prefix matching nothing", async (t) => {
  const { store } = await fiveEvents(t);
  const byType = subscribe(store, { actorType: "order" });
  const byPrefix = subscribe(store, { keyPrefix: "u" });
  const both = subscribe(store, { actorType: "user", keyPrefix: "u" });
  const none = subscribe(store, { keyPrefix: "zz" });
  const typeIsExact = subscribe(store, { actorType: "use" });
  store.batch([
    { op: "insert", type: "order", id: "o2", value: 1 },
    { op: "insert", type: "user", id: "u5", value: 1 },
    { op: "delete", type: "user", id: "x1" },
  ]);
  await tick();
  assert.deepEqual(byType.keys(), ["3:order/o1", "5:order/u9", "6:order/o2"]);
  assert.deepEqual(byPrefix.keys(), ["1:user/u1", "2:user/u2", "5:order/u9", "7:user/u5"]);
  assert.deepEqual(both.keys(), ["1:user/u1", "2:user/u2", "7:user/u5"]);
  assert.deepEqual(none.keys(), []);
  assert.deepEqual(typeIsExact.keys(), []);
});

test("delivery is asynchronous: never inside the mutation, within a microtask after it", async (t) => {
  const store = await open(t);
  const seen = [];
  store.subscribe({ from: "now" }, (e) => seen.push(e.sequence));
  await tick();
  store.insert("t", "a", 1);
  assert.deepEqual(seen, [], "delivered synchronously inside insert");
  store.update("t", "a", 2);
  assert.deepEqual(seen, []);
  await Promise.resolve(); // the delivery microtask was queued by the first write
  await Promise.resolve();
  assert.deepEqual(seen, [1, 2], "not delivered within microtasks");
});

test("in order and exactly once across single writes, batches and re-entrant writes", async (t) => {
  const store = await open(t);
  const seen = [];
  store.subscribe({}, (e) => {
    seen.push(e.sequence);
    // A write from inside a callback is delivered too, after this one.
    if (e.actorId === "trigger") store.insert("t", "from-callback", 0);
  });
  for (let i = 0; i < 50; i++) store.insert("t", `k${i}`, i);
  await tick();
  store.batch(Array.from({ length: 30 }, (_, i) => ({ op: "update", type: "t", id: `k${i}`, value: -i })));
  store.insert("t", "trigger", 0);
  await tick();
  for (let i = 0; i < 20; i++) store.delete("t", `k${i}`);
  await tick(20);
  const total = store.stats().currentSequence;
  assert.equal(total, 50 + 30 + 2 + 20);
  assert.deepEqual(seen, Array.from({ length: total }, (_, i) => i + 1));
});

test("several subscribers each get every event once, whatever the others do", async (t) => {
  const store = await open(t);
  const a = subscribe(store, {});
  const b = subscribe(store, {});
  // c ends itself on its second event: a and b are unaffected.
  const c = { events: [] };
  c.stop = store.subscribe({}, (e) => {
    c.events.push(e.sequence);
    if (c.events.length === 2) c.stop();
  });
  store.batch([1, 2, 3, 4].map((i) => ({ op: "insert", type: "t", id: `${i}`, value: i })));
  await tick();
  store.insert("t", "5", 5);
  await tick();
  assert.deepEqual(a.events.map((e) => e.sequence), [1, 2, 3, 4, 5]);
  assert.deepEqual(b.events.map((e) => e.sequence), [1, 2, 3, 4, 5]);
  assert.deepEqual(c.events, [1, 2]);
  assert.equal(store.stats().activeSubscriptions, 2);
});

test("unsubscribing releases: the count drops and no callback follows, even for pending events", async (t) => {
  const store = await open(t);
  const before = store.stats().activeSubscriptions;
  const s = subscribe(store, {});
  assert.equal(store.stats().activeSubscriptions, before + 1);
  store.insert("t", "a", 1);
  s.stop(); // the event is pending delivery
  assert.equal(store.stats().activeSubscriptions, before);
  store.insert("t", "b", 1);
  await tick(10);
  assert.deepEqual(s.events, []);
  assert.deepEqual(s.errors, []);
  s.stop(); // idempotent
  assert.equal(store.stats().activeSubscriptions, before);
});

test("a subscriber left behind by the replay buffer gets COMPACTED through onError and ends", async (t) => {
  const store = await open(t, { replayBufferSize: 10 });
  store.insert("t", "first", 0); // sequence 1
  const s = subscribe(store, { from: "now" }); // wants sequence 2 on
  await tick();
  for (let i = 0; i < 50; i++) store.insert("t", `k${i}`, i); // sequences 2..51, buffer 42..51
  await tick();
  assert.deepEqual(s.events, [], "events after the gap must not be delivered");
  assert.equal(s.errors.length, 1);
  assertCode(s.errors[0], "COMPACTED", { requested: 2, oldest: 42 });
  assert.equal(store.stats().activeSubscriptions, 0, "the compacted subscription still counts");
  store.insert("t", "later", 0);
  await tick();
  assert.equal(s.events.length + s.errors.length, 1, "a compacted subscription got more");
  s.stop();
});

test("a subscriber that keeps up is not compacted by a small buffer", async (t) => {
  const store = await open(t, { replayBufferSize: 2 });
  const s = subscribe(store, {});
  for (let i = 0; i < 20; i++) {
    store.insert("t", `k${i}`, i);
    await tick();
  }
  assert.deepEqual(s.errors, []);
  assert.equal(s.events.length, 20);
});

test("subscribing from an evicted sequence is COMPACTED through onError", async (t) => {
  const store = await open(t, { replayBufferSize: 3 });
  for (let i = 0; i < 6; i++) store.insert("t", `k${i}`, i); // buffer 4..6
  const s = subscribe(store, { from: { sequence: 2 } });
  await tick();
  assert.deepEqual(s.events, []);
  assert.equal(s.errors.length, 1);
  assertCode(s.errors[0], "COMPACTED", { requested: 2, oldest: 4 });
  const ok = subscribe(store, { from: "beginning" });
  await tick();
  assert.deepEqual(ok.events.map((e) => e.sequence), [4, 5, 6]);
});

test("bad subscription arguments are INVALID_ARGUMENT", async (t) => {
  const store = await open(t);
  const f = () => {};
  throwsCode(() => store.subscribe({ from: "start" }, f), "INVALID_ARGUMENT");
  throwsCode(() => store.subscribe({ from: { sequence: -1 } }, f), "INVALID_ARGUMENT");
  throwsCode(() => store.subscribe({ from: { sequence: 1.5 } }, f), "INVALID_ARGUMENT");
  throwsCode(() => store.subscribe({ actorType: 3 }, f), "INVALID_ARGUMENT");
  throwsCode(() => store.subscribe({}, undefined), "INVALID_ARGUMENT");
  throwsCode(() => store.watch({ from: "start" }), "INVALID_ARGUMENT");
  assert.equal(store.stats().activeSubscriptions, 0);
});

// ---- watch() ----------------------------------------------------------------

test("watch yields retained and later events; break ends it and releases it", async (t) => {
  const store = await open(t);
  store.insert("user", "a", 1);
  store.insert("order", "b", 2);
  const seen = [];
  const writer = (async () => {
    await tick(5);
    store.insert("user", "c", 3);
    await tick(5);
    store.insert("user", "d", 4);
  })();
  assert.equal(store.stats().activeSubscriptions, 0);
  for await (const e of store.watch({ actorType: "user" })) {
    assert.equal(store.stats().activeSubscriptions, 1);
    seen.push(`${e.sequence}:${e.actorId}:${e.newValue}`);
    if (e.actorId === "d") break;
  }
  await writer;
  assert.deepEqual(seen, ["1:a:1", "3:c:3", "4:d:4"]);
  assert.equal(store.stats().activeSubscriptions, 0, "break did not release the watcher");
});

test("a watcher waiting for events wakes up on a write, and return() ends it", async (t) => {
  const store = await open(t);
  const it = store.watch({ from: "now" });
  const pending = it.next();
  let settled = false;
  pending.then(() => (settled = true));
  await tick(10);
  assert.equal(settled, false, "next() resolved without an event");
  store.insert("t", "a", "v");
  const r = await pending;
  assert.equal(r.done, false);
  assert.equal(r.value.actorId, "a");
  assert.deepEqual(await it.return(), { value: undefined, done: true });
  assert.deepEqual(await it.next(), { value: undefined, done: true });
  assert.equal(store.stats().activeSubscriptions, 0);
});

test("watch from an evicted sequence rejects with COMPACTED", async (t) => {
  const store = await open(t, { replayBufferSize: 2 });
  for (let i = 0; i < 5; i++) store.insert("t", `k${i}`, i);
  const it = store.watch({ from: { sequence: 1 } });
  await rejectsCode(it.next(), "COMPACTED", { requested: 1, oldest: 4 });
  assert.equal(store.stats().activeSubscriptions, 0);
  assert.deepEqual(await it.next(), { value: undefined, done: true });
});

test("a watcher that falls behind rejects with COMPACTED in for await", async (t) => {
  const store = await open(t, { replayBufferSize: 5 });
  store.insert("t", "k0", 0);
  const seen = [];
  await rejectsCode((async () => {
    for await (const e of store.watch()) {
      seen.push(e.sequence);
      // Write more than the buffer holds before reading on.
      for (let i = 1; i <= 20; i++) store.insert("t", `k${seen.length}-${i}`, i);
    }
  })(), "COMPACTED", { requested: 2, oldest: 17 });
  assert.deepEqual(seen, [1]);
  assert.equal(store.stats().activeSubscriptions, 0);
});

test("close ends watchers and subscriptions", async (t) => {
  const store = await open(t);
  const it = store.watch({ from: "now" });
  const pending = it.next();
  const s = subscribe(store, {});
  store.insert("t", "a", 1);
  store.close();
  assert.deepEqual(await pending, { value: undefined, done: true });
  await tick();
  assert.deepEqual(s.events, [], "a subscription got an event after close");
  s.stop(); // harmless after close
});
