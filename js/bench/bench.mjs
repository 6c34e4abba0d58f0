#!/usr/bin/env node
// Actor Store's JS benchmark: the same operations on Actor Store
// (js/actorstore.js), on a Map holding structuredClone'd values, and on
// SQLite (sql.js), side by side in one process.
//
//   node js/bench/bench.mjs                  100k actors, median of 3 runs
//   node js/bench/bench.mjs --quick          10k actors (smoke test: exits 1
//                                            when any store returns wrong results)
//   node js/bench/bench.mjs --n 50000 --runs 5 --json out.json
//   node js/bench/bench.mjs --only actorstore   one store
//   node --cpu-prof js/bench/bench.mjs --only actorstore --runs 1 --no-gc
//                                            a profile (see profile-summary.mjs)
//
// Environment equivalents: BENCH_N, BENCH_RUNS, BENCH_QUICK=1, BENCH_JSON,
// BENCH_ONLY, BENCH_WASM (--wasm PATH: another build of the module). The
// baselines and their semantics are described in baselines.mjs.
//
// Also reported: the module's size (raw, gzip), open times in new
// processes, JS heap bytes allocated per call, Actor Store's wasm memory
// once loaded, and what a persisted write's mutation record costs encoded
// in JS against fetched from the module (recordCosts).
//
// Method. Each run opens a fresh store of each kind and takes them through
// one life cycle — insert n actors, get, update, updateVersioned each of
// them, getAll of a 1,000-actor type, pages of 1,000 change events, delete
// all — side by side: each phase runs in tenths, and each tenth runs on
// every store in turn (see runCycle), timed with process.hrtime.bigint()
// (ns/op = the phase's time / its calls). Keys are visited in a shuffled
// order. A smaller warm-up cycle comes first, so that every code path is
// optimized before timing. The script re-executes itself under
// `node --expose-gc` to collect garbage between phases and slices
// (untimed), so no store pays for another's garbage. Results are medians
// over the runs. Every phase's results are checked (sums made in the timed
// loops, samples compared with the values written, error codes, a page of
// events): any wrong result makes the exit status 1.

import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { PerformanceObserver } from "node:perf_hooks";
import os from "node:os";
import zlib from "node:zlib";
import { MapStore, SqlJsStore, RETAINED_EVENTS } from "./baselines.mjs";

const SCRIPT = fileURLToPath(import.meta.url);
// The module measured: the package's own, or --wasm PATH (e.g. a build that
// keeps its name section, for profiles that name guest functions).
let WASM_PATH = fileURLToPath(new URL("../actorstore.wasm", import.meta.url));

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

function parseOptions(argv, env) {
  const o = {
    n: undefined,
    runs: Number(env.BENCH_RUNS ?? 3),
    quick: env.BENCH_QUICK === "1",
    json: env.BENCH_JSON,
    only: env.BENCH_ONLY,
    allocProbe: false,
    forcedGC: true,
  };
  if (env.BENCH_N) o.n = Number(env.BENCH_N);
  if (env.BENCH_WASM) WASM_PATH = env.BENCH_WASM;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--n") o.n = Number(value());
    else if (a === "--runs") o.runs = Number(value());
    else if (a === "--quick") o.quick = true;
    else if (a === "--only") o.only = value();
    else if (a === "--wasm") WASM_PATH = value();
    else if (a === "--no-gc") o.forcedGC = false; // no re-exec, no collections between phases
    else if (a === "--alloc-probe") o.allocProbe = true; // internal: see allocProbe()
    else if (a === "--open-probe") o.openProbe = true; // internal: see openProbe()
    else if (a === "--json") {
      o.json = argv[i + 1] && !argv[i + 1].startsWith("--") ? argv[++i] : "bench-results.json";
    } else throw new Error(`unknown option ${a} (see the header of ${SCRIPT})`);
  }
  o.n ??= o.quick ? 10_000 : 100_000;
  if (!Number.isInteger(o.n) || o.n < 4000 || o.n > 999_999) {
    throw new Error("--n must be an integer in 4000..999999 (ids have six digits; the changes phase reads 10,000 retained events)");
  }
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error("--runs must be a positive integer");
  o.stores = o.only ? o.only.split(",") : [...STORE_NAMES];
  for (const s of o.stores) if (!STORE_NAMES.includes(s)) throw new Error(`unknown store ${s}: ${STORE_NAMES}`);
  return o;
}

const STORE_NAMES = ["actorstore", "map", "sqljs"];
const LABEL = { actorstore: "actorstore", map: "Map+clone", sqljs: "sql.js" };

// ---------------------------------------------------------------------------
// Data: ~100-byte objects, deterministic
// ---------------------------------------------------------------------------

const TEAMS = 1000; // actors of the type read by getAll
const PAGE = 1000; // events per changes call

function rng(seed) { // mulberry32
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Margaret", "Ken", "Radia",
  "Leslie", "Frances", "Dennis", "Katherine", "John", "Sophie", "Niklaus"];
const LAST = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Hamilton", "Thompson",
  "Perlman", "Lamport", "Allen", "Ritchie", "Johnson", "McCarthy", "Wilson", "Wirth"];
const DOMAINS = ["example.com", "example.org", "mail.test"];
const TAGS = ["admin", "beta", "mobile", "desktop", "eu", "us", "trial", "paid", "staff", "api",
  "legacy", "vip"];

function makeValue(r) {
  const first = FIRST[(r() * FIRST.length) | 0];
  const last = LAST[(r() * LAST.length) | 0];
  const tags = [];
  while (tags.length < 3) {
    const t = TAGS[(r() * TAGS.length) | 0];
    if (!tags.includes(t)) tags.push(t);
  }
  return {
    name: `${first} ${last}`,
    email: `${first}.${last}${(r() * 1000) | 0}@${DOMAINS[(r() * DOMAINS.length) | 0]}`.toLowerCase(),
    age: 18 + ((r() * 70) | 0),
    tags,
  };
}

function shuffled(n, r) {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = (r() * (i + 1)) | 0;
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

const pad = (i) => String(i).padStart(6, "0");

// makeData builds n user ids with three generations of values (insert,
// update, updateVersioned), two visiting orders, and the 1,000 team actors.
function makeData(n, seed = 42) {
  const r = rng(seed);
  const d = {
    n,
    ids: Array.from({ length: n }, (_, i) => `u${pad(i)}`),
    v0: [], v1: [], v2: [],
    teamIds: Array.from({ length: TEAMS }, (_, i) => `t${pad(i)}`),
    teamValues: [],
  };
  for (let i = 0; i < n; i++) {
    d.v0.push(makeValue(r));
    d.v1.push(makeValue(r));
    d.v2.push(makeValue(r));
  }
  for (let i = 0; i < TEAMS; i++) d.teamValues.push(makeValue(r));
  d.order = shuffled(n, r); // writes and deletes
  d.order2 = shuffled(n, r); // gets
  d.teamOrder = shuffled(TEAMS, r);
  d.ageSum0 = d.v0.reduce((s, v) => s + v.age, 0);
  d.sample = Array.from({ length: 200 }, () => (r() * n) | 0);
  return d;
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

class CheckError extends Error {}

function check(cond, what) {
  if (!cond) throw new CheckError(what);
}

function expectCode(fn, code, what) {
  try {
    fn();
  } catch (e) {
    check(e.code === code, `${what}: threw ${e.code ?? e} instead of ${code}`);
    return e;
  }
  throw new CheckError(`${what}: did not throw ${code}`);
}

function checkSample(s, d, values, version, what) {
  for (const i of d.sample) {
    const a = s.get("user", d.ids[i]);
    check(a !== undefined, `${what}: get ${d.ids[i]} is absent`);
    check(a.type === "user" && a.id === d.ids[i], `${what}: get ${d.ids[i]} has key ${a.type}/${a.id}`);
    check(a.version === version, `${what}: get ${d.ids[i]} has version ${a.version}, want ${version}`);
    check(isDeepStrictEqual(a.value, values[i]),
      `${what}: get ${d.ids[i]} value ${JSON.stringify(a.value)} != ${JSON.stringify(values[i])}`);
  }
}

// expectedEvent is the event of sequence q after the insert, update and
// updateVersioned phases (each visiting d.order), which follow `base`
// setup events.
function expectedEvent(d, base, q) {
  const p = q - base - 1, n = d.n;
  const phase = Math.floor(p / n), i = d.order[p % n];
  const key = { sequence: q, actorType: "user", actorId: d.ids[i] };
  if (phase === 0) {
    return { ...key, operation: "insert", previousValue: undefined, previousVersion: undefined, newValue: d.v0[i], newVersion: 0 };
  }
  const [prev, next] = phase === 1 ? [d.v0[i], d.v1[i]] : [d.v1[i], d.v2[i]];
  return { ...key, operation: "update", previousValue: prev, previousVersion: phase - 1, newValue: next, newVersion: phase };
}

// ---------------------------------------------------------------------------
// The life cycle: phases, each timed and then checked
// ---------------------------------------------------------------------------

const hr = process.hrtime.bigint;
const elapsed = (t0) => Number(hr() - t0);
let collect = () => globalThis.gc?.();
let collectYoung = () => globalThis.gc?.({ type: "minor" });

// makePhases returns the phases of one life cycle over data d, in order.
// Each phase times `ops` calls made by run(s, acc, k0, k1) in slices
// [k0, k1), reports ns per call (and per item for `items`), then check(s,
// acc) verifies what the calls returned (acc holds sums made in the timed
// loop) and a sample of the store's state. The loops are shared by the
// three stores: their call sites see three receiver classes, a dispatch
// cost of nanoseconds against calls of microseconds.
function makePhases(d, { getAllCalls, changesCalls }) {
  const { n, ids, order, order2, v0, v1, v2 } = d;
  const base = TEAMS; // events made by the setup
  // changes reads the newest RETAINED_EVENTS events in pages of 1,000,
  // cycling over that window.
  const first = base + 3 * n - RETAINED_EVENTS; // `since` of the oldest page
  const pages = RETAINED_EVENTS / PAGE;
  return [
    {
      key: "insert", ops: n,
      run(s, a, k0, k1) {
        for (let k = k0; k < k1; k++) {
          const i = order[k];
          a.sum += s.insert("user", ids[i], v0[i]).version;
        }
      },
      check(s, a) {
        check(a.sum === 0, "insert: versions not 0");
        checkSample(s, d, v0, 0, "after insert");
        expectCode(() => s.insert("user", ids[0], v1[0]), "ALREADY_EXISTS", "insert of an existing actor");
      },
    },
    {
      key: "get", ops: n,
      run(s, a, k0, k1) {
        for (let k = k0; k < k1; k++) {
          const actor = s.get("user", ids[order2[k]]);
          if (actor === undefined) a.bad++;
          else a.sum += actor.version + actor.value.age;
        }
      },
      check(s, a) {
        check(a.bad === 0, `get: ${a.bad} actors absent`);
        check(a.sum === d.ageSum0, `get: sum of versions and ages ${a.sum}, want ${d.ageSum0}`);
        check(s.get("user", "u-missing") === undefined, "get of an absent actor is not undefined");
        // Reads are copies: changing one changes nothing stored.
        const copy = s.get("user", ids[0]).value;
        copy.age = -1;
        copy.tags.push("x");
        check(isDeepStrictEqual(s.get("user", ids[0]).value, v0[0]), "get returned the stored value, not a copy");
      },
    },
    {
      key: "update", ops: n,
      run(s, a, k0, k1) {
        for (let k = k0; k < k1; k++) {
          const i = order[k];
          a.sum += s.update("user", ids[i], v1[i]).version;
        }
      },
      check(s, a) {
        check(a.sum === n, "update: versions not 1");
        checkSample(s, d, v1, 1, "after update");
        expectCode(() => s.update("user", "u-missing", v1[0]), "NOT_FOUND", "update of an absent actor");
      },
    },
    {
      key: "updateVersioned", ops: n,
      run(s, a, k0, k1) {
        for (let k = k0; k < k1; k++) {
          const i = order[k];
          a.sum += s.updateVersioned("user", ids[i], v2[i], 1).version;
        }
      },
      check(s, a) {
        check(a.sum === 2 * n, "updateVersioned: versions not 2");
        checkSample(s, d, v2, 2, "after updateVersioned");
        const e = expectCode(() => s.updateVersioned("user", ids[0], v1[0], 1), "VERSION_MISMATCH",
          "updateVersioned with a stale version");
        check(e.expected === 1 && e.actual === 2, `VERSION_MISMATCH details ${e.expected}/${e.actual}`);
      },
    },
    {
      key: "getAll", ops: getAllCalls, items: TEAMS, slice: 10,
      run(s, a, k0, k1) {
        for (let c = k0; c < k1; c++) a.sum += s.getAll("team").length;
      },
      check(s, a) {
        check(a.sum === getAllCalls * TEAMS, "getAll: wrong count");
        s.getAll("team").forEach((actor, k) => {
          check(actor.type === "team" && actor.id === d.teamIds[k] && actor.version === 0,
            `getAll[${k}] is ${actor.type}/${actor.id} v${actor.version}`);
          check(isDeepStrictEqual(actor.value, d.teamValues[k]), `getAll[${k}] value differs`);
        });
      },
    },
    {
      key: "changes", ops: changesCalls, items: PAGE, slice: 10,
      run(s, a, k0, k1) {
        for (let c = k0; c < k1; c++) a.sum += s.changes(first + (c % pages) * PAGE, { limit: PAGE }).events.length;
      },
      check(s, a) {
        check(a.sum === changesCalls * PAGE, `changes: ${a.sum} events, want ${changesCalls * PAGE}`);
        const page = s.changes(first, { limit: PAGE });
        check(page.events.length === PAGE && page.next === first + PAGE,
          `changes page: ${page.events.length} events, next ${page.next}`);
        page.events.forEach((ev, k) => {
          const got = { ...ev };
          delete got.timestamp;
          const want = expectedEvent(d, base, first + 1 + k);
          check(isDeepStrictEqual(got, want), `changes event ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
          check(ev.timestamp instanceof Date && Math.abs(ev.timestamp - Date.now()) < 600_000, "changes: bad timestamp");
        });
        expectCode(() => s.changes(0, { limit: 1 }), "COMPACTED", "changes from an evicted sequence");
      },
    },
    {
      key: "delete", ops: n,
      run(s, a, k0, k1) {
        for (let k = k0; k < k1; k++) {
          const i = order[k];
          a.sum += s.delete("user", ids[i]).version;
        }
      },
      check(s, a) {
        check(a.sum === 2 * n, "delete: removed versions not 2");
        for (const i of d.sample) check(s.get("user", ids[i]) === undefined, `get after delete of ${ids[i]}`);
        check(s.delete("user", ids[0]) === undefined, "delete of an absent actor");
        check(s.stats().actors === TEAMS, `stats().actors ${s.stats().actors}, want ${TEAMS}`);
      },
    },
  ];
}

// runCycle takes one fresh store of each kind through the life cycle with
// data d, side by side: every phase runs in slices (a tenth of its calls),
// and each slice runs on every store in turn, the order rotating, so that
// a slow spell of this shared machine hits all stores alike. Between
// slices (untimed) a young-generation GC drops the previous store's
// garbage, and before each phase a full GC. A store whose results are
// wrong is reported in `failures` and leaves the cycle. Returns
// { times: {kind: {key: ns}}, memory } (memory: after the insert phase).
async function runCycle(kinds, d, calls, label, failures) {
  const live = [];
  for (const kind of kinds) {
    const { store, memory } = await openStore(kind);
    live.push({ kind, store, wasmMemory: memory, times: {} });
  }
  const fail = (st, e) => {
    failures.push(`${LABEL[st.kind]} (${label}): ${e instanceof CheckError ? "" : "unexpected "}${e.stack ?? e}`);
    console.error(`  ${LABEL[st.kind]}: FAILED: ${e.message}`);
    st.store.close();
    live.splice(live.indexOf(st), 1);
  };
  const guard = (fn) => {
    for (const st of [...live]) {
      try {
        fn(st);
      } catch (e) {
        fail(st, e);
      }
    }
  };

  // Setup, untimed: the type getAll reads, inserted in shuffled order.
  guard((st) => {
    for (const i of d.teamOrder) st.store.insert("team", d.teamIds[i], d.teamValues[i]);
  });
  collect();
  const heap0 = process.memoryUsage().heapUsed;
  const memory = {};

  let rotation = 0;
  for (const phase of makePhases(d, calls)) {
    collect();
    const acc = new Map(live.map((st) => [st, { sum: 0, bad: 0, ns: 0 }]));
    const slice = phase.slice ?? Math.ceil(phase.ops / 10);
    for (let k0 = 0; k0 < phase.ops; k0 += slice) {
      const k1 = Math.min(k0 + slice, phase.ops);
      const turn = live.map((_, j) => live[(j + rotation) % live.length]);
      rotation++;
      for (const st of turn) {
        if (!live.includes(st)) continue;
        collectYoung();
        const a = acc.get(st);
        const t0 = hr();
        try {
          phase.run(st.store, a, k0, k1);
        } catch (e) {
          fail(st, e);
          continue;
        }
        a.ns += elapsed(t0);
      }
    }
    guard((st) => {
      phase.check(st.store, acc.get(st));
      const ns = acc.get(st).ns / phase.ops;
      st.times[phase.key] = ns;
      if (phase.items) st.times[`${phase.key}PerItem`] = ns / phase.items;
    });
    if (phase.key === "insert") {
      // What the loaded stores hold: JS heap (all stores together; Actor
      // Store and sql.js keep their data in wasm memory) and Actor Store's
      // wasm memory.
      collect();
      memory.jsHeapBytes = process.memoryUsage().heapUsed - heap0;
      guard((st) => {
        if (st.kind !== "actorstore") return;
        memory.wasmMemoryBytes = st.wasmMemory?.buffer.byteLength ?? null;
        memory.dataBytes = st.store.stats().dataBytes;
      });
    }
  }
  for (const st of live) st.store.close();
  return { times: Object.fromEntries(live.map((st) => [st.kind, st.times])), memory };
}

// ---------------------------------------------------------------------------
// Stores
// ---------------------------------------------------------------------------

let actorstoreModule; // the imported js/actorstore.js, or undefined
let compiledModule; // WebAssembly.Module of actorstore.wasm, compiled once
let SQL; // the initialized sql.js

async function loadStores(stores) {
  if (stores.includes("actorstore")) {
    actorstoreModule = await import("../actorstore.js");
    compiledModule = await WebAssembly.compile(readFileSync(WASM_PATH));
  }
  if (stores.includes("sqljs")) {
    const { default: initSqlJs } = await import("sql.js");
    SQL = await initSqlJs();
  }
}

// openObserved opens an Actor Store and also returns the WebAssembly.Memory
// of the instance it creates, for reporting its size. The store keeps its
// instance private, so we watch WebAssembly's public instantiation entry
// points for the duration of this one open() call (and restore them after);
// no field of the store is touched.
async function openObserved(options) {
  const WA = WebAssembly;
  const saved = { instantiate: WA.instantiate, instantiateStreaming: WA.instantiateStreaming, Instance: WA.Instance };
  const seen = [];
  WA.instantiate = async function (...args) {
    const r = await saved.instantiate.apply(this, args);
    seen.push(r instanceof saved.Instance ? r : r.instance);
    return r;
  };
  WA.instantiateStreaming = async function (...args) {
    const r = await saved.instantiateStreaming.apply(this, args);
    seen.push(r.instance);
    return r;
  };
  WA.Instance = new Proxy(saved.Instance, {
    construct(target, args, newTarget) {
      const inst = Reflect.construct(target, args, newTarget === WA.Instance ? target : newTarget);
      seen.push(inst);
      return inst;
    },
  });
  let store;
  try {
    store = await actorstoreModule.ActorStore.open(options);
  } finally {
    Object.assign(WA, saved);
  }
  const memory = seen.map((i) => i?.exports?.memory).find((m) => m instanceof WA.Memory);
  return { store, memory };
}

async function openStore(kind) {
  switch (kind) {
    case "actorstore":
      return openObserved({ wasm: compiledModule });
    case "map":
      return { store: new MapStore() };
    case "sqljs":
      return { store: await SqlJsStore.open(SQL) };
  }
}

// ---------------------------------------------------------------------------
// Other measurements
// ---------------------------------------------------------------------------

function median(xs) {
  const a = [...xs].sort((x, y) => x - y);
  const m = a.length >> 1;
  return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2;
}

function moduleSize() {
  const bytes = readFileSync(WASM_PATH);
  return { raw: bytes.length, gzip9: zlib.gzipSync(bytes, { level: 9 }).length };
}

// openTimes measures opening in fresh Node processes (openProbe), `times`
// of them, and returns the medians: V8 compiles wasm functions lazily, on
// first call, and shares compiled code between modules of the same bytes
// in a process, so only a new process shows what a new page or program
// pays.
function openTimes(times) {
  const runs = [];
  for (let i = 0; i < times; i++) {
    const r = spawnSync(process.execPath, [SCRIPT, "--open-probe", "--wasm", WASM_PATH], { encoding: "utf8" });
    if (r.status !== 0) return { error: `open probe failed (${r.status}): ${r.stderr.trim().split("\n").pop()}` };
    runs.push(JSON.parse(r.stdout));
  }
  const med = (k) => median(runs.map((r) => r[k]));
  return { compileMs: med("compileMs"), openMs: med("openMs"), firstCallsMs: med("firstCallsMs"), reopenMs: med("reopenMs"), runs };
}

// openProbe (child): compile = WebAssembly.compile(bytes), as the first
// thing; open = ActorStore.open({ wasm: module }): instantiate, the Go
// runtime's _initialize, configure; first calls = one insert and one get
// (their functions are compiled on first use); reopen = a second open
// from the same Module, compiled functions already there.
async function openProbe() {
  const bytes = readFileSync(WASM_PATH);
  let t0 = hr();
  const module = await WebAssembly.compile(bytes);
  const compileMs = elapsed(t0) / 1e6;
  const { ActorStore } = await import("../actorstore.js");
  t0 = hr();
  const s = await ActorStore.open({ wasm: module });
  const openMs = elapsed(t0) / 1e6;
  t0 = hr();
  s.insert("user", "u1", { name: "Ada" });
  s.get("user", "u1");
  const firstCallsMs = elapsed(t0) / 1e6;
  s.close();
  t0 = hr();
  const s2 = await ActorStore.open({ wasm: module });
  const reopenMs = elapsed(t0) / 1e6;
  s2.close();
  process.stdout.write(JSON.stringify({ compileMs, openMs, firstCallsMs, reopenMs }));
}

// JS heap bytes allocated per operation, measured in a child process (see
// allocProbe) so that its GC flags do not change the timings.
function allocations(o) {
  const args = [
    "--expose-gc",
    // A 256 MiB young generation, fixed: no scavenge runs during the
    // measured loop, so the growth of heapUsed is what the loop allocated.
    "--min-semi-space-size=256", "--max-semi-space-size=256",
    SCRIPT, "--alloc-probe", "--only", o.stores.join(","), "--wasm", WASM_PATH,
  ];
  const r = spawnSync(process.execPath, args, { encoding: "utf8", maxBuffer: 1 << 24 });
  if (r.status !== 0) return { error: `alloc probe failed (${r.status}): ${r.stderr.trim().split("\n").slice(-3).join(" | ")}` };
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

// allocProbe (child): for each store, load 10,000 actors, then measure
// heapUsed before and after M operations of a kind, with a full GC before
// and none during (checked with a PerformanceObserver of GC entries; a
// probe that saw one is repeated with half as many operations). Allocation
// happens in the young generation, which V8 fills linearly, so with no GC
// the heap's growth is the bytes allocated. Bytes the store keeps (the Map's
// clones) count too; wasm linear memory does not (it is not JS heap).
async function allocProbe(o) {
  const n = 10_000;
  const d = makeData(n, 7);
  let gcs = 0;
  const obs = new PerformanceObserver((list) => { gcs += list.getEntries().length; });
  obs.observe({ entryTypes: ["gc"] });
  const settle = () => new Promise((r) => setTimeout(r, 20));
  const out = {};
  await loadStores(o.stores);
  for (const kind of o.stores) {
    const { store: s } = await openStore(kind);
    for (let i = 0; i < n; i++) s.insert("user", d.ids[i], d.v0[i]);
    const ops = {
      get: (i) => s.get("user", d.ids[i]),
      update: (i) => s.update("user", d.ids[i], d.v1[i]),
      insert: (i, attempt) => s.insert(`other${attempt}`, d.ids[i], d.v2[i]), // a new type each time
    };
    out[kind] = {};
    for (const [op, fn] of Object.entries(ops)) {
      let m = 5000;
      for (let k = 0; k < 200; k++) fn(d.order[k], "warm"); // warm up the call path
      for (let attempt = 0; ; attempt++) {
        const idx = d.order.slice(n - m);
        collect();
        await settle();
        gcs = 0;
        const h0 = process.memoryUsage().heapUsed;
        for (let k = 0; k < m; k++) fn(idx[k], attempt);
        const h1 = process.memoryUsage().heapUsed;
        await settle();
        if (gcs === 0) {
          out[kind][op] = Math.round((h1 - h0) / m);
          break;
        }
        if (attempt === 5) { out[kind][op] = null; break; }
        m >>= 1;
      }
    }
    s.close();
  }
  obs.disconnect();
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

const ROWS = [
  // [key, label, target kind]
  ["insert", "insert", "write"],
  ["get", "get", "read"],
  ["update", "update", "write"],
  ["updateVersioned", "updateVersioned", "write"],
  ["delete", "delete", "write"],
  ["getAll", "getAll of 1,000 (per call)", "bulk"],
  ["getAllPerItem", "  per actor", null],
  ["changes", "changes of 1,000 (per call)", "bulk"],
  ["changesPerItem", "  per event", null],
];
const TARGET = {
  read: { maxVsMap: 2, text: "≤ 2× Map, < sql.js" },
  write: { maxVsMap: 3, text: "≤ 3× Map, < sql.js" },
  bulk: { maxVsMap: Infinity, text: "< sql.js" },
};

// recordCosts compares two ways a persisted store could get each write's
// mutation record (lib/record.js): the JS host encodes it from the request
// still in the input buffer (what it does), or the module would encode it
// and the host fetch it with one more export call per write. The second
// costs at least the call and the copy out, timed here with the cheapest
// export (abi_version) and a slice of the record's length; the module's
// own encoding would come on top. Both allocate the record's bytes. Best
// of 15 rounds of `reps` each (the least disturbed).
async function recordCosts(d, reps) {
  const { instantiate } = await import("../lib/load.js");
  const { Engine } = await import("../lib/engine.js");
  const calls = await import("../lib/calls.js");
  const { singleRecord } = await import("../lib/record.js");
  const { KIND } = await import("../lib/abi.js");
  const e = new Engine(await instantiate(compiledModule), false, 1 << 20);
  const best = (f) => {
    let min = Infinity;
    for (let round = 0; round < 15; round++) {
      collect();
      const t0 = hr();
      f(round);
      min = Math.min(min, Number(hr() - t0) / reps);
    }
    return min;
  };
  const ts = 1_700_000_000_000_000_000n;
  const writes = d.v0.length;
  let seq = 0;
  // An in-memory insert, for scale: fresh ids each round.
  const insertNs = best((round) => {
    for (let i = 0; i < reps; i++) {
      seq = calls.write(e, KIND.insert, "user", `r${round}-${i}`, d.v0[i % writes], 0, ts, false).seq;
    }
  });
  // The request of the last insert is still in the input buffer.
  const [tl, il, vl] = e.lens;
  const at = e.in;
  let bytes = 0;
  const encodeNs = best(() => {
    for (let i = 0; i < reps; i++) bytes += singleRecord(seq, ts, KIND.insert, e.u8, at, tl, il, vl).length;
  });
  const recordBytes = singleRecord(seq, ts, KIND.insert, e.u8, at, tl, il, vl).length;
  const callNs = best(() => {
    for (let i = 0; i < reps; i++) {
      bytes += e.enter().abi_version();
      e.view();
    }
  });
  const copyNs = best(() => {
    for (let i = 0; i < reps; i++) bytes += e.u8.slice(at, at + recordBytes).length;
  });
  check(bytes > 0, "record costs: nothing measured");
  return { insertNs, encodeNs, callNs, copyNs, recordBytes };
}

function fmtNs(x) {
  if (x === undefined || x === null) return "—";
  return x >= 100 ? Math.round(x).toLocaleString("en-US") : x.toFixed(1);
}
const signedMiB = (b) => `${b < 0 ? "-" : "+"}${(Math.abs(b) / 2 ** 20).toFixed(1)} MiB`;
const fmtRatio = (x) => (x === undefined || !Number.isFinite(x) ? "—" : `${x.toFixed(2)}×`);

function table(header, rows) {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells) => `| ${cells.map((x, c) => (c === 0 ? String(x).padEnd(widths[c]) : String(x).padStart(widths[c]))).join(" | ")} |`;
  const rule = `|${widths.map((w, c) => "-".repeat(w + 1) + (c === 0 ? "-" : ":")).join("|")}|`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

function buildRows(med) {
  return ROWS.map(([key, label, kind]) => {
    const a = med.actorstore?.[key], m = med.map?.[key], q = med.sqljs?.[key];
    const vsMap = a / m, vsSql = a / q;
    let target = "", status = "";
    if (kind) {
      const tg = TARGET[kind];
      target = tg.text;
      const known = a !== undefined && q !== undefined && (m !== undefined || kind === "bulk");
      status = !known ? "—" : (kind === "bulk" || vsMap <= tg.maxVsMap) && vsSql < 1 ? "ok" : "MISSED";
    }
    return { key, label, actorstore: a, map: m, sqljs: q, vsMap, vsSql, target, status };
  });
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

async function main() {
  const o = parseOptions(process.argv.slice(2), process.env);
  if (o.allocProbe) return allocProbe(o);
  if (o.openProbe) return openProbe();
  if (!o.forcedGC) collect = collectYoung = () => {};
  else if (typeof globalThis.gc !== "function") {
    // Re-run under --expose-gc (phases start from a collected heap).
    const r = spawnSync(process.execPath, ["--expose-gc", ...process.execArgv, SCRIPT, ...process.argv.slice(2)], { stdio: "inherit" });
    process.exit(r.status ?? 1);
  }

  const started = hr();
  const log = (...a) => console.error(...a);
  try {
    await loadStores(o.stores);
  } catch (e) {
    log(`cannot load the stores: ${e.message}`);
    process.exit(1);
  }

  const d = makeData(o.n);
  const warm = makeData(Math.max(4000, Math.min(10_000, o.n >> 1)), 43);
  const calls = o.quick ? { getAllCalls: 30, changesCalls: 30 } : { getAllCalls: 200, changesCalls: 200 };
  const cbor = actorstoreModule?.encodeValue;
  const valueBytes = {
    json: d.v0.reduce((s, v) => s + JSON.stringify(v).length, 0) / o.n,
    cbor: cbor ? d.v0.reduce((s, v) => s + cbor(v).length, 0) / o.n : undefined,
  };
  log(`n=${o.n} actors, ${o.runs} run(s), stores: ${o.stores.join(", ")}; values ${valueBytes.json.toFixed(1)} B JSON` +
    (valueBytes.cbor ? `, ${valueBytes.cbor.toFixed(1)} B CBOR` : ""));

  const failures = [];
  const results = Object.fromEntries(o.stores.map((k) => [k, []]));
  let memory;
  let kinds = o.stores;
  for (let run = -1; run < o.runs; run++) {
    const label = run < 0 ? "warm-up" : `run ${run + 1}`;
    const t0 = hr();
    const r = await runCycle(kinds, run < 0 ? warm : d, calls, label, failures);
    kinds = Object.keys(r.times); // a store with wrong results is not run again
    log(`  ${label}: ${(elapsed(t0) / 1e9).toFixed(1)} s`);
    if (run < 0) continue;
    for (const k of kinds) results[k].push(r.times[k]);
    if (run === 0) memory = r.memory;
  }

  const med = {};
  for (const kind of o.stores) {
    if (results[kind].length < o.runs) continue;
    med[kind] = {};
    for (const [key] of ROWS) med[kind][key] = median(results[kind].map((t) => t[key]));
  }
  const rows = buildRows(med);

  const extra = {};
  if (actorstoreModule) {
    log("module size, open times, allocations…");
    extra.module = moduleSize();
    extra.open = openTimes(o.quick ? 3 : 7);
  }
  extra.allocations = allocations(o);
  if (actorstoreModule) extra.records = await recordCosts(d, o.quick ? 1000 : 5000);
  // A probe that could not run is a store that failed.
  for (const [what, r] of [["open", extra.open], ["allocations", extra.allocations]]) {
    if (r?.error) failures.push(`${what}: ${r.error}`);
  }

  // Output
  const out = [];
  out.push(`Actor Store JS benchmark — ${o.n.toLocaleString("en-US")} actors of ~${Math.round(valueBytes.json)}-byte values ` +
    `(JSON; ${valueBytes.cbor ? `${valueBytes.cbor.toFixed(0)} B CBOR` : "CBOR n/a"}), median of ${o.runs} run(s); ` +
    `Node ${process.version}, ${os.cpus()[0]?.model ?? "?"} × ${os.cpus().length}`);
  out.push("");
  out.push(table(["op", "actorstore ns/op", "Map+clone ns/op", "sql.js ns/op", "ratio vs Map", "ratio vs sql.js", "target", ""],
    rows.map((r) => [r.label, fmtNs(r.actorstore), fmtNs(r.map), fmtNs(r.sqljs), fmtRatio(r.vsMap), fmtRatio(r.vsSql), r.target, r.status])));
  out.push("");
  if (extra.module) {
    out.push(`module: ${extra.module.raw.toLocaleString("en-US")} B raw, ${extra.module.gzip9.toLocaleString("en-US")} B gzip -9`);
    const op = extra.open;
    out.push(op.error ? `open: ${op.error}` :
      `open, median of ${op.runs.length} new processes: compile ${op.compileMs.toFixed(1)} ms (WebAssembly.compile; V8 compiles ` +
      `functions lazily), instantiate + open ${op.openMs.toFixed(1)} ms (from the compiled Module), first insert + get ` +
      `${op.firstCallsMs.toFixed(1)} ms; a second open from the same Module ${op.reopenMs.toFixed(1)} ms`);
  }
  const rc = extra.records;
  if (rc) {
    out.push(`mutation records (persisted stores), per single-op write of a ${rc.recordBytes}-byte record: encoded in JS ` +
      `${fmtNs(rc.encodeNs)} ns; fetched from the module instead, at least ${fmtNs(rc.callNs + rc.copyNs)} ns ` +
      `(one more export call ${fmtNs(rc.callNs)} + copy out ${fmtNs(rc.copyNs)}, before the module's own encoding): ` +
      `JS ${fmtRatio(rc.encodeNs / (rc.callNs + rc.copyNs))} of that; an in-memory insert ${fmtNs(rc.insertNs)} ns`);
  }
  const a = extra.allocations;
  if (a.error) out.push(`JS allocations: ${a.error}`);
  else {
    out.push("JS heap allocated per op (bytes, 10k actors, young generation without GC): " +
      o.stores.map((k) => `${LABEL[k]} get ${a[k].get ?? "?"}, insert ${a[k].insert ?? "?"}, update ${a[k].update ?? "?"}`).join("; "));
  }
  if (memory) {
    const mib = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    out.push(`after loading ${(o.n + TEAMS).toLocaleString("en-US")} actors into each store: JS heap ${signedMiB(memory.jsHeapBytes)} ` +
      "(all stores together: the Map's values and log; the others keep their data in wasm memory, and sql.js does not expose its size)" +
      (memory.dataBytes === undefined ? "" : `; Actor Store wasm memory ${memory.wasmMemoryBytes === null ? "not observable" : mib(memory.wasmMemoryBytes)}` +
        ` for stats().dataBytes ${mib(memory.dataBytes)}`));
  }
  out.push(`total ${(elapsed(started) / 1e9).toFixed(0)} s`);
  console.log(out.join("\n"));
  // On stderr, so that a smoke run with stdout discarded still says why.
  if (failures.length) console.error(["", "WRONG RESULTS:", ...failures].join("\n"));

  if (o.json) {
    writeFileSync(o.json, `${JSON.stringify({
      date: new Date().toISOString(), node: process.version, cpu: os.cpus()[0]?.model, cores: os.cpus().length,
      options: { n: o.n, runs: o.runs, quick: o.quick, stores: o.stores, ...calls },
      valueBytes, medians: med, runs: results, rows, ...extra, memory, failures,
    }, null, 2)}\n`);
    log(`wrote ${o.json}`);
  }
  process.exit(failures.length ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
