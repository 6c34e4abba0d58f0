// Replicas (ActorStore.connect) against real `actorstore serve` processes:
// convergence byte for byte, read-your-writes, errors, offline queues,
// re-syncs after COMPACTED and after a restore, tokens, persistence (on
// fake-indexeddb and a fake of navigator.locks). Node has no WebSocket of
// its own before 22: the ws package is passed in.

import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { IDBFactory, IDBKeyRange } from "fake-indexeddb";
import { WebSocket } from "ws";
import { ActorStore, encodeValue } from "../actorstore.js";
import { wasm, rejectsCode, hex } from "./helpers.mjs";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { buildServer, startServer } from "./serve.mjs";
import { stateFrames } from "./frames.js";

// same is the replica's state and feed as the server's, byte for byte
// (their snapshots' meta, actor and event frames).
const same = (replicaSnapshot, serverSnapshot) => hex(stateFrames(replicaSnapshot)) === hex(stateFrames(serverSnapshot));

// ---- environment -----------------------------------------------------------

// fakeLocks is navigator.locks reduced to exclusive locks: ifAvailable
// gives the callback null when the name is held; otherwise requests wait
// in line.
function fakeLocks() {
  const held = new Map(); // name -> waiting grants
  return {
    async request(name, options, callback) {
      if (typeof options === "function") {
        callback = options;
        options = {};
      }
      if (held.has(name)) {
        if (options?.ifAvailable) return callback(null);
        await new Promise((resolve) => held.get(name).push(resolve));
      } else {
        held.set(name, []);
      }
      try {
        return await callback({ name, mode: "exclusive" });
      } finally {
        const next = held.get(name).shift();
        if (next) next();
        else held.delete(name);
      }
    },
  };
}

beforeEach(() => {
  globalThis.indexedDB = new IDBFactory();
  globalThis.IDBKeyRange = IDBKeyRange;
  Object.defineProperty(globalThis, "navigator", { value: { locks: fakeLocks() }, configurable: true, writable: true });
});

// A WebSocket whose connections the test can cut and refuse (gate.shut).
function gatedWebSocket() {
  const gate = { shut: false, sockets: new Set() };
  gate.WebSocket = class extends WebSocket {
    constructor(url, protocols) {
      super(gate.shut ? "ws://127.0.0.1:1/" : url, protocols);
      gate.sockets.add(this);
      this.addEventListener("close", () => gate.sockets.delete(this));
    }
  };
  gate.cut = () => {
    gate.shut = true;
    for (const s of gate.sockets) s.terminate();
  };
  return gate;
}

async function server(t, args = []) {
  const s = await startServer(args);
  t.after(async () => {
    await s.stop();
    s.remove();
  });
  return s;
}

async function connect(t, s, options = {}) {
  const r = await ActorStore.connect({ url: s.url, WebSocket, wasm, minDelay: 20, maxDelay: 200, ...options });
  t.after(() => r.close());
  return r;
}

async function http(s, method, path, body, headers = {}) {
  const res = await fetch(s.url + path, { method, body: body === undefined ? undefined : JSON.stringify(body), headers });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function serverSnapshot(s) {
  const res = await fetch(`${s.url}/v1/snapshot`);
  return { bytes: new Uint8Array(await res.arrayBuffer()), seq: Number(res.headers.get("actor-store-sequence")) };
}

async function serverSequence(s) {
  return (await http(s, "GET", "/v1/stats")).body.currentSequence;
}

/** Waits until f() is true, up to ms. */
async function until(f, what, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function nextEvent(target, type) {
  return new Promise((resolve) => target.addEventListener(type, (e) => resolve(e.detail), { once: true }));
}

// ---- tests -------------------------------------------------------------------

// goClient runs the actorstore CLI (the Go client, package client) against s.
async function goClient(s, ...args) {
  return promisify(execFile)(await buildServer(), [...args, "--server", s.url], { timeout: 30_000 });
}

test("two replicas, the Go client and plain HTTP writing at once converge to the server's state and feed, byte for byte", async (t) => {
  const s = await server(t);
  for (let i = 0; i < 20; i++) assert.equal((await http(s, "POST", `/v1/actors/card/pre${i}`, { n: i })).status, 201);
  const a = await connect(t, s);
  const b = await connect(t, s, { raw: true });
  assert.equal(a.status, "online");
  assert.equal(a.stats().currentSequence, 20);
  assert.deepEqual(a.get("card", "pre7"), { type: "card", id: "pre7", value: { n: 7 }, version: 0 });
  const seen = [];
  b.subscribe({ from: "now" }, (ev) => seen.push(ev));
  const writes = [];
  for (let i = 0; i < 60; i++) {
    writes.push(a.insert("card", `a${i}`, { by: "a", i, blob: new Uint8Array([i, 0, 255]) }));
    writes.push(b.update("card", `pre${i % 20}`, encodeValue({ by: "b", i })));
    writes.push(http(s, "PUT", `/v1/actors/card/pre${(i * 7) % 20}`, { by: "http", i }));
    if (i % 10 === 9) writes.push(a.batch([{ op: "delete", type: "card", id: `a${i - 1}` }, { op: "insert", type: "other", id: `o${i}`, value: [i] }]));
    if (i % 6 === 0) writes.push(goClient(s, "insert", "go", `g${i}`, JSON.stringify({ by: "go", i, big: 2 ** 60 })));
  }
  await Promise.all(writes);
  const seq = await serverSequence(s);
  await until(() => a.stats().currentSequence === seq && b.stats().currentSequence === seq, "both replicas at the server's sequence");
  const snap = await serverSnapshot(s);
  assert.equal(snap.seq, seq);
  assert.ok(stateFrames(snap.bytes).length > 10_000, "the comparison covers the actors and events");
  assert.ok(same(a.snapshot(), snap.bytes), "replica a's snapshot is the server's");
  assert.ok(same(b.snapshot(), snap.bytes), "replica b's snapshot is the server's");
  await until(() => seen.length === seq - 20, "b's subscriber saw every event");
  assert.deepEqual(seen.map((e) => e.sequence), Array.from({ length: seq - 20 }, (_, i) => 21 + i));
  // The feed as the server serves it.
  const page = (await http(s, "GET", `/v1/changes?since=20&limit=10000`)).body;
  assert.deepEqual(page.events.map((e) => [e.sequence, e.operation, e.type, e.id, e.newVersion, new Date(e.timestamp).getTime()]),
    a.changes(20, { limit: 10000 }).events.map((e) => [e.sequence, e.operation, e.actorType, e.actorId, e.newVersion ?? null, e.timestamp.getTime()]));
});

test("writes resolve once the replica has them, and reject with the store's codes", async (t) => {
  const s = await server(t);
  const r = await connect(t, s);
  const a = await r.insert("user", "u1", { name: "Ann" });
  assert.deepEqual(a, { type: "user", id: "u1", value: { name: "Ann" }, version: 0 });
  assert.deepEqual(r.get("user", "u1"), a, "read your writes");
  const b = await r.updateVersioned("user", "u1", { name: "Ann B." }, 0);
  assert.equal(b.version, 1);
  assert.equal(r.get("user", "u1").version, 1);
  await rejectsCode(r.updateVersioned("user", "u1", { name: "stale" }, 0), "VERSION_MISMATCH", { expected: 0, actual: 1 });
  await rejectsCode(r.insert("user", "u1", 1), "ALREADY_EXISTS");
  await rejectsCode(r.update("user", "nobody", 1), "NOT_FOUND");
  assert.equal(await r.delete("user", "nobody"), undefined);
  await rejectsCode(r.batch([{ op: "insert", type: "user", id: "u2", value: 1 }, { op: "insert", type: "user", id: "u1", value: 1 }]),
    "ALREADY_EXISTS", { index: 1 });
  assert.equal(r.get("user", "u2"), undefined, "a failed batch changes nothing");
  await rejectsCode(r.insert("", "x", 1), "INVALID_KEY");
  await rejectsCode(r.insert("user", "\ud800", 1), "INVALID_KEY");
  await rejectsCode(r.insert("user", "f", () => {}), "INVALID_VALUE");
  const results = await r.batch([{ op: "update", type: "user", id: "u1", value: 3 }, { op: "delete", type: "user", id: "none" },
    { op: "insert", type: "user", id: ".", value: "dot" }]);
  assert.deepEqual(results, [{ actor: { type: "user", id: "u1", value: 3, version: 2 }, found: true },
    { actor: undefined, found: false }, { actor: { type: "user", id: ".", value: "dot", version: 0 }, found: true }]);
  assert.deepEqual(r.get("user", "."), { type: "user", id: ".", value: "dot", version: 0 });
  assert.deepEqual(await r.update("user", "..", 1).catch((e) => e.code), "NOT_FOUND", "dot ids go through the batch route");
  assert.deepEqual(await r.delete("user", "u1"), { type: "user", id: "u1", value: 3, version: 2 });
  assert.equal(r.get("user", "u1"), undefined);
  assert.equal(r.stats().currentSequence, await serverSequence(s));
  assert.deepEqual(r.pendingWrites, []);
});

test("offline: writes queue in order, go out once each when the server is back, conflicts reject their own promise", async (t) => {
  const s = await server(t);
  const r = await connect(t, s);
  await r.insert("card", "c1", { col: "todo" });
  const statuses = [];
  r.addEventListener("status", (e) => statuses.push(e.detail.status));
  await s.kill();
  await until(() => r.status === "offline", "offline");
  assert.deepEqual(r.get("card", "c1").value, { col: "todo" }, "reads go on offline");
  const w1 = r.update("card", "c1", { col: "doing" });
  const w2 = r.insert("card", "c2", { col: "todo" });
  const w3 = r.updateVersioned("card", "c1", { col: "stale" }, 0); // c1 is at 1 once w1 is through
  w3.catch(() => {}); // its rejection is checked below, and may come before w1 and w2 are awaited
  const w4 = r.batch([{ op: "update", type: "card", id: "c2", value: { col: "done" } }]);
  assert.deepEqual(r.pendingWrites.map((w) => [w.op, w.id ?? w.ops[0].id]), [["update", "c1"], ["insert", "c2"], ["updateVersioned", "c1"], ["batch", "c2"]]);
  assert.equal(r.pendingWrites[0].value.col, "doing");
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(r.pendingWrites.length, 4, "nothing goes out while the server is down");
  await s.start();
  assert.equal((await w1).version, 1);
  assert.equal((await w2).version, 0);
  await rejectsCode(w3, "VERSION_MISMATCH", { expected: 0, actual: 1 });
  assert.equal((await w4)[0].actor.version, 1);
  assert.equal(r.status, "online");
  assert.ok(statuses.includes("offline") && statuses.at(-1) === "online", `statuses ${statuses}`);
  assert.deepEqual(r.pendingWrites, []);
  const feed = (await http(s, "GET", "/v1/changes?since=0")).body.events;
  assert.deepEqual(feed.map((e) => [e.operation, e.id, e.newVersion]),
    [["insert", "c1", 0], ["update", "c1", 1], ["insert", "c2", 0], ["update", "c2", 1]], "each write once, in order");
  assert.ok(same(r.snapshot(), (await serverSnapshot(s)).bytes));
});

test("a replica that fell out of the server's replay buffer re-syncs from a snapshot and tells its subscribers", async (t) => {
  const s = await server(t, ["--replay-buffer-size", "10"]);
  const gate = gatedWebSocket();
  const r = await connect(t, s, { WebSocket: gate.WebSocket });
  await r.insert("n", "0", 0);
  const errors = [];
  r.subscribe({ from: "now" }, () => {}, (e) => errors.push(e));
  const resync = nextEvent(r, "resync");
  gate.cut();
  await until(() => r.status === "offline", "offline");
  for (let i = 1; i <= 30; i++) assert.equal((await http(s, "POST", `/v1/actors/n/${i}`, i)).status, 201);
  gate.shut = false;
  const d = await resync;
  assert.equal(d.reason, "COMPACTED");
  assert.equal(d.sequence, 31);
  await until(() => errors.length === 1, "the subscriber is told");
  assert.equal(errors[0].code, "RESTORED");
  assert.equal(r.getAll("n").length, 31);
  await until(() => r.status === "online", "online again");
  assert.ok(same(r.snapshot(), (await serverSnapshot(s)).bytes));
  // And it follows on from there.
  await r.insert("n", "after", 1);
  assert.equal(r.stats().currentSequence, 32);
});

test("a restore on the server re-syncs its replicas (RESTORED)", async (t) => {
  const s = await server(t);
  const r = await connect(t, s);
  await r.insert("k", "before", 1);
  const other = await ActorStore.open({ wasm });
  other.insert("k", "restored", 2);
  other.insert("k", "restored2", 3);
  const bytes = other.snapshot();
  await other.close();
  const resync = nextEvent(r, "resync");
  assert.equal((await fetch(`${s.url}/v1/restore`, { method: "POST", body: bytes })).status, 200);
  const d = await resync;
  assert.equal(d.reason, "RESTORED");
  assert.equal(d.sequence, 2);
  assert.equal(r.get("k", "before"), undefined);
  assert.equal(r.get("k", "restored2").value, 3);
  assert.ok(same(r.snapshot(), bytes));
});

test("a token goes in the WebSocket subprotocol, never in a URL; a wrong one fails connect", async (t) => {
  const s = await server(t, ["--token", "s3cr/t+"]);
  const r = await connect(t, s, { token: "s3cr/t+" });
  await r.insert("a", "1", 1);
  assert.equal(r.status, "online");
  await rejectsCode(ActorStore.connect({ url: s.url, WebSocket, wasm, token: "wrong" }), "UNAUTHORIZED");
  await rejectsCode(ActorStore.connect({ url: s.url, WebSocket, wasm }), "UNAUTHORIZED");
  assert.ok(!s.log().includes("s3cr"), "the token is not in the server's log");
});

test("persisted: the state and queued writes survive a reload; a replica offline opens readable", async (t) => {
  const s = await server(t);
  const p1 = await ActorStore.connect({ url: s.url, WebSocket, wasm, persist: { name: "board" }, minDelay: 20, maxDelay: 200 });
  await p1.insert("card", "c1", { t: "kept" });
  await p1.close();
  await s.kill();
  const p2 = await ActorStore.connect({ url: s.url, WebSocket, wasm, persist: { name: "board" }, minDelay: 20, maxDelay: 200 });
  assert.notEqual(p2.status, "online");
  assert.deepEqual(p2.get("card", "c1").value, { t: "kept" }, "readable from IndexedDB with the server down");
  const lost = p2.insert("card", "c2", { t: "queued" });
  const conflict = p2.updateVersioned("card", "c1", { t: "stale" }, 7);
  assert.equal(p2.pendingWrites.length, 2);
  const closed = [rejectsCode(lost, "CLOSED"), rejectsCode(conflict, "CLOSED")];
  await p2.close();
  await Promise.all(closed);
  const p3 = await ActorStore.connect({ url: s.url, WebSocket, wasm, persist: { name: "board" }, minDelay: 20, maxDelay: 200 });
  t.after(() => p3.close());
  assert.deepEqual(p3.pendingWrites.map((w) => [w.op, w.id]), [["insert", "c2"], ["updateVersioned", "c1"]], "the queue came back");
  const settled = [];
  p3.addEventListener("settled", (e) => settled.push(e.detail));
  await s.start();
  await until(() => settled.length === 2, "both queued writes settled");
  assert.equal(settled[0].write.id, "c2");
  assert.equal(settled[0].result.version, 0);
  assert.equal(settled[1].error.code, "VERSION_MISMATCH");
  assert.equal(settled[1].error.actual, 0);
  await until(() => p3.get("card", "c2") !== undefined, "c2 applied");
  const feed = (await http(s, "GET", "/v1/changes?since=0")).body.events;
  assert.deepEqual(feed.map((e) => [e.operation, e.id]), [["insert", "c1"], ["insert", "c2"]], "the queued insert went out once");
});

test("a persisted replica whose server lost its history re-syncs (DIVERGED) instead of following the wrong feed", async (t) => {
  const s = await server(t);
  const p1 = await ActorStore.connect({ url: s.url, WebSocket, wasm, persist: { name: "d" }, minDelay: 20, maxDelay: 200 });
  await p1.insert("a", "1", 1);
  await p1.insert("a", "2", 2);
  await p1.close();
  // The server starts over in a new directory: sequence 2 is now another event.
  await s.stop();
  s.remove();
  const s2 = await startServer([], {});
  t.after(async () => {
    await s2.stop();
    s2.remove();
  });
  await http(s2, "POST", "/v1/actors/b/1", 1);
  await http(s2, "POST", "/v1/actors/b/2", 2);
  await http(s2, "POST", "/v1/actors/b/3", 3);
  const p2 = await ActorStore.connect({ url: s2.url, WebSocket, wasm, persist: { name: "d" }, minDelay: 20, maxDelay: 200 });
  t.after(() => p2.close());
  await until(() => p2.stats().currentSequence === 3, "re-synced");
  assert.equal(p2.get("a", "1"), undefined);
  assert.equal(p2.getAll("b").length, 3);
  assert.ok(same(p2.snapshot(), (await serverSnapshot(s2)).bytes));
});

test("tabs: one connection per name; the others read the leader's changes and write through it; the next leads when it goes", async (t) => {
  const s = await server(t);
  const gate = gatedWebSocket();
  const opts = { WebSocket: gate.WebSocket, persist: { name: "tabs" } };
  const a = await connect(t, s, opts);
  const b = await connect(t, s, opts);
  assert.equal(gate.sockets.size, 1, "one connection for the name");
  assert.equal(b.status, "online", "the follower shows the leader's status");
  await a.insert("card", "a1", { by: "a" });
  const fromB = await b.insert("card", "b1", { by: "b" });
  assert.deepEqual(fromB, { type: "card", id: "b1", value: { by: "b" }, version: 0 });
  assert.deepEqual(b.get("card", "b1"), fromB, "read your writes in the follower");
  await until(() => b.get("card", "a1") !== undefined, "the follower has the leader's writes");
  await http(s, "POST", "/v1/actors/card/h1", { by: "http" });
  await until(() => a.get("card", "h1") && b.get("card", "h1"), "both tabs have the server's changes");
  await rejectsCode(b.updateVersioned("card", "a1", {}, 5), "VERSION_MISMATCH", { expected: 5, actual: 0 });
  assert.equal(gate.sockets.size, 1);
  // Offline, the follower's write waits in the leader's queue; the leader goes.
  await s.kill();
  await until(() => b.status === "offline", "the follower shows offline");
  const queued = b.update("card", "b1", { by: "b", again: true });
  await until(() => a.pendingWrites.length === 1 && b.pendingWrites.length === 1, "the queue is shared");
  await a.close();
  await until(() => b.pendingWrites.length === 1 && b.status !== "online", "b leads, with the queue");
  await s.start();
  const done = await queued;
  assert.equal(done.version, 1);
  assert.equal(b.get("card", "b1").value.again, true);
  assert.equal(gate.sockets.size, 1, "b's own connection");
  const feed = (await http(s, "GET", "/v1/changes?since=0")).body.events;
  assert.deepEqual(feed.map((e) => [e.operation, e.id]), [["insert", "a1"], ["insert", "b1"], ["insert", "h1"], ["update", "b1"]],
    "the queued write went out once");
  assert.ok(same(b.snapshot(), (await serverSnapshot(s)).bytes));
});

test("the watch is batched: a replica behind reads many events a message, and a server batch lands in one task", async (t) => {
  const s = await server(t);
  const gate = gatedWebSocket();
  const urls = [];
  let messages = 0;
  class Counting extends gate.WebSocket {
    constructor(url, protocols) {
      super(url, protocols);
      urls.push(url);
      this.addEventListener("message", () => messages++);
    }
  }
  const r = await connect(t, s, { WebSocket: Counting });
  assert.match(urls[0], /[?&]batch=1(&|$)/);
  gate.cut();
  await until(() => r.status === "offline", "offline");
  for (let i = 0; i < 300; i++) assert.equal((await http(s, "POST", `/v1/actors/n/${i}`, i)).status, 201);
  messages = 0;
  gate.shut = false;
  await until(() => r.stats().currentSequence === 300, "caught up");
  assert.ok(messages < 30, `300 events came in ${messages} messages`);
  assert.ok(same(r.snapshot(), (await serverSnapshot(s)).bytes));

  // A server batch of 50: the replica's subscriber sees its first event
  // with all 50 applied already.
  const seen = [];
  r.subscribe({ from: "now" }, (ev) => seen.push([ev.sequence, r.get("b", "49") !== undefined]));
  const ops = Array.from({ length: 50 }, (_, i) => ({ op: "insert", type: "b", id: `${i}`, value: i }));
  assert.equal((await http(s, "POST", "/v1/batch", { ops })).status, 200);
  await until(() => seen.length === 50, "the batch's events");
  assert.deepEqual(seen[0], [301, true]);
  assert.deepEqual(seen.map(([seq]) => seq), Array.from({ length: 50 }, (_, i) => 301 + i));
});
