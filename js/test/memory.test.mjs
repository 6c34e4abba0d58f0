// Memory growth: enough inserts to make the module grow its memory many
// times, after which every earlier value must still read back correctly
// (a host keeping a stale view of memory.buffer would read zeros or throw).

import { test } from "node:test";
import assert from "node:assert/strict";
import { ActorStore } from "../actorstore.js";
import { wasm } from "./helpers.mjs";

// openWatched opens a store and returns it with its instance's memory,
// caught by wrapping WebAssembly.instantiate for the duration of open.
async function openWatched(options) {
  const instantiate = WebAssembly.instantiate;
  let memory;
  WebAssembly.instantiate = async (...args) => {
    const r = await instantiate.apply(WebAssembly, args);
    memory = (r.instance ?? r).exports.memory;
    return r;
  };
  try {
    const store = await ActorStore.open({ wasm, ...options });
    assert.ok(memory instanceof WebAssembly.Memory, "no memory caught");
    return { store, memory };
  } finally {
    WebAssembly.instantiate = instantiate;
  }
}

// value is the i-th actor's value, varied in shape and size.
const value = (i) => ({ i, name: `actor-${i}`, pad: "p".repeat(i % 97), tags: i % 3 ? [i, -i] : [] });

test("200,000 inserts grow memory; every value still reads back", async (t) => {
  const N = 200_000;
  const { store, memory } = await openWatched({ replayBufferSize: 1000 });
  t.after(() => store.close());
  const startBytes = memory.buffer.byteLength;
  let grows = 0;
  let buffer = memory.buffer;
  for (let i = 0; i < N; i++) {
    store.insert(`type${i % 4}`, `id-${i.toString(36)}`, value(i));
    if (memory.buffer !== buffer) {
      grows++;
      buffer = memory.buffer;
    }
  }
  const endBytes = memory.buffer.byteLength;
  assert.ok(grows >= 3, `memory grew ${grows} times, from ${startBytes} to ${endBytes} bytes`);
  assert.ok(endBytes >= startBytes + 16 * 2 ** 20, `memory only grew from ${startBytes} to ${endBytes} bytes`);

  for (let i = 0; i < N; i++) {
    const a = store.get(`type${i % 4}`, `id-${i.toString(36)}`);
    if (a?.value?.i !== i) assert.deepEqual(a, { type: `type${i % 4}`, id: `id-${i.toString(36)}`, value: value(i), version: 0 });
  }
  // Spot-check whole values, and every actor through getAll.
  for (const i of [0, 1, 96, 12345, N - 1]) assert.deepEqual(store.get(`type${i % 4}`, `id-${i.toString(36)}`).value, value(i));
  let seen = 0;
  for (let k = 0; k < 4; k++) {
    const all = store.getAll(`type${k}`);
    for (const a of all) assert.equal(a.value.name, `actor-${a.value.i}`);
    seen += all.length;
  }
  assert.equal(seen, N);
  const st = store.stats();
  assert.equal(st.actors, N);
  assert.equal(st.currentSequence, N);
  assert.equal(st.replayBufferSize, 1000);
  assert.deepEqual(store.changes(N - 1).events[0].newValue, value(N - 1));
});
