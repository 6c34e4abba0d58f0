// Strict runner of the conformance vectors (tests/vectors/*.json, format in
// tests/vectors/README.md) for the JS host, in Node and in browsers alike:
// no Node imports, no file access — the caller loads the JSON.
//
//   import * as actorstore from "../actorstore.js";
//   import { runVectorFile } from "./vectors.js";
//   const wasm = await WebAssembly.compile(bytes);   // compile once, reuse
//   const r = await runVectorFile(actorstore, JSON.parse(text), { host: "node", wasm });
//   // r = { file, passed, skipped, failures: [{ vector, step, message }] }
//
// The first argument is the package's module namespace, or any object
// holding its `ActorStore`, `encodeValue` and `decodeValue` (and, if given,
// `ActorStoreError`, then required of every error). `host` is "node" or
// "chromium": vectors whose `hosts` leave it out are skipped and counted.
// `wasm` is passed to `ActorStore.open` as is.
//
// With `replica` — a function (vector options) → a promise of a store
// whose writes return promises, such as ActorStore.connect to a server
// reset for the vector and started with those limits — every vector runs
// through it (writes remote, reads local): the same expectations, except
// that the server's clock stamps events, so timestamps are not compared
// and vectors that set or read times (`time`, `from.time`) are skipped.
//
// Like the Go runner (tests/conformance_test.go), it validates the whole
// file first: an unknown op or field, a missing required field or an
// unknown error code is a failure (with `vector` set to the file or vector
// concerned), so that a typo can never make a vector pass vacuously. Each
// vector then runs on a fresh raw-mode store (values are CBOR bytes, so
// `valueHex` is compared byte for byte; `value` is written as
// `encodeValue(value)`), stopping at its first failing step. The store's
// clock is set per step: step i runs at 1700000000000 + 1000*i ms unless
// the step gives `time`.

const BASE_TIME = 1700000000000;
const EVENT_WAIT_MS = 3000; // longest wait for each expected subscription event
const SILENCE_MS = 50; // no further event may arrive within this
const ALL_EVENTS = 1 << 20; // the limit used to read a step's own events

const ERROR_CODES = ["INVALID_KEY", "ALREADY_EXISTS", "NOT_FOUND", "VERSION_MISMATCH", "COMPACTED",
  "INVALID_VALUE", "VALUE_TOO_LARGE", "STORE_FULL", "INVALID_ARGUMENT", "CLOSED"];
const HOSTS = ["go", "node", "chromium"];
const OPTION_FIELDS = ["replayBufferSize", "replayBufferBytes", "maxValueBytes", "maxDataBytes"];
const STATS_FIELDS = ["totalEvents", "currentSequence", "replayBufferSize", "eventsDropped",
  "oldestSequence", "actors", "replayBufferBytes", "dataBytes"];

// Per op: the fields a step may have besides the common ones, and the
// expectation kinds it may use.
const STEP_FIELDS = {
  insert: [["type", "id", "value", "valueHex"], ["actor", "error"]],
  update: [["type", "id", "value", "valueHex"], ["actor", "error"]],
  updateVersioned: [["type", "id", "value", "valueHex", "expected"], ["actor", "error"]],
  get: [["type", "id"], ["actor", "absent", "error"]],
  delete: [["type", "id"], ["actor", "absent", "error"]],
  getAll: [["type"], ["actors", "error"]],
  changes: [["since", "actorType", "keyPrefix", "limit"], ["events", "error"]],
  batch: [["ops"], ["results", "error"]],
  stats: [[], ["stats"]],
  subscribe: [["from", "actorType", "keyPrefix"], ["events", "error"]],
};
const COMMON_STEP_FIELDS = ["op", "time", "expect", "events"];
const READ_OPS = ["get", "getAll", "changes", "stats", "subscribe"];
const EXPECT_KINDS = ["actor", "absent", "actors", "events", "results", "stats", "error"];
const BATCH_OPS = ["insert", "update", "updateVersioned", "delete"];

/** Runs every vector of one parsed vector file; see the top of this file. */
export async function runVectorFile(lib, file, { host, wasm, replica } = {}) {
  if (!HOSTS.includes(host) || host === "go") throw new Error(`runVectorFile: host must be "node" or "chromium", not ${host}`);
  for (const f of ["ActorStore", "encodeValue", "decodeValue"]) {
    if (typeof lib?.[f] !== "function") throw new Error(`runVectorFile: the library has no ${f}`);
  }
  const name = typeof file?.name === "string" ? file.name : "(unnamed file)";
  const result = { file: name, passed: 0, skipped: 0, failures: [] };
  try {
    validateFile(file);
  } catch (e) {
    result.failures.push({ vector: `(file ${name})`, step: -1, message: `invalid vector file: ${e.message}` });
    return result;
  }
  for (const v of file.vectors) {
    if ((v.hosts != null && !v.hosts.includes(host)) || (replica && usesTime(v))) {
      result.skipped++;
      continue;
    }
    const failure = await runVector(lib, v, wasm, replica);
    if (failure) result.failures.push({ vector: v.name, ...failure });
    else result.passed++;
  }
  return result;
}

// ---------------------------------------------------------------------------
// Validation: mirrors tests/vectors_test.go and tests/validate_test.go. A
// JSON null counts as an absent field, as in Go, except for values, where
// null is the CBOR value null.

class VectorError extends Error {}

function fail(message) {
  throw new VectorError(message);
}

const json = (x) => JSON.stringify(x)?.slice(0, 200);
const has = (o, k) => o[k] !== undefined && o[k] !== null;
const hasValue = (o, k) => o[k] !== undefined;
const isObject = (x) => typeof x === "object" && x !== null && !Array.isArray(x);

// fields checks that o is an object whose fields are all in allowed.
function fields(o, allowed, what) {
  if (!isObject(o)) fail(`${what}: want an object, got ${json(o)}`);
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(`${what}: unknown field "${k}"`);
}

function checkInt(x, what, { min = -Infinity } = {}) {
  if (!Number.isSafeInteger(x) || x < min) fail(`${what}: want ${min === 0 ? "a non-negative" : "an"} integer, got ${json(x)}`);
}

function checkString(x, what) {
  if (typeof x !== "string") fail(`${what}: want a string, got ${json(x)}`);
}

function checkHex(x, what) {
  if (typeof x !== "string" || !/^([0-9a-fA-F]{2})*$/.test(x)) fail(`${what}: want hex digits, got ${json(x)}`);
}

// checkJstr checks a string field: "text", {"repeat", "count"} or {"hex"}.
function checkJstr(x, what) {
  if (typeof x === "string") return;
  fields(x, ["repeat", "count", "hex"], what);
  if (has(x, "hex") && !has(x, "repeat") && !has(x, "count")) return checkHex(x.hex, `${what}.hex`);
  if (!has(x, "hex") && has(x, "repeat") && has(x, "count")) {
    checkString(x.repeat, `${what}.repeat`);
    return checkInt(x.count, `${what}.count`, { min: 0 });
  }
  fail(`${what}: want a string, {repeat, count} or {hex}, got ${json(x)}`);
}

// hasHexString reports whether a JSON value holds a {"hex": …} string.
function hasHexString(x) {
  if (Array.isArray(x)) return x.some(hasHexString);
  if (!isObject(x)) return false;
  const keys = Object.keys(x);
  if (keys.length === 1 && keys[0] === "hex") return true;
  return keys.some((k) => hasHexString(x[k]));
}

function oneValue(o, valueKey, hexKey, what) {
  const n = hasValue(o, valueKey) + has(o, hexKey);
  if (n !== 1) fail(`${what}: needs exactly one of ${valueKey} and ${hexKey}`);
  if (has(o, hexKey)) checkHex(o[hexKey], `${what}.${hexKey}`);
}

function validateFile(f) {
  fields(f, ["name", "description", "vectors"], "file");
  if (!has(f, "name") || !has(f, "description") || !Array.isArray(f.vectors) || f.vectors.length === 0) {
    fail("a vector file needs a name, a description and vectors");
  }
  checkString(f.name, "name");
  checkString(f.description, "description");
  if (f.name === "" || f.description === "") fail("a vector file needs a name, a description and vectors");
  const seen = new Set();
  f.vectors.forEach((v, i) => {
    const what = `vector ${json(v?.name) ?? i}`;
    try {
      validateVector(v);
    } catch (e) {
      fail(`${what}: ${e.message}`);
    }
    if (seen.has(v.name)) fail(`two vectors named ${json(v.name)}`);
    seen.add(v.name);
  });
}

function validateVector(v) {
  fields(v, ["name", "rule", "options", "hosts", "steps"], "vector");
  if (typeof v.name !== "string" || v.name === "" || typeof v.rule !== "string" || v.rule === "") {
    fail("a vector needs a name and a rule");
  }
  if (has(v, "options")) {
    fields(v.options, OPTION_FIELDS, "options");
    for (const k of OPTION_FIELDS) if (has(v.options, k)) checkInt(v.options[k], `options.${k}`);
  }
  if (has(v, "hosts")) {
    if (!Array.isArray(v.hosts) || v.hosts.length === 0) fail(`"hosts" must be a non-empty list`);
    for (const h of v.hosts) if (!HOSTS.includes(h)) fail(`unknown host ${json(h)} (known: ${HOSTS})`);
  }
  if (!Array.isArray(v.steps) || v.steps.length === 0) fail("a vector needs steps");
  v.steps.forEach((s, i) => {
    try {
      validateStep(s);
    } catch (e) {
      fail(`steps[${i}]: ${e.message}`);
    }
  });
  if (hasHexString(v) && !(v.hosts?.length === 1 && v.hosts[0] === "go")) {
    fail(`a vector with {"hex"} strings must say "hosts": ["go"]`);
  }
}

function validateStep(s) {
  if (!isObject(s) || typeof s.op !== "string") fail(`step ${json(s)}: no op`);
  const spec = STEP_FIELDS[s.op];
  if (!spec) fail(`unknown op ${json(s.op)}`);
  const [extra, expects] = spec;
  fields(s, [...COMMON_STEP_FIELDS, ...extra], `op ${s.op}`);
  const need = (ok, what) => ok || fail(`op ${s.op}: needs ${what}`);
  if (has(s, "time")) checkInt(s.time, "time");
  for (const k of ["type", "id", "actorType", "keyPrefix"]) if (has(s, k)) checkJstr(s[k], k);
  for (const k of ["expected", "since"]) if (has(s, k)) checkInt(s[k], k, { min: 0 });
  if (has(s, "limit")) checkInt(s.limit, "limit");
  if (has(s, "valueHex")) checkHex(s.valueHex, "valueHex");
  switch (s.op) {
    case "insert":
    case "update":
    case "updateVersioned":
      need(has(s, "type") && has(s, "id"), "type and id");
      oneValue(s, "value", "valueHex", `op ${s.op}`);
      need(s.op !== "updateVersioned" || has(s, "expected"), "expected");
      break;
    case "get":
    case "delete":
      need(has(s, "type") && has(s, "id"), "type and id");
      break;
    case "getAll":
      need(has(s, "type"), "type");
      break;
    case "changes":
      need(has(s, "since"), "since");
      break;
    case "batch":
      need(Array.isArray(s.ops), "ops");
      for (const [i, o] of s.ops.entries()) validateBatchOp(o, `op batch: ops[${i}]`);
      break;
    case "subscribe":
      need(has(s, "from"), "from");
      validateFrom(s.from);
      break;
  }
  if (!has(s, "expect")) {
    if (READ_OPS.includes(s.op)) fail(`op ${s.op}: needs an expect`);
  } else {
    validateExpect(s.expect, s.op, expects);
  }
  if (has(s, "events")) validateEvents(s.events, "events");
}

function validateBatchOp(o, what) {
  fields(o, ["op", "type", "id", "value", "valueHex", "expected"], what);
  if (!BATCH_OPS.includes(o.op)) fail(`${what}: unknown batch op ${json(o.op)}`);
  if (!has(o, "type") || !has(o, "id")) fail(`${what}: needs type and id`);
  checkJstr(o.type, `${what}.type`);
  checkJstr(o.id, `${what}.id`);
  if (o.op === "delete") {
    if (hasValue(o, "value") || has(o, "valueHex")) fail(`${what}: a delete takes no value`);
  } else {
    oneValue(o, "value", "valueHex", what);
  }
  if ((o.op === "updateVersioned") !== has(o, "expected")) fail(`${what}: expected goes with updateVersioned, and only with it`);
  if (has(o, "expected")) checkInt(o.expected, `${what}.expected`, { min: 0 });
}

function validateFrom(f) {
  if (typeof f === "string") {
    if (f !== "beginning" && f !== "now") fail(`from ${json(f)}: want "beginning", "now", {sequence} or {time}`);
    return;
  }
  fields(f, ["sequence", "time"], "from");
  if (has(f, "sequence") === has(f, "time")) fail(`from ${json(f)}: want exactly one of sequence and time`);
  if (has(f, "sequence")) checkInt(f.sequence, "from.sequence", { min: 0 });
  else checkInt(f.time, "from.time");
}

function validateExpect(e, op, allowed) {
  fields(e, [...EXPECT_KINDS, "next"], `op ${op}: expect`);
  const kinds = EXPECT_KINDS.filter((k) => has(e, k));
  if (kinds.length !== 1 || !allowed.includes(kinds[0])) {
    fail(`op ${op}: expect has [${kinds}], want one of [${allowed}]`);
  }
  if ((op === "changes" && kinds[0] === "events") !== has(e, "next")) {
    fail(`op ${op}: "next" goes with the events of changes, and only there`);
  }
  if (has(e, "next")) checkInt(e.next, "next", { min: 0 });
  switch (kinds[0]) {
    case "absent":
      if (e.absent !== true) fail(`"absent" must be true`);
      break;
    case "actor":
      validateActor(e.actor, "actor");
      break;
    case "actors":
      if (!Array.isArray(e.actors)) fail("actors: want a list");
      for (const [i, a] of e.actors.entries()) validateActor(a, `actors[${i}]`);
      break;
    case "events":
      validateEvents(e.events, "events");
      break;
    case "results":
      if (!Array.isArray(e.results)) fail("results: want a list");
      for (const [i, r] of e.results.entries()) validateResult(r, `results[${i}]`);
      break;
    case "stats":
      fields(e.stats, STATS_FIELDS, "stats");
      if (!STATS_FIELDS.some((k) => has(e.stats, k))) fail("stats expects nothing");
      for (const k of STATS_FIELDS) if (has(e.stats, k)) checkInt(e.stats[k], `stats.${k}`, { min: 0 });
      break;
    case "error":
      validateError(e.error, op === "batch");
      break;
  }
}

function validateActor(a, what) {
  fields(a, ["type", "id", "value", "valueHex", "version"], what);
  if (!has(a, "type") || !has(a, "id") || !has(a, "version") || hasValue(a, "value") + has(a, "valueHex") !== 1) {
    fail(`${what}: an actor needs type, id, version and exactly one of value and valueHex`);
  }
  checkJstr(a.type, `${what}.type`);
  checkJstr(a.id, `${what}.id`);
  checkInt(a.version, `${what}.version`, { min: 0 });
  if (has(a, "valueHex")) checkHex(a.valueHex, `${what}.valueHex`);
}

function validateResult(r, what) {
  fields(r, ["actor", "absent"], what);
  if (has(r, "actor") === has(r, "absent")) fail(`${what}: want exactly one of actor and absent`);
  if (has(r, "absent") && r.absent !== true) fail(`${what}: absent must be true`);
  if (has(r, "actor")) validateActor(r.actor, `${what}.actor`);
}

function validateEvents(es, what) {
  if (!Array.isArray(es)) fail(`${what}: want a list`);
  for (const [i, e] of es.entries()) validateEvent(e, `${what}[${i}]`);
}

function validateEvent(e, what) {
  fields(e, ["sequence", "operation", "actorType", "actorId", "previousValue", "previousValueHex",
    "previousVersion", "newValue", "newValueHex", "newVersion", "timestamp"], what);
  for (const k of ["sequence", "operation", "actorType", "actorId", "timestamp"]) {
    if (!has(e, k)) fail(`${what}: an event needs sequence, operation, actorType, actorId and timestamp`);
  }
  checkInt(e.sequence, `${what}.sequence`, { min: 0 });
  checkInt(e.timestamp, `${what}.timestamp`);
  checkJstr(e.actorType, `${what}.actorType`);
  checkJstr(e.actorId, `${what}.actorId`);
  for (const side of ["previous", "new"]) {
    if (has(e, `${side}Version`)) checkInt(e[`${side}Version`], `${what}.${side}Version`, { min: 0 });
    if (has(e, `${side}ValueHex`)) checkHex(e[`${side}ValueHex`], `${what}.${side}ValueHex`);
    if (hasValue(e, `${side}Value`) && has(e, `${side}ValueHex`)) fail(`${what}: a value is given both as JSON and as hex`);
  }
  const side = (s) => {
    const value = hasValue(e, `${s}Value`) || has(e, `${s}ValueHex`);
    if (has(e, `${s}Version`) && value) return "both";
    return !has(e, `${s}Version`) && !value ? "none" : "partial";
  };
  const want = { insert: ["none", "both"], update: ["both", "both"], delete: ["both", "none"] }[e.operation];
  if (!want) fail(`${what}: unknown operation ${json(e.operation)}`);
  if (side("previous") !== want[0] || side("new") !== want[1]) fail(`${what}: a ${e.operation} event has the wrong previous/new fields`);
}

function validateError(e, inBatch) {
  fields(e, ["code", "expected", "actual", "requested", "oldest", "index"], "error");
  if (!ERROR_CODES.includes(e.code)) fail(`unknown error code ${json(e.code)}`);
  const mismatch = e.code === "VERSION_MISMATCH";
  const compacted = e.code === "COMPACTED";
  if (mismatch !== has(e, "expected") || mismatch !== has(e, "actual")) fail("expected and actual go with VERSION_MISMATCH, and only with it");
  if (compacted !== has(e, "requested") || compacted !== has(e, "oldest")) fail("requested and oldest go with COMPACTED, and only with it");
  if (inBatch !== has(e, "index")) fail("index goes with batch errors, and only with them");
  for (const k of ["expected", "actual", "requested", "oldest", "index"]) if (has(e, k)) checkInt(e[k], `error.${k}`, { min: 0 });
}

// ---------------------------------------------------------------------------
// Running.

// str returns the text of a validated string field ({hex} cannot be run
// here: such vectors are for Go only).
function str(x) {
  if (x === undefined || x === null) return undefined;
  if (typeof x === "string") return x;
  if (has(x, "repeat")) return x.repeat.repeat(x.count);
  throw new VectorError(`{"hex"} strings are for the Go host only`);
}

function fromHex(h) {
  const b = new Uint8Array(h.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(h.substr(2 * i, 2), 16);
  return b;
}

function toHex(b) {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

// describe shows a value read from the store, for messages.
function describe(v) {
  if (v instanceof Uint8Array) {
    const h = toHex(v);
    return h.length > 200 ? `${h.slice(0, 200)}… (${v.length} bytes)` : h || "(empty)";
  }
  if (v === undefined) return "(none)";
  return `${typeof v} ${String(v).slice(0, 100)}`;
}

/** Whether a vector sets the clock or reads by time: a replica's clock is its server's. */
export function usesTime(v) {
  return v.steps.some((s) => has(s, "time") || (isObject(s.from) && has(s.from, "time")));
}

async function runVector(lib, v, wasm, replica) {
  let now = 0;
  const options = { wasm, raw: true, clock: () => now };
  for (const k of OPTION_FIELDS) if (v.options?.[k]) options[k] = v.options[k];
  let store;
  try {
    if (replica) {
      const limits = {};
      for (const k of OPTION_FIELDS) if (v.options?.[k]) limits[k] = v.options[k];
      store = await replica(limits);
    } else {
      store = await lib.ActorStore.open(options);
    }
  } catch (e) {
    return { step: -1, message: `open: ${errorText(e)}` };
  }
  const r = new Runner(lib, store, !!replica);
  try {
    for (let i = 0; i < v.steps.length; i++) {
      const s = v.steps[i];
      now = has(s, "time") ? s.time : BASE_TIME + 1000 * i;
      try {
        await r.step(s);
      } catch (e) {
        const message = e instanceof VectorError ? e.message : `threw ${errorText(e)}${e?.stack ? `\n${e.stack}` : ""}`;
        return { step: i, message: `step ${i} (${s.op}): ${message}` };
      }
    }
    return null;
  } finally {
    await store.close();
  }
}

function errorText(e) {
  if (e === null || typeof e !== "object") return String(e);
  const details = ["expected", "actual", "requested", "oldest", "index"].filter((k) => e[k] !== undefined).map((k) => `${k} ${e[k]}`);
  return `${e.name ?? "error"}${e.code ? ` ${e.code}` : ""}: ${e.message}${details.length ? ` (${details.join(", ")})` : ""}`;
}

class Runner {
  constructor(lib, store, remote) {
    this.lib = lib;
    this.store = store;
    this.remote = remote; // writes return promises; the server's clock
  }

  // value converts a validated value or valueHex to the bytes to write.
  input(o) {
    return has(o, "valueHex") ? fromHex(o.valueHex) : this.lib.encodeValue(o.value);
  }

  async step(s) {
    const before = has(s, "events") ? this.store.stats().currentSequence : 0;
    await this.do(s);
    if (has(s, "events")) {
      const made = this.eventsSince(before);
      try {
        this.checkEvents(s.events, made);
      } catch (e) {
        fail(`step events: ${e.message}`);
      }
    }
  }

  // eventsSince reads every event after sequence since, page by page.
  eventsSince(since) {
    const all = [];
    for (;;) {
      const page = this.store.changes(since, { limit: ALL_EVENTS });
      if (page.events.length === 0) return all;
      all.push(...page.events);
      since = page.next;
    }
  }

  async do(s) {
    const st = this.store;
    const remote = this.remote;
    const call = async (f) => {
      try {
        const result = f();
        return { result: remote ? await result : result };
      } catch (error) {
        return { error };
      }
    };
    switch (s.op) {
      case "insert":
      case "update": {
        const value = this.input(s);
        return this.checkWrite(s.expect, await call(() => st[s.op](str(s.type), str(s.id), value)));
      }
      case "updateVersioned": {
        const value = this.input(s);
        return this.checkWrite(s.expect, await call(() => st.updateVersioned(str(s.type), str(s.id), value, s.expected)));
      }
      case "get":
      case "delete":
        return this.checkLookup(s.expect, await call(() => st[s.op](str(s.type), str(s.id))));
      case "getAll": {
        const out = await call(() => st.getAll(str(s.type)));
        if (this.outcome(s.expect, out, "actors")) return;
        if (!Array.isArray(out.result)) fail(`getAll returned ${describe(out.result)}, want a list`);
        return this.checkActors(s.expect.actors, out.result);
      }
      case "changes":
        return this.changes(s);
      case "batch":
        return await this.batch(s);
      case "stats": {
        const got = st.stats();
        for (const k of STATS_FIELDS) {
          if (has(s.expect.stats, k) && got[k] !== s.expect.stats[k]) {
            fail(`stats ${k} ${got[k]}, want ${s.expect.stats[k]} (all: ${JSON.stringify(got)})`);
          }
        }
        return;
      }
      case "subscribe":
        return this.subscribe(s);
    }
    fail(`unknown op ${json(s.op)}`);
  }

  // outcome settles what every step shares: no expectation (the step must
  // succeed), an expected error, an unexpected one. It returns true when
  // nothing is left to compare.
  outcome(want, { error }, wanted) {
    if (!want) {
      if (error) fail(`error ${errorText(error)}, want success`);
      return true;
    }
    if (has(want, "error")) {
      this.checkError(want.error, error);
      return true;
    }
    if (error) fail(`error ${errorText(error)}, want ${wanted}`);
    return false;
  }

  checkWrite(want, out) {
    if (this.outcome(want, out, "an actor")) return;
    this.checkActor(want.actor, out.result);
  }

  checkLookup(want, out) {
    if (this.outcome(want, out, "an actor or absent")) return;
    const a = out.result;
    if (want.absent) {
      if (a !== undefined) fail(`found ${actorText(a)}, want absent`);
    } else if (a === undefined) {
      fail("absent, want an actor");
    } else {
      this.checkActor(want.actor, a);
    }
  }

  changes(s) {
    const opts = {};
    if (has(s, "actorType")) opts.actorType = str(s.actorType);
    if (has(s, "keyPrefix")) opts.keyPrefix = str(s.keyPrefix);
    if (has(s, "limit")) opts.limit = s.limit;
    let out;
    try {
      out = { result: this.store.changes(s.since, opts) };
    } catch (error) {
      out = { error };
    }
    if (this.outcome(s.expect, out, "events")) return;
    this.checkEvents(s.expect.events, out.result.events);
    if (out.result.next !== s.expect.next) fail(`next ${out.result.next}, want ${s.expect.next}`);
  }

  async batch(s) {
    const ops = s.ops.map((o) => {
      const op = { op: o.op, type: str(o.type), id: str(o.id) };
      if (o.op !== "delete") op.value = this.input(o);
      if (o.op === "updateVersioned") op.expected = o.expected;
      return op;
    });
    let out;
    try {
      const result = this.store.batch(ops);
      out = { result: this.remote ? await result : result };
    } catch (error) {
      out = { error };
    }
    if (this.outcome(s.expect, out, "results")) return;
    const got = out.result;
    const want = s.expect.results;
    if (!Array.isArray(got) || got.length !== want.length) fail(`${got?.length} results, want ${want.length}`);
    want.forEach((r, i) => {
      try {
        if (typeof got[i].found !== "boolean") fail(`found is ${describe(got[i].found)}, want a boolean`);
        if (r.absent) {
          if (got[i].found || got[i].actor !== undefined) fail(`found ${actorText(got[i].actor)}, want absent`);
        } else {
          if (!got[i].found) fail("absent, want an actor");
          this.checkActor(r.actor, got[i].actor);
        }
      } catch (e) {
        fail(`results[${i}]: ${e.message}`);
      }
    });
  }

  // subscribe checks what a new subscription delivers: the expected events
  // and then nothing, or the expected error, thrown by subscribe or given
  // to onError before any event.
  async subscribe(s) {
    const opts = { from: s.from };
    if (has(s, "actorType")) opts.actorType = str(s.actorType);
    if (has(s, "keyPrefix")) opts.keyPrefix = str(s.keyPrefix);
    const feed = new Feed();
    let stop;
    try {
      stop = this.store.subscribe(opts, (ev) => feed.push({ event: ev }), (err) => feed.push({ error: err }));
    } catch (error) {
      if (has(s.expect, "error")) return this.checkError(s.expect.error, error);
      fail(`subscribe: ${errorText(error)}`);
    }
    if (typeof stop !== "function") fail(`subscribe returned ${describe(stop)}, want a function`);
    try {
      if (has(s.expect, "error")) {
        const item = await feed.next(EVENT_WAIT_MS);
        if (!item) fail(`nothing within ${EVENT_WAIT_MS} ms, want error ${s.expect.error.code}`);
        if (item.event) fail(`event ${eventText(item.event)}, want error ${s.expect.error.code}`);
        return this.checkError(s.expect.error, item.error);
      }
      const got = [];
      for (let i = 0; i < s.expect.events.length; i++) {
        const item = await feed.next(EVENT_WAIT_MS);
        if (!item || item.error) {
          const what = item ? `error ${errorText(item.error)}` : `nothing within ${EVENT_WAIT_MS} ms`;
          fail(`after ${got.length} events [${got.map(eventText).join(", ")}]: ${what}`);
        }
        got.push(item.event);
      }
      this.checkEvents(s.expect.events, got);
      const more = await feed.next(SILENCE_MS);
      if (more) {
        fail(`after the expected events: got ${more.event ? eventText(more.event) : `error ${errorText(more.error)}`}; want nothing more`);
      }
    } finally {
      stop();
    }
  }

  checkError(want, err) {
    if (err === undefined) fail(`succeeded, want error ${want.code}`);
    if (this.lib.ActorStoreError && !(err instanceof this.lib.ActorStoreError)) {
      fail(`threw ${errorText(err)}, not an ActorStoreError; want ${want.code}`);
    }
    if (!(err instanceof Error)) fail(`threw ${errorText(err)}, not an Error; want ${want.code}`);
    if (err.code !== want.code) fail(`error ${errorText(err)}, want ${want.code}`);
    if (has(want, "index") !== (err.index !== undefined)) {
      fail(has(want, "index") ? `error ${errorText(err)} has no batch index, want index ${want.index}`
        : `error ${errorText(err)} has a batch index, want a plain error`);
    }
    for (const k of ["index", "expected", "actual", "requested", "oldest"]) {
      if (has(want, k) && err[k] !== want[k]) fail(`error ${errorText(err)}: ${k} ${err[k]}, want ${want[k]}`);
    }
  }

  checkActor(want, got) {
    if (!isObject(got)) fail(`got ${describe(got)}, want an actor`);
    const [type, id] = [str(want.type), str(want.id)];
    if (got.type !== type || got.id !== id) fail(`actor ${json(got.type)}/${json(got.id)}, want ${json(type)}/${json(id)}`);
    if (got.version !== want.version) fail(`actor ${json(got.type)}/${json(got.id)} version ${got.version}, want ${want.version}`);
    try {
      this.checkValue(got.value, want, "value", "valueHex");
    } catch (e) {
      fail(`actor ${json(got.type)}/${json(got.id)}: ${e.message}`);
    }
  }

  checkActors(want, got) {
    if (got.length !== want.length) fail(`${got.length} actors [${got.map(actorText).join(" ")}], want ${want.length}`);
    want.forEach((a, i) => {
      try {
        this.checkActor(a, got[i]);
      } catch (e) {
        fail(`actors[${i}]: ${e.message}`);
      }
    });
  }

  // checkValue compares stored bytes with want[key] (semantically: decoded
  // and compared as JSON, numbers as float64) or want[hexKey] (exactly).
  checkValue(got, want, key, hexKey) {
    if (!(got instanceof Uint8Array)) fail(`value ${describe(got)}, want CBOR bytes (raw mode)`);
    if (has(want, hexKey)) {
      if (toHex(got) !== want[hexKey].toLowerCase()) fail(`value ${describe(got)}, want ${want[hexKey]}`);
      return;
    }
    let decoded;
    try {
      decoded = this.lib.decodeValue(got);
    } catch (e) {
      fail(`value ${describe(got)} does not decode (${errorText(e)}), want ${json(want[key])}`);
    }
    if (!jsonEqual(decoded, want[key])) fail(`value ${describe(got)}, want ${json(want[key])}`);
  }

  checkEvents(want, got) {
    if (!Array.isArray(got)) fail(`got ${describe(got)}, want a list of events`);
    if (got.length !== want.length) fail(`${got.length} events [${got.map(eventText).join(", ")}], want ${want.length}`);
    want.forEach((w, i) => {
      try {
        this.checkEvent(w, got[i]);
      } catch (e) {
        fail(`events[${i}]: ${e.message}`);
      }
    });
  }

  checkEvent(want, got) {
    const [type, id] = [str(want.actorType), str(want.actorId)];
    if (got.sequence !== want.sequence) fail(`sequence ${got.sequence}, want ${want.sequence}`);
    const at = `event #${got.sequence}`;
    if (got.operation !== want.operation) fail(`${at} operation ${json(got.operation)}, want ${want.operation}`);
    if (got.actorType !== type || got.actorId !== id) {
      fail(`${at} actor ${json(got.actorType)}/${json(got.actorId)}, want ${json(type)}/${json(id)}`);
    }
    if (!(got.timestamp instanceof Date) || (!this.remote && got.timestamp.getTime() !== want.timestamp)) {
      fail(`${at} timestamp ${got.timestamp instanceof Date ? got.timestamp.getTime() : describe(got.timestamp)}, want ${want.timestamp} ms`);
    }
    for (const side of ["previous", "new"]) {
      const [value, version] = [got[`${side}Value`], got[`${side}Version`]];
      if (!has(want, `${side}Version`)) {
        if (version !== undefined || value !== undefined) {
          fail(`${at} has ${side} version ${version} value ${describe(value)}, want none`);
        }
        continue;
      }
      if (version !== want[`${side}Version`]) fail(`${at} ${side} version ${version}, want ${want[`${side}Version`]}`);
      try {
        this.checkValue(value, want, `${side}Value`, `${side}ValueHex`);
      } catch (e) {
        fail(`${at} ${side} ${e.message}`);
      }
    }
  }
}

// jsonEqual compares a decoded CBOR value with a JSON value as the Go
// runner does: numbers (and bigints) as float64, maps with text keys as
// objects (decoded as plain objects or as Maps); anything outside the
// JSON data model (byte strings, tags, undefined) equals nothing.
function jsonEqual(got, want) {
  if (want === null || typeof want !== "object") {
    if (typeof want === "number") return (typeof got === "number" || typeof got === "bigint") && Number(got) === want;
    return got === want;
  }
  if (Array.isArray(want)) {
    return Array.isArray(got) && got.length === want.length && want.every((w, i) => jsonEqual(got[i], w));
  }
  let entries;
  if (got instanceof Map) {
    entries = [...got];
    if (entries.some(([k]) => typeof k !== "string")) return false;
  } else if (got !== null && typeof got === "object" && [Object.prototype, null].includes(Object.getPrototypeOf(got))) {
    entries = Object.entries(got);
  } else {
    return false;
  }
  const keys = Object.keys(want);
  return entries.length === keys.length && entries.every(([k, v]) => Object.hasOwn(want, k) && jsonEqual(v, want[k]));
}

function actorText(a) {
  return isObject(a) ? `${json(a.type)}/${json(a.id)} v${a.version}` : describe(a);
}

function eventText(e) {
  return isObject(e) ? `#${e.sequence} ${e.operation} ${json(e.actorType)}/${json(e.actorId)}` : describe(e);
}

// Feed queues what a subscription delivers, for reads with a deadline.
class Feed {
  items = [];
  waiter = null;

  push(item) {
    this.items.push(item);
    this.waiter?.();
  }

  // next resolves with the next item, or undefined after ms.
  async next(ms) {
    if (this.items.length === 0) {
      await new Promise((resolve) => {
        const timer = setTimeout(done, ms);
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.waiter = done;
      });
      this.waiter = null;
    }
    return this.items.shift();
  }
}
