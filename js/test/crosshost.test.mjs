// Cross-host tests, JS side (the Go side is tests/crosshost_test.go; the
// data and its format are in tests/crosshost/README.md):
//   - values.json: encodeValue writes jsHex for each expected value, and
//     the JS host reads goHex (what the Go host writes) back byte for byte
//     and as the expected value;
//   - script.json: applied to a JS store it makes js_store.json, and
//     replaying the Go host's writes from go_store.json makes exactly the
//     Go host's store, events and results.
//
//   cd js && node --test test/crosshost.test.mjs        check
//   cd js && node test/crosshost.test.mjs --update      rewrite the JS side
//                                                        (jsHex, js_store.json)

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { ActorStore, RawCBOR, encodeValue, decodeValue } from "../actorstore.js";
import { wasm, hex, fromHex } from "./helpers.mjs";

const dir = new URL("../../tests/crosshost/", import.meta.url);
const UPDATE = process.argv.includes("--update");
const GENERATOR = "node js/test/crosshost.test.mjs --update";
const read = (name) => JSON.parse(readFileSync(new URL(name, dir), "utf8"));

// ---- the value forms of tests/crosshost -------------------------------------

// special returns [form, argument] of {"$bytes"}, {"$float"} or {"$int"}.
function special(v) {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return undefined;
  const keys = Object.keys(v);
  if (keys.length !== 1 || !["$bytes", "$float", "$int"].includes(keys[0]) || typeof v[keys[0]] !== "string") return undefined;
  return [keys[0], v[keys[0]]];
}

const FLOATS = { NaN, Infinity, "-Infinity": -Infinity };

/** The JS value an expected value stands for. */
function jsValue(v) {
  const s = special(v);
  if (s) {
    const [form, arg] = s;
    if (form === "$bytes") return fromHex(arg);
    if (form === "$float") return FLOATS[arg];
    return BigInt(arg);
  }
  if (Array.isArray(v)) return v.map(jsValue);
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsValue(x)]));
  return v;
}

/** Compares a decoded value with an expected one; throws on a difference. */
function match(got, want, path = "value") {
  const fail = (what) => assert.fail(`${path}: ${describe(got)}, want ${what}`);
  const s = special(want);
  if (s) {
    const [form, arg] = s;
    if (form === "$bytes") {
      if (!(got instanceof Uint8Array) || hex(got) !== arg) fail(`bytes ${arg}`);
    } else if (form === "$float") {
      if (typeof got !== "number" || !Object.is(got, FLOATS[arg])) fail(arg);
    } else if (!((typeof got === "bigint" || Number.isSafeInteger(got)) && BigInt(got) === BigInt(arg))) {
      fail(`the integer ${arg}`);
    }
    return;
  }
  if (typeof want === "number") {
    // As JSON numbers: float64, so -0 equals 0 as in Go; and numbers, not
    // BigInts, even when Go wrote an 8-byte integer.
    if (typeof got !== "number" || got !== want) fail(want);
  } else if (Array.isArray(want)) {
    if (!Array.isArray(got) || got.length !== want.length) fail(`an array of ${want.length}`);
    want.forEach((w, i) => {
      match(got[i], w, `${path}[${i}]`);
    });
  } else if (want !== null && typeof want === "object") {
    const entries = got instanceof Map ? [...got] : got && Object.getPrototypeOf(got) === Object.prototype ? Object.entries(got) : null;
    if (!entries || entries.length !== Object.keys(want).length || entries.some(([k]) => !Object.hasOwn(want, k))) {
      fail(`a map with keys ${Object.keys(want)}`);
    }
    for (const [k, v] of entries) match(v, want[k], `${path}.${k}`);
  } else if (got !== want) {
    fail(JSON.stringify(want));
  }
}

function describe(v) {
  if (v instanceof Uint8Array) return `bytes ${hex(v)}`;
  if (typeof v === "bigint") return `${v}n`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

// ---- values.json --------------------------------------------------------------

const valuesURL = new URL("values.json", dir);

// updateValues rewrites the jsHex of each case in place, one case a line,
// as the Go side does for goHex.
function updateValues() {
  const lines = readFileSync(valuesURL, "utf8").split("\n");
  let n = 0;
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith("  {")) continue;
    const c = JSON.parse(lines[i].replace(/,$/, ""));
    lines[i] = lines[i].replace(/"jsHex": "[0-9a-f]*"/, `"jsHex": "${hex(encodeValue(jsValue(c.expect)))}"`);
    n++;
  }
  writeFileSync(valuesURL, lines.join("\n"));
  assert.equal(JSON.parse(lines.join("\n")).length, n, "values.json must hold one case a line");
  console.log(`rewrote the jsHex of ${n} cases in ${valuesURL.pathname}`);
}

if (UPDATE) updateValues();
const cases = read("values.json");

test("values.json holds enough well-formed cases", () => {
  assert.ok(cases.length >= 50, `only ${cases.length} cases`);
  for (const c of cases) assert.deepEqual(Object.keys(c).sort(), ["expect", "goHex", "jsHex", "name"], c.name);
  assert.equal(new Set(cases.map((c) => c.name)).size, cases.length, "case names repeat");
});

const raw = await ActorStore.open({ wasm, raw: true });
const decoded = await ActorStore.open({ wasm });
after(() => {
  raw.close();
  decoded.close();
});

cases.forEach((c, i) => {
  test(`values.json: ${c.name}`, () => {
    const js = encodeValue(jsValue(c.expect));
    assert.equal(hex(js), c.jsHex, `encodeValue writes ${hex(js)}, values.json says ${c.jsHex} (run ${GENERATOR} if meant)`);
    assert.ok(c.goHex, "no goHex: run go test ./tests -run CrossHost -update");
    const go = fromHex(c.goHex);
    match(decodeValue(go), c.expect, "decodeValue(goHex)");
    match(decodeValue(js), c.expect, "decodeValue(jsHex)");
    // Through stores: Go's bytes are kept exactly, and read as the value.
    raw.insert("go", `${i}`, new RawCBOR(go));
    assert.equal(hex(raw.get("go", `${i}`).value), c.goHex);
    decoded.insert("go", `${i}`, new RawCBOR(go));
    match(decoded.get("go", `${i}`).value, c.expect, "get of goHex");
    decoded.insert("js", `${i}`, jsValue(c.expect));
    match(decoded.get("js", `${i}`).value, c.expect, "get of the JS value");
  });
});

// ---- script.json, go_store.json and js_store.json -----------------------------

// runScript applies the script to a fresh raw-mode store: the values of
// the script encoded by encodeValue (what the store writes in normal
// mode), or when replay is given, those bytes. It returns the dump, and
// puts the store's snapshot in out.snap.
async function runScript(script, replay, out = {}) {
  let now = 0;
  const store = await ActorStore.open({ wasm, raw: true, clock: () => now });
  const dump = { generator: GENERATOR, writes: [], results: [] };
  const types = new Set();
  const value = (i, j, o) => {
    if (o.value === undefined) return null;
    return replay ? fromHex(replay[i][j]) : encodeValue(jsValue(o.value));
  };
  try {
    script.ops.forEach((op, i) => {
      now = op.time;
      if (op.op === "batch") {
        const values = op.ops.map((o, j) => value(i, j, o));
        dump.writes.push(values.map((v) => (v ? hex(v) : null)));
        for (const o of op.ops) types.add(o.type);
        const ops = op.ops.map((o, j) => ({ op: o.op, type: o.type, id: o.id, value: values[j] ?? undefined, expected: o.expected }));
        try {
          const rs = store.batch(ops);
          dump.results.push({ results: rs.map((r) => (r.found ? { actor: actorOf(r.actor) } : { absent: true })) });
        } catch (e) {
          dump.results.push({ error: errorOf(e) });
        }
        return;
      }
      const v = value(i, 0, op);
      dump.writes.push([v ? hex(v) : null]);
      types.add(op.type);
      try {
        const a = op.op === "updateVersioned" ? store.updateVersioned(op.type, op.id, v, op.expected)
          : op.op === "delete" ? store.delete(op.type, op.id) : store[op.op](op.type, op.id, v);
        dump.results.push(a ? { actor: actorOf(a) } : { absent: true });
      } catch (e) {
        dump.results.push({ error: errorOf(e) });
      }
    });
    const byBytes = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));
    dump.actors = [...types].sort(byBytes).flatMap((type) => store.getAll(type).map(actorOf));
    dump.events = store.changes(0).events.map((e) => ({
      sequence: e.sequence, operation: e.operation, actorType: e.actorType, actorId: e.actorId,
      previousValueHex: e.previousValue && hex(e.previousValue), previousVersion: e.previousVersion,
      newValueHex: e.newValue && hex(e.newValue), newVersion: e.newVersion, timestamp: e.timestamp.getTime(),
    }));
    const st = store.stats();
    dump.stats = Object.fromEntries(["actors", "currentSequence", "dataBytes", "eventsDropped", "oldestSequence",
      "replayBufferBytes", "replayBufferSize", "totalEvents"].map((k) => [k, st[k]]));
    out.snap = store.snapshot();
  } finally {
    store.close();
  }
  return JSON.parse(JSON.stringify(dump)); // drops undefined fields, as Go omits empty ones
}

function actorOf(a) {
  return { type: a.type, id: a.id, valueHex: hex(a.value), version: a.version };
}

function errorOf(e) {
  if (!e?.code) throw e;
  const out = { code: e.code };
  for (const k of ["expected", "actual", "requested", "oldest", "index"]) if (e[k] !== undefined) out[k] = e[k];
  return out;
}

const script = read("script.json");
const jsStoreURL = new URL("js_store.json", dir);
const jsSnapURL = new URL("js.snap", dir);
if (UPDATE) {
  const out = {};
  writeFileSync(jsStoreURL, `${JSON.stringify(await runScript(script, undefined, out), null, 2)}\n`);
  writeFileSync(jsSnapURL, out.snap);
  console.log(`wrote ${jsStoreURL.pathname} and ${jsSnapURL.pathname}`);
}

test("script.json makes js_store.json and js.snap on the JS host", async () => {
  const committed = read("js_store.json");
  const out = {};
  const dump = await runScript(script, undefined, out);
  assert.deepStrictEqual(dump, committed, `the JS host now makes another store than js_store.json (run ${GENERATOR} if meant)`);
  assert.ok(dump.events.length >= 15 && dump.actors.length >= 8, "the script makes too little to compare");
  assert.equal(hex(out.snap), hex(readFileSync(jsSnapURL)), `the JS host now writes another snapshot than js.snap (run ${GENERATOR} if meant)`);
});

test("replaying the Go host's writes makes exactly go_store.json, and snapshots to go.snap", async () => {
  const go = read("go_store.json");
  assert.equal(go.writes.length, script.ops.length, "go_store.json does not fit script.json: regenerate it");
  const out = {};
  const dump = await runScript(script, go.writes, out);
  assert.deepStrictEqual({ ...dump, generator: go.generator }, go);
  assert.equal(hex(out.snap), hex(readFileSync(new URL("go.snap", dir))), "the same store snapshots to other bytes than the Go host's go.snap");
});

test("the JS host reads every value the Go host wrote as the script's value", () => {
  const go = read("go_store.json");
  script.ops.forEach((op, i) => {
    const ops = op.op === "batch" ? op.ops : [op];
    assert.equal(go.writes[i].length, ops.length, `operation ${i}`);
    ops.forEach((o, j) => {
      assert.equal(o.value === undefined, go.writes[i][j] === null, `operation ${i}.${j}: a value where none is written`);
      if (o.value !== undefined) match(decodeValue(fromHex(go.writes[i][j])), o.value, `operation ${i}.${j}`);
    });
  });
});

test("the Go and the JS host write different bytes for some values, and read each other's the same", () => {
  // Not a requirement, but the comparison above would show nothing if both
  // wrote the same bytes for everything.
  const js = read("js_store.json");
  const go = read("go_store.json");
  assert.notDeepEqual(js.writes, go.writes);
  assert.notDeepEqual(js.events, go.events);
  assert.deepEqual(js.results.map((r) => Object.keys(r)), go.results.map((r) => Object.keys(r)));
});

// ---- records.json ---------------------------------------------------------------

// The records a persisted JS store logs (in IndexedDB: fake-indexeddb here)
// for script.json with go_store.json's value bytes, and for one insert at
// each clock reading of records.json, are the Go host's, byte for byte:
// one record encoder (lib/record.js, core/record.go) and one clamp of
// clock readings to int64 nanoseconds (lib/time.js, the Go host's
// unixNano).
test("records.json: a persisted JS store logs the Go host's mutation records, byte for byte", async () => {
  const want = read("records.json");
  const go = read("go_store.json");
  assert.equal(go.writes.length, script.ops.length, "go_store.json does not fit script.json: regenerate it");
  const { IDBFactory, IDBKeyRange } = await import("fake-indexeddb");
  const saved = { indexedDB: globalThis.indexedDB, IDBKeyRange: globalThis.IDBKeyRange, navigator: globalThis.navigator };
  globalThis.indexedDB = new IDBFactory();
  globalThis.IDBKeyRange = IDBKeyRange;
  // navigator.locks as the store uses it: one holder per name.
  const held = new Set();
  const locks = {
    async request(name, _options, callback) {
      if (held.has(name)) return callback(null);
      held.add(name);
      try {
        return await callback({ name });
      } finally {
        held.delete(name);
      }
    },
  };
  Object.defineProperty(globalThis, "navigator", { value: { locks }, configurable: true, writable: true });
  try {
    let now = 0;
    const store = await ActorStore.open({ wasm, raw: true, clock: () => now, persist: { name: "records" } });
    const raw = (h) => (h === null ? undefined : fromHex(h));
    script.ops.forEach((op, i) => {
      now = op.time;
      try {
        if (op.op === "batch") {
          store.batch(op.ops.map((o, j) => ({ op: o.op, type: o.type, id: o.id, value: raw(go.writes[i][j]), expected: o.expected })));
        } else if (op.op === "updateVersioned") {
          store.updateVersioned(op.type, op.id, raw(go.writes[i][0]), op.expected);
        } else if (op.op === "delete") {
          store.delete(op.type, op.id);
        } else {
          store[op.op](op.type, op.id, raw(go.writes[i][0]));
        }
      } catch (e) {
        if (!e.code) throw e; // the script's failing operations log nothing
      }
    });
    want.times.forEach((ms, i) => {
      now = ms;
      store.insert("time", `${i}`, Uint8Array.of(0xf6));
    });
    await store.close();
    const db = await new Promise((resolve, reject) => {
      const r = indexedDB.open("actorstore:records");
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const values = await new Promise((resolve, reject) => {
      const r = db.transaction("log", "readonly").objectStore("log").getAll();
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    db.close();
    // Each value holds records, each prefixed by its length (a uvarint).
    const got = [];
    for (const v of values) {
      for (let p = 0; p < v.length;) {
        let n = 0;
        for (let mul = 1; ; mul *= 128) {
          const c = v[p++];
          n += (c & 127) * mul;
          if (c < 128) break;
        }
        got.push(hex(v.subarray(p, p + n)));
        p += n;
      }
    }
    assert.ok(want.records.length >= want.times.length + 10, "records.json holds too few records to compare");
    assert.deepEqual(got, want.records, "the JS host logs other records than the Go host's records.json");
  } finally {
    Object.assign(globalThis, { indexedDB: saved.indexedDB, IDBKeyRange: saved.IDBKeyRange });
    Object.defineProperty(globalThis, "navigator", { value: saved.navigator, configurable: true, writable: true });
  }
});
