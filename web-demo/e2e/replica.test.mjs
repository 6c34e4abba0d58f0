// Replicas in Chromium (ActorStore.connect in a page) against real
// `actorstore serve` processes on another origin (--allow-origin: CORS and
// the WebSocket origin check for real):
//
//   node --test web-demo/e2e/replica.test.mjs   (from the repository root)
//
//   - two pages (separate browser contexts) see each other's writes live;
//     a stale write gets VERSION_MISMATCH;
//   - a persisted replica with the server killed: writes queue, a reload
//     keeps them (IndexedDB) and the state readable, and when the server is
//     back each goes out once, the conflict rejecting;
//   - two tabs on one name: one connection; the follower writes through the
//     leader; the leader closed, the follower leads with its queue;
//   - measurements: initial sync of 100k actors of 100-byte values, apply
//     rate of a burst of remote changes, write round trips (p50/p99).
// Any console error or page error fails it (failed requests while the
// server is down are expected and not counted).

import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { startServer as startStore } from "../../js/test/serve.mjs";
import { stateFrames } from "../../js/test/frames.js";
import { build, CHROMIUM, eventually, launchChromium, startDemo } from "./browser.mjs";

function watchPage(page, problems) {
  page.on("console", (m) => {
    // A refused connection while the server is down is the browser's own report.
    if (m.type() === "error" && !/ERR_CONNECTION_REFUSED|WebSocket connection to .* failed|the server responded with a status of (4(04|09|12)|503)/.test(m.text())) {
      problems.push(`console error: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.stack || e.message}`));
}

async function http(s, method, p, body) {
  const res = await fetch(s.url + p, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function serverDigest(s) {
  const b = new Uint8Array(await (await fetch(`${s.url}/v1/snapshot`)).arrayBuffer());
  return crypto.createHash("sha256").update(stateFrames(b)).digest("hex");
}

test("replicas in Chromium", { timeout: 600_000 }, async (t) => {
  assert.ok(fs.existsSync(CHROMIUM), `Chromium not found at ${CHROMIUM}: apt-get install chromium, or set CHROMIUM`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "actorstore-replica-e2e-"));
  const bin = path.join(tmp, "web-demo");
  await build(bin, "./web-demo");
  const demo = await startDemo(bin);
  const origin = new URL(demo.url).origin;
  const browser = await launchChromium();
  // step runs one part, unless ACTORSTORE_E2E_ONLY names another
  // (./build.sh bench runs only the measurements this way).
  const only = process.env.ACTORSTORE_E2E_ONLY;
  const step = (name, fn) => t.test(name, { skip: only && !name.includes(only) && `ACTORSTORE_E2E_ONLY=${only}` }, fn);
  const stores = [];
  const store = async (args = []) => {
    const s = await startStore(["--allow-origin", origin, ...args]);
    stores.push(s);
    return s;
  };
  const open = async (context, problems) => {
    const page = await context.newPage();
    watchPage(page, problems);
    await page.goto(`${demo.url}/e2e/replica.html`);
    await page.waitForSelector("body[data-ready=true]", { state: "attached", timeout: 20_000 });
    page.h = (f, ...args) => page.evaluate(([f, args]) => window.replicaHarness[f](...args), [f, args]);
    return page;
  };
  try {
    await step("two pages see each other's writes; a stale write conflicts", async () => {
      const s = await store();
      const problems = [];
      const p1 = await open(await browser.newContext(), problems);
      const p2 = await open(await browser.newContext(), problems);
      assert.equal((await p1.h("connect", s.url)).status, "online");
      await p2.h("connect", s.url);
      await p1.h("write", "w1", "insert", "card", "c1", { col: "todo" });
      assert.deepEqual((await p1.h("outcome", "w1")).ok, { type: "card", id: "c1", value: { col: "todo" }, version: 0 });
      await eventually(async () => assert.equal((await p2.h("get", "card", "c1"))?.version, 0));
      await p2.h("write", "w2", "updateVersioned", "card", "c1", { col: "doing" }, 0);
      assert.equal((await p2.h("outcome", "w2")).ok.version, 1);
      await eventually(async () => assert.equal((await p1.h("get", "card", "c1"))?.value.col, "doing"));
      await p1.h("write", "w3", "updateVersioned", "card", "c1", { col: "stale" }, 0);
      const conflict = (await p1.h("outcome", "w3")).error;
      assert.deepEqual([conflict.code, conflict.expected, conflict.actual], ["VERSION_MISMATCH", 0, 1]);
      const d = await serverDigest(s);
      assert.equal(await p1.h("snapshotDigest"), d, "page 1's snapshot is the server's");
      assert.equal(await p2.h("snapshotDigest"), d, "page 2's snapshot is the server's");
      assert.deepEqual(problems, []);
      await p1.context().close();
      await p2.context().close();
    });

    await step("persisted: with the server down writes queue, a reload keeps them, they go out once each", async () => {
      const s = await store();
      const problems = [];
      const context = await browser.newContext();
      const page = await open(context, problems);
      await page.h("connect", s.url, { persist: { name: "e2e" } });
      await page.h("write", "a", "insert", "card", "c1", { col: "todo" });
      await page.h("outcome", "a");
      await s.kill();
      await eventually(async () => assert.equal(await page.h("status"), "offline"));
      await page.h("write", "b", "update", "card", "c1", { col: "doing" });
      await page.h("write", "c", "insert", "card", "c2", { col: "todo" });
      await page.h("write", "d", "updateVersioned", "card", "c1", { col: "stale" }, 0);
      assert.deepEqual((await page.h("pending")).map((w) => [w.op, w.id]), [["update", "c1"], ["insert", "c2"], ["updateVersioned", "c1"]]);
      // Give IndexedDB its moment, then reload with the server still down.
      await new Promise((r) => setTimeout(r, 300));
      await page.reload();
      await page.waitForSelector("body[data-ready=true]", { state: "attached" });
      const again = await page.h("connect", s.url, { persist: { name: "e2e" } });
      assert.notEqual(again.status, "online");
      assert.equal((await page.h("get", "card", "c1")).value.col, "todo", "readable offline after the reload");
      assert.deepEqual((await page.h("pending")).map((w) => [w.op, w.id]), [["update", "c1"], ["insert", "c2"], ["updateVersioned", "c1"]]);
      await s.start();
      await eventually(async () => assert.equal((await page.h("settled")).length, 3));
      const settled = await page.h("settled");
      assert.deepEqual(settled.map((x) => [x.op, x.id, x.version ?? x.error?.code]),
        [["update", "c1", 1], ["insert", "c2", 0], ["updateVersioned", "c1", "VERSION_MISMATCH"]]);
      assert.equal(await page.h("status"), "online");
      assert.deepEqual(await page.h("pending"), []);
      const feed = (await http(s, "GET", "/v1/changes?since=0")).body.events;
      assert.deepEqual(feed.map((e) => [e.operation, e.id]), [["insert", "c1"], ["update", "c1"], ["insert", "c2"]]);
      await eventually(async () => assert.equal(await page.h("snapshotDigest"), await serverDigest(s)));
      assert.deepEqual(problems, []);
      await context.close();
    });

    await step("two tabs on one name: one connection, both live; the leader closed, the other leads with its queue", async () => {
      const s = await store();
      const problems = [];
      const context = await browser.newContext();
      const tab1 = await open(context, problems);
      const tab2 = await open(context, problems);
      await tab1.h("connect", s.url, { persist: { name: "tabs" } });
      await tab2.h("connect", s.url, { persist: { name: "tabs" } });
      const watchers = async () => (await http(s, "GET", "/v1/stats")).body.activeSubscriptions;
      await eventually(async () => assert.equal(await watchers(), 1, "one watch for the name"));
      await tab2.h("write", "x", "insert", "card", "t2", { by: 2 });
      assert.equal((await tab2.h("outcome", "x")).ok.version, 0);
      await eventually(async () => assert.equal((await tab1.h("get", "card", "t2"))?.version, 0));
      await http(s, "POST", "/v1/actors/card/h", { by: "http" });
      await eventually(async () => assert.ok(await tab2.h("get", "card", "h")));
      // Offline: tab 2's write waits in tab 1's queue; tab 1 goes.
      await s.kill();
      await eventually(async () => assert.equal(await tab2.h("status"), "offline"));
      await tab2.h("write", "y", "update", "card", "t2", { by: 2, again: true });
      await eventually(async () => assert.equal((await tab1.h("pending")).length, 1));
      await tab1.close();
      await s.start();
      assert.equal((await tab2.h("outcome", "y")).ok.version, 1);
      await eventually(async () => assert.equal(await tab2.h("status"), "online"));
      await eventually(async () => assert.equal(await watchers(), 1));
      const feed = (await http(s, "GET", "/v1/changes?since=0")).body.events;
      assert.deepEqual(feed.map((e) => [e.operation, e.id]), [["insert", "t2"], ["insert", "h"], ["update", "t2"]]);
      assert.deepEqual(problems, []);
      await context.close();
    });

    await step("measurements: initial sync of 100k actors, apply rate, write round trips", async () => {
      const s = await store();
      const N = 100_000;
      const value = { title: "a card of about a hundred bytes once encoded as CBOR, more or less", n: 0 };
      for (let i = 0; i < N; i += 1000) {
        const ops = [];
        for (let j = i; j < i + 1000; j++) ops.push({ op: "insert", type: "card", id: `c${String(j).padStart(6, "0")}`, value: { ...value, n: j } });
        assert.equal((await http(s, "POST", "/v1/batch", { ops })).status, 200);
      }
      const problems = [];
      const context = await browser.newContext();
      const page = await open(context, problems);
      const heap0 = await page.h("heap");
      const c = await page.h("connect", s.url);
      assert.equal(c.actors, N);
      const heap1 = await page.h("heap");
      console.log(`chromium replica: initial sync of ${N} actors in ${c.ms.toFixed(0)} ms (snapshot fetch, restore, watch open); JS heap +${((heap1 - heap0) / 1e6).toFixed(1)} MB`);
      const pct = (times, q) => times[Math.min(times.length - 1, Math.floor(q * times.length))].toFixed(2);
      const roundTrips = async (pg, srv, what) => {
        const times = await pg.h("roundTrips", 500);
        console.log(`chromium replica (${what}): write round trip (call to resolved promise, replica updated): p50 ${pct(times, 0.5)} ms, p99 ${pct(times, 0.99)} ms`);
        const raw = await pg.h("rawRoundTrips", srv.url, 300);
        console.log(`chromium (${what}): its parts, a bare fetch PUT and a bare batched watch: HTTP answer p50 ${pct(raw.http, 0.5)} ms ` +
          `(p99 ${pct(raw.http, 0.99)}), the event on the watch p50 ${pct(raw.event, 0.5)} ms (p99 ${pct(raw.event, 0.99)}); ` +
          `a GET of the same URL p50 ${pct(raw.get, 0.5)} ms; an insert at a new URL (its own CORS preflight) p50 ${pct(raw.fresh, 0.5)} ms`);
      };
      await roundTrips(page, s, "--sync never");
      // A burst the replica missed (within the server's replay buffer),
      // replayed when it reconnects.
      const from = await page.h("seq");
      const burst = 9_000;
      await page.h("cut");
      await eventually(async () => assert.equal(await page.h("status"), "offline"));
      for (let i = 0; i < burst; i += 1000) {
        const ops = [];
        for (let j = i; j < i + 1000; j++) ops.push({ op: "update", type: "card", id: `c${String(j).padStart(6, "0")}`, value: { ...value, n: -j } });
        assert.equal((await http(s, "POST", "/v1/batch", { ops })).status, 200);
      }
      const r = await page.h("catchUp", from + burst);
      console.log(`chromium replica: caught up on ${r.events} remote events in ${r.ms.toFixed(0)} ms from the watch opening: ` +
        `${Math.round(r.events / (r.ms / 1000)).toLocaleString("en-US")} events/s (the server's sending included)`);
      for (const batch of [false, true]) {
        const raw = await page.h("rawWatch", s.url, from + 1, burst, batch);
        console.log(`chromium: a bare WebSocket watch (${batch ? "batch=1" : "one event a message"}) receives the same ${raw.events} events ` +
          `in ${raw.messages} messages in ${raw.ms.toFixed(0)} ms: ${Math.round(raw.events / (raw.ms / 1000)).toLocaleString("en-US")} events/s`);
      }
      assert.equal(await page.h("snapshotDigest"), await serverDigest(s));
      // Round trips again on a server that syncs every write to disk.
      const durable = await store(["--sync", "always"]);
      const page2 = await open(context, problems);
      await page2.h("connect", durable.url);
      await roundTrips(page2, durable, "--sync always");
      assert.deepEqual(problems, []);
      await context.close();
    });
  } finally {
    await browser.close();
    await demo.stop();
    for (const s of stores) {
      await s.stop();
      s.remove();
    }
  }
});
