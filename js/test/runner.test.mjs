// Tests of the conformance runner vectors.js itself, mirroring
// tests/runner_test.go: a wrong expectation must fail at its step, and the
// loader must refuse malformed vectors instead of passing them vacuously.

import { test } from "node:test";
import assert from "node:assert/strict";
import * as actorstore from "../actorstore.js";
import { runVectorFile } from "./vectors.js";

// base passes; each mutation replaces LAST by a step with one wrong detail.
const base = `{"name": "meta", "rule": "runner", "steps": [
 {"op": "insert", "type": "t", "id": "a", "valueHex": "01"},
 {"op": "update", "type": "t", "id": "a", "value": {"k": [1, "x"]}},
 LAST]}`;

const goodLast = `{"op": "get", "type": "t", "id": "a", "expect": {"actor": {"type": "t", "id": "a", "value": {"k": [1, "x"]}, "version": 1}}}`;

const mutations = {
  version: `{"op": "get", "type": "t", "id": "a", "expect": {"actor": {"type": "t", "id": "a", "value": {"k": [1, "x"]}, "version": 2}}}`,
  value: `{"op": "get", "type": "t", "id": "a", "expect": {"actor": {"type": "t", "id": "a", "value": {"k": [1, "y"]}, "version": 1}}}`,
  "value with an extra key": `{"op": "get", "type": "t", "id": "a", "expect": {"actor": {"type": "t", "id": "a", "value": {"k": [1, "x"], "j": 1}, "version": 1}}}`,
  "value number as string": `{"op": "get", "type": "t", "id": "a", "expect": {"actor": {"type": "t", "id": "a", "value": {"k": ["1", "x"]}, "version": 1}}}`,
  valueHex: `{"op": "get", "type": "t", "id": "a", "expect": {"actor": {"type": "t", "id": "a", "valueHex": "01", "version": 1}}}`,
  absent: `{"op": "get", "type": "t", "id": "a", "expect": {"absent": true}}`,
  present: `{"op": "get", "type": "t", "id": "b", "expect": {"actor": {"type": "t", "id": "b", "valueHex": "01", "version": 0}}}`,
  "error code": `{"op": "insert", "type": "t", "id": "a", "valueHex": "01", "expect": {"error": {"code": "NOT_FOUND"}}}`,
  "no error": `{"op": "insert", "type": "t", "id": "b", "valueHex": "01", "expect": {"error": {"code": "ALREADY_EXISTS"}}}`,
  mismatch: `{"op": "updateVersioned", "type": "t", "id": "a", "valueHex": "01", "expected": 0, "expect": {"error": {"code": "VERSION_MISMATCH", "expected": 0, "actual": 2}}}`,
  "batch index": `{"op": "batch", "ops": [{"op": "insert", "type": "t", "id": "b", "valueHex": "01"}, {"op": "insert", "type": "t", "id": "a", "valueHex": "01"}], "expect": {"error": {"code": "ALREADY_EXISTS", "index": 0}}}`,
  "batch result": `{"op": "batch", "ops": [{"op": "delete", "type": "t", "id": "zz"}], "expect": {"results": [{"actor": {"type": "t", "id": "zz", "valueHex": "01", "version": 0}}]}}`,
  "no events": `{"op": "insert", "type": "t", "id": "b", "valueHex": "01", "events": []}`,
  event: `{"op": "delete", "type": "t", "id": "a", "events": [{"sequence": 3, "operation": "delete", "actorType": "t", "actorId": "a", "previousValue": {"k": [1, "x"]}, "previousVersion": 0, "timestamp": 1700000002000}]}`,
  timestamp: `{"op": "delete", "type": "t", "id": "a", "events": [{"sequence": 3, "operation": "delete", "actorType": "t", "actorId": "a", "previousValue": {"k": [1, "x"]}, "previousVersion": 1, "timestamp": 1700000001000}]}`,
  "extra new": `{"op": "changes", "since": 0, "limit": 1, "expect": {"events": [{"sequence": 1, "operation": "insert", "actorType": "t", "actorId": "a", "newValueHex": "02", "newVersion": 0, "timestamp": 1700000000000}], "next": 1}}`,
  "missing previous": `{"op": "changes", "since": 1, "expect": {"events": [{"sequence": 2, "operation": "update", "actorType": "t", "actorId": "a", "previousValueHex": "02", "previousVersion": 0, "newValue": {"k": [1, "x"]}, "newVersion": 1, "timestamp": 1700000001000}], "next": 2}}`,
  next: `{"op": "changes", "since": 1, "limit": 0, "actorType": "x", "expect": {"events": [], "next": 1}}`,
  actors: `{"op": "getAll", "type": "t", "expect": {"actors": []}}`,
  stats: `{"op": "stats", "expect": {"stats": {"currentSequence": 3}}}`,
  subscribe: `{"op": "subscribe", "from": "beginning", "expect": {"events": [{"sequence": 1, "operation": "insert", "actorType": "t", "actorId": "a", "newValueHex": "01", "newVersion": 0, "timestamp": 1700000000000}]}}`,
  "subscribe 0": `{"op": "subscribe", "from": {"sequence": 2}, "expect": {"events": []}}`,
  compacted: `{"op": "subscribe", "from": {"sequence": 1}, "expect": {"error": {"code": "COMPACTED", "requested": 1, "oldest": 1}}}`,
  "setup failed": `{"op": "insert", "type": "t", "id": "a", "valueHex": "01"}`,
};

function file(vectors) {
  return JSON.parse(`{"name": "meta", "description": "d", "vectors": [${vectors}]}`);
}

const run = (f) => runVectorFile(actorstore, f, { host: "node" });

test("the base vector passes", async () => {
  const r = await run(file(base.replace("LAST", goodLast)));
  assert.deepEqual(r, { file: "meta", passed: 1, skipped: 0, failures: [] });
});

for (const [name, last] of Object.entries(mutations)) {
  test(`a wrong expectation fails: ${name}`, async () => {
    const r = await run(file(base.replace("LAST", last)));
    assert.equal(r.passed, 0);
    assert.equal(r.failures.length, 1, JSON.stringify(r));
    assert.equal(r.failures[0].vector, "meta");
    assert.equal(r.failures[0].step, 2, r.failures[0].message);
  });
}

// Malformed steps, each of which the loader must refuse.
const badSteps = {
  "unknown op": `{"op": "insrt", "type": "t", "id": "a", "valueHex": "01"}`,
  "unknown field": `{"op": "insert", "type": "t", "id": "a", "valueHex": "01", "versoin": 0}`,
  "field of another op": `{"op": "get", "type": "t", "id": "a", "limit": 3, "expect": {"absent": true}}`,
  "missing id": `{"op": "insert", "type": "t", "valueHex": "01"}`,
  "two values": `{"op": "insert", "type": "t", "id": "a", "value": 1, "valueHex": "01"}`,
  "no value": `{"op": "insert", "type": "t", "id": "a"}`,
  "bad hex": `{"op": "insert", "type": "t", "id": "a", "valueHex": "0g"}`,
  "odd hex": `{"op": "insert", "type": "t", "id": "a", "valueHex": "010"}`,
  "read without expect": `{"op": "get", "type": "t", "id": "a"}`,
  "two kinds": `{"op": "get", "type": "t", "id": "a", "expect": {"absent": true, "error": {"code": "INVALID_KEY"}}}`,
  "kind of another op": `{"op": "get", "type": "t", "id": "a", "expect": {"actors": []}}`,
  "absent false": `{"op": "get", "type": "t", "id": "a", "expect": {"absent": false}}`,
  "unknown code": `{"op": "get", "type": "t", "id": "a", "expect": {"error": {"code": "NOPE"}}}`,
  "mismatch detail": `{"op": "updateVersioned", "type": "t", "id": "a", "valueHex": "01", "expected": 0, "expect": {"error": {"code": "VERSION_MISMATCH"}}}`,
  "detail of another code": `{"op": "get", "type": "t", "id": "a", "expect": {"error": {"code": "NOT_FOUND", "oldest": 1}}}`,
  "batch index missing": `{"op": "batch", "ops": [], "expect": {"error": {"code": "NOT_FOUND"}}}`,
  "index outside batch": `{"op": "update", "type": "t", "id": "a", "valueHex": "01", "expect": {"error": {"code": "NOT_FOUND", "index": 0}}}`,
  "unknown batch op": `{"op": "batch", "ops": [{"op": "upsert", "type": "t", "id": "a", "valueHex": "01"}]}`,
  "batch delete value": `{"op": "batch", "ops": [{"op": "delete", "type": "t", "id": "a", "valueHex": "01"}]}`,
  "batch expected on insert": `{"op": "batch", "ops": [{"op": "insert", "type": "t", "id": "a", "valueHex": "01", "expected": 0}]}`,
  "changes without next": `{"op": "changes", "since": 0, "expect": {"events": []}}`,
  "negative since": `{"op": "changes", "since": -1, "expect": {"events": [], "next": 0}}`,
  "fractional expected": `{"op": "updateVersioned", "type": "t", "id": "a", "valueHex": "01", "expected": 0.5}`,
  "actor field typo": `{"op": "get", "type": "t", "id": "a", "expect": {"actor": {"type": "t", "id": "a", "valueHex": "01", "vesion": 0}}}`,
  "actor without value": `{"op": "get", "type": "t", "id": "a", "expect": {"actor": {"type": "t", "id": "a", "version": 0}}}`,
  "event typo": `{"op": "delete", "type": "t", "id": "a", "events": [{"sequence": 1, "operation": "delete", "actorType": "t", "actorID": "a", "timestamp": 1}]}`,
  "insert event prev": `{"op": "delete", "type": "t", "id": "a", "events": [{"sequence": 1, "operation": "insert", "actorType": "t", "actorId": "a", "previousValueHex": "01", "previousVersion": 0, "newValueHex": "01", "newVersion": 0, "timestamp": 1}]}`,
  "empty stats": `{"op": "stats", "expect": {"stats": {}}}`,
  "stats typo": `{"op": "stats", "expect": {"stats": {"actor": 1}}}`,
  "bad from": `{"op": "subscribe", "from": "start", "expect": {"events": []}}`,
  "from both": `{"op": "subscribe", "from": {"sequence": 1, "time": 1}, "expect": {"events": []}}`,
  "bad string form": `{"op": "get", "type": {"repeat": "a"}, "id": "a", "expect": {"absent": true}}`,
  "hex string not go": `{"op": "get", "type": {"hex": "ff"}, "id": "a", "expect": {"absent": true}}`,
};

for (const [name, s] of Object.entries(badSteps)) {
  test(`the loader refuses: ${name}`, async () => {
    const r = await run(file(`{"name": "bad", "rule": "loader", "steps": [${s}]}`));
    assert.equal(r.passed, 0, `accepted ${s}`);
    assert.equal(r.failures.length, 1);
    assert.match(r.failures[0].message, /^invalid vector file: /);
  });
}

const stats = `{"op": "stats", "expect": {"stats": {"actors": 0}}}`;
const badFiles = {
  "unknown file field": `{"name": "f", "description": "d", "vectors": [], "extra": 1}`,
  "no vectors": `{"name": "f", "description": "d", "vectors": []}`,
  "unknown host": `{"name": "f", "description": "d", "vectors": [{"name": "v", "rule": "r", "hosts": ["deno"], "steps": [${stats}]}]}`,
  "empty hosts": `{"name": "f", "description": "d", "vectors": [{"name": "v", "rule": "r", "hosts": [], "steps": [${stats}]}]}`,
  "unknown option": `{"name": "f", "description": "d", "vectors": [{"name": "v", "rule": "r", "options": {"replayBufferCount": 1}, "steps": [${stats}]}]}`,
  "duplicate vector": `{"name": "f", "description": "d", "vectors": [{"name": "v", "rule": "r", "steps": [${stats}]}, {"name": "v", "rule": "r", "steps": [${stats}]}]}`,
  "no rule": `{"name": "f", "description": "d", "vectors": [{"name": "v", "steps": [${stats}]}]}`,
  "no steps": `{"name": "f", "description": "d", "vectors": [{"name": "v", "rule": "r", "steps": []}]}`,
};

for (const [name, f] of Object.entries(badFiles)) {
  test(`the loader refuses a file: ${name}`, async () => {
    const r = await run(JSON.parse(f));
    assert.equal(r.passed + r.skipped, 0);
    assert.equal(r.failures.length, 1);
    assert.match(r.failures[0].message, /^invalid vector file: /);
  });
}

test("vectors for other hosts are skipped and counted; a Go-only hex key is allowed", async () => {
  const r = await run(JSON.parse(`{"name": "f", "description": "d", "vectors": [
    {"name": "go", "rule": "r", "hosts": ["go"], "steps": [{"op": "get", "type": {"hex": "ff"}, "id": "a", "expect": {"error": {"code": "INVALID_KEY"}}}]},
    {"name": "browser", "rule": "r", "hosts": ["go", "chromium"], "steps": [${stats}]},
    {"name": "node", "rule": "r", "hosts": ["node"], "steps": [${stats}]}]}`));
  assert.deepEqual(r, { file: "f", passed: 1, skipped: 2, failures: [] });
});

test("a null version means none, a null value is the CBOR null", async () => {
  const r = await run(file(`{"name": "nulls", "rule": "r", "steps": [
    {"op": "insert", "type": "t", "id": "a", "value": null,
     "events": [{"sequence": 1, "operation": "insert", "actorType": "t", "actorId": "a",
                 "previousVersion": null, "newValue": null, "newVersion": 0, "timestamp": 1700000000000}]},
    {"op": "get", "type": "t", "id": "a", "expect": {"actor": {"type": "t", "id": "a", "valueHex": "f6", "version": 0}}}]}`));
  assert.deepEqual(r.failures, []);
  assert.equal(r.passed, 1);
});
