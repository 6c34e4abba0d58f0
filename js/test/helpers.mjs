// Helpers shared by the Node tests of the JS host.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ActorStore, ActorStoreError } from "../actorstore.js";

export const wasmURL = new URL("../actorstore.wasm", import.meta.url);
export const wasmBytes = readFileSync(wasmURL);
/** The module, compiled once per test file. */
export const wasm = await WebAssembly.compile(wasmBytes);

/** Opens a store on the compiled module, closed when test t ends. */
export async function open(t, options = {}) {
  const store = await ActorStore.open({ wasm, ...options });
  t.after(() => store.close());
  return store;
}

/** Resolves after pending microtasks and one macrotask. */
export const tick = (ms = 0) => new Promise((resolve) => setTimeout(resolve, ms));

/** Asserts that f throws an ActorStoreError with code and the given fields. */
export function throwsCode(f, code, fields = {}, what = "") {
  let error;
  try {
    f();
  } catch (e) {
    error = e;
  }
  assert.ok(error !== undefined, `${what} succeeded, want ${code}`);
  assertCode(error, code, fields);
  return error;
}

/** Like throwsCode for a promise. */
export async function rejectsCode(p, code, fields = {}) {
  let error;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  assert.ok(error !== undefined, `resolved, want ${code}`);
  assertCode(error, code, fields);
  return error;
}

/** Asserts that error is an ActorStoreError with code and fields. */
export function assertCode(error, code, fields = {}) {
  assert.ok(error instanceof ActorStoreError, `${error?.stack ?? error} is not an ActorStoreError`);
  assert.equal(error.code, code, `error ${error.code}: ${error.message}`);
  for (const [k, v] of Object.entries(fields)) assert.equal(error[k], v, `${code}.${k}`);
}

export const hex = (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
export const fromHex = (h) => new Uint8Array(Buffer.from(h, "hex"));

// dump is everything a reopen or a restore must give back: the actors of
// the types, every retained event (timestamps to the millisecond: Date)
// and the stats (but active subscriptions).
export function dump(store, types) {
  const st = store.stats();
  delete st.activeSubscriptions;
  return {
    actors: types.flatMap((t) => store.getAll(t)),
    events: store.changes(st.oldestSequence - 1, { limit: 100_000 }).events,
    stats: st,
  };
}
