// The conformance vectors through replicas (tests/vectors/*.json): each
// vector runs on a replica of a real `actorstore serve` (started with the
// vector's limits, its store reset to empty by POST /v1/restore), writes
// sent to the server, reads local — the same expectations as the embedded
// store, but for timestamps (the server's clock; vectors that set or read
// times are skipped, and counted).
//   cd js && node --test test/replica-conformance.test.mjs

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { WebSocket } from "ws";
import * as actorstore from "../actorstore.js";
import { runVectorFile, usesTime } from "./vectors.js";
import { startServer } from "./serve.mjs";
import { wasm } from "./helpers.mjs";

const dir = new URL("../../tests/vectors/", import.meta.url);
const names = readdirSync(dir).filter((n) => n.endsWith(".json")).sort();
const FLAGS = { replayBufferSize: "--replay-buffer-size", replayBufferBytes: "--replay-buffer-bytes",
  maxValueBytes: "--max-value-bytes", maxDataBytes: "--max-data-bytes" };

// The empty store's snapshot, restored on the server before each vector.
const empty = await actorstore.ActorStore.open({ wasm });
const EMPTY = empty.snapshot();
await empty.close();

// Servers by their limits; a few kept running.
const servers = new Map();
async function serverFor(limits) {
  const key = JSON.stringify(limits);
  let s = servers.get(key);
  if (s) {
    servers.delete(key);
    servers.set(key, s); // most recently used last
    return s;
  }
  if (servers.size >= 3) {
    const [oldKey, old] = servers.entries().next().value;
    servers.delete(oldKey);
    await old.stop();
    old.remove();
  }
  const args = Object.entries(limits).flatMap(([k, v]) => [FLAGS[k], String(v)]);
  s = await startServer(args);
  servers.set(key, s);
  return s;
}
after(async () => {
  for (const s of servers.values()) {
    await s.stop();
    s.remove();
  }
});

async function replica(limits) {
  const s = await serverFor(limits);
  const res = await fetch(`${s.url}/v1/restore`, { method: "POST", body: EMPTY });
  if (!res.ok) throw new Error(`restore: ${res.status} ${await res.text()}`);
  return actorstore.ActorStore.connect({ url: s.url, WebSocket, wasm, raw: true, ...limits });
}

const totals = { passed: 0, skipped: 0 };

for (const name of names) {
  test(name, async () => {
    const file = JSON.parse(readFileSync(new URL(name, dir), "utf8"));
    const r = await runVectorFile(actorstore, file, { host: "node", wasm, replica });
    totals.passed += r.passed;
    totals.skipped += r.skipped;
    const report = r.failures.map((f) => `- ${f.vector}: ${f.message}`).join("\n");
    assert.equal(r.failures.length, 0, `${r.failures.length} failing vectors in ${name}:\n${report}`);
    const skip = file.vectors.filter((v) => (v.hosts && !v.hosts.includes("node")) || usesTime(v)).length;
    assert.equal(r.skipped, skip, "only vectors for other hosts and vectors of times are skipped");
    assert.equal(r.passed + r.skipped, file.vectors.length);
  });
}

test("most vectors ran through replicas", () => {
  assert.ok(totals.passed >= 100, `only ${totals.passed} vectors passed`);
  assert.ok(totals.skipped <= 15, `${totals.skipped} vectors skipped`);
});
