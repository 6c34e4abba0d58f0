// ActorStore.open from every kind of module source Node offers, bad
// sources, and a guest that survives a long run of garbage input.

import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ActorStore, ActorStoreError, RawCBOR, encodeValue } from "../actorstore.js";
import { wasm, wasmBytes, wasmURL, rejectsCode } from "./helpers.mjs";

// works checks that a freshly opened store stores and reads.
function works(store) {
  try {
    assert.equal(store.closed, false);
    store.insert("t", "a", { n: 1 });
    assert.deepEqual(store.get("t", "a"), { type: "t", id: "a", value: { n: 1 }, version: 0 });
    assert.equal(store.stats().currentSequence, 1);
  } finally {
    store.close();
  }
}

const path = fileURLToPath(wasmURL);
const copy = () => new Uint8Array(wasmBytes); // a plain Uint8Array, not a Buffer
const sources = {
  "nothing (the package's own module)": undefined,
  "a compiled WebAssembly.Module": wasm,
  "a Buffer": wasmBytes,
  "a Uint8Array": copy(),
  "an ArrayBuffer": copy().buffer,
  "a DataView": new DataView(copy().buffer),
  "a file: URL": wasmURL,
  "a file: URL string": wasmURL.href,
  "a file system path": path,
  "a Response": () => new Response(copy(), { headers: { "content-type": "application/wasm" } }),
  "a Response of another content type": () => new Response(copy()),
  "a promise of a Response": () => Promise.resolve(new Response(copy(), { headers: { "content-type": "application/wasm" } })),
};

for (const [name, source] of Object.entries(sources)) {
  test(`open from ${name}`, async () => {
    const options = source === undefined ? {} : { wasm: typeof source === "function" ? source() : source };
    works(await ActorStore.open(options));
  });
}

test("open() without options", async () => works(await ActorStore.open()));

test("stores from one module are independent", async () => {
  const [a, b] = await Promise.all([ActorStore.open({ wasm }), ActorStore.open({ wasm })]);
  a.insert("t", "x", 1);
  assert.equal(b.get("t", "x"), undefined);
  b.insert("t", "x", 2);
  assert.equal(a.get("t", "x").value, 1);
  a.close();
  assert.equal(b.get("t", "x").value, 2);
  b.close();
});

test("bad module sources are INVALID_ARGUMENT", async () => {
  for (const source of [new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 99]), new Uint8Array(10), 42, {},
    new URL("missing.wasm", wasmURL), "/nonexistent/actorstore.wasm",
    new Response("nope", { status: 404 })]) {
    await rejectsCode(ActorStore.open({ wasm: source }), "INVALID_ARGUMENT");
  }
});

// A hand-assembled module exporting memory, _initialize and an
// abi_version that returns 2.
const str = (s) => [s.length, ...Buffer.from(s)];
const abi2 = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
  1, 8, 2, 0x60, 0, 0, 0x60, 0, 1, 0x7f, // types () -> () and () -> i32
  3, 3, 2, 0, 1, // two functions
  5, 3, 1, 0, 1, // one memory of one page
  7, 38, 3, ...str("_initialize"), 0, 0, ...str("abi_version"), 0, 1, ...str("memory"), 2, 0,
  10, 9, 2, 2, 0, 0x0b, 4, 0, 0x41, 2, 0x0b]); // nop; i32.const 2

test("a module of another ABI version is refused", async () => {
  assert.ok(WebAssembly.validate(abi2));
  await rejectsCode(ActorStore.open({ wasm: abi2 }), "INVALID_ARGUMENT");
});

test("a valid module without the exports is refused with INVALID_ARGUMENT", async () => {
  await rejectsCode(ActorStore.open({ wasm: new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]) }), "INVALID_ARGUMENT");
});

// ---- garbage input -----------------------------------------------------------

// A small deterministic PRNG (mulberry32), so that failures reproduce.
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test("the guest survives 20,000 garbage operations, and its state matches a model", async () => {
  const rand = rng(20240601);
  const int = (n) => Math.floor(rand() * n);
  const pick = (xs) => xs[int(xs.length)];
  // Raw mode: this is about the guest; decoding is values.test.mjs's.
  const store = await ActorStore.open({ wasm, raw: true, maxValueBytes: 512, maxDataBytes: 2048, replayBufferSize: 50 });
  const types = ["a", "a", "b", "b", "é😀", "", "t".repeat(257), "\ud800"];
  const ids = ["1", "2", "3", "4", "5", "😀", "x\u0000y", "", "\udfff", "i".repeat(1025)];
  const bytes = () => Uint8Array.from({ length: int(24) }, () => pick([0x00, 0x18, 0x1f, 0x5f, 0x61, 0x7f, 0x80, 0x9f, 0xa1, 0xbf, 0xc2, 0xd8, 0xf7, 0xfb, 0xff, int(256)]));
  const value = () => pick([
    () => new RawCBOR(bytes()), bytes, () => encodeValue({ k: int(100) }), () => encodeValue("s".repeat(int(600))),
    () => new Uint8Array(int(1000)), () => Symbol("x"), () => ({ not: "bytes" }), () => Uint8Array.of(0x82, 0x01, 0x02),
  ])();
  // The model: what every successful write leaves, and the next sequence.
  const model = new Map();
  let sequence = 0;
  const codes = new Map();
  const note = (e) => {
    assert.ok(e instanceof ActorStoreError, `not an ActorStoreError: ${e?.stack ?? e}`);
    assert.notEqual(e.code, "INTERNAL", e.message);
    codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
  };
  for (let i = 0; i < 20000; i++) {
    const [type, id] = [pick(types), pick(ids)];
    const key = `${type}\u0001${id}`;
    try {
      switch (int(9)) {
        case 0: {
          const a = store.insert(type, id, value());
          model.set(key, a.version);
          sequence++;
          break;
        }
        case 1: {
          const a = store.update(type, id, value());
          model.set(key, a.version);
          sequence++;
          break;
        }
        case 2: {
          const a = store.updateVersioned(type, id, value(), pick([0, 1, 2, -1, 2 ** 53, 0.5]));
          model.set(key, a.version);
          sequence++;
          break;
        }
        case 3:
          if (store.delete(type, id)) {
            model.delete(key);
            sequence++;
          }
          break;
        case 4:
          assert.equal(store.get(type, id)?.version, model.get(key));
          break;
        case 5: {
          const ops = Array.from({ length: int(5) }, () => ({
            op: pick(["insert", "update", "updateVersioned", "delete", "upsert", undefined]),
            type: pick(types), id: pick(ids), value: value(), expected: pick([0, 1, -1]),
          }));
          const rs = store.batch(ops);
          ops.forEach((op, j) => {
            const k = `${op.type}\u0001${op.id}`;
            if (op.op === "delete") {
              if (rs[j].found) sequence++;
              model.delete(k);
            } else {
              model.set(k, rs[j].actor.version);
              sequence++;
            }
          });
          break;
        }
        case 6:
          store.changes(pick([0, sequence, sequence - 10, -1, 2 ** 60, 1.5]), {
            limit: pick([undefined, 0, 1, -1, 2 ** 40]), actorType: pick([undefined, "a", "\ud800"]),
            keyPrefix: pick([undefined, "", "😀", 7]),
          });
          break;
        case 7:
          store.getAll(type);
          break;
        case 8:
          store.insert(type, id, new RawCBOR(Uint8Array.of(0x82, 0x01)));
          assert.fail("a truncated array was accepted");
      }
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      note(e);
    }
    assert.equal(store.closed, false, `operation ${i} closed the store`);
  }
  const st = store.stats();
  assert.equal(st.currentSequence, sequence);
  assert.equal(st.actors, model.size);
  for (const type of ["a", "b", "é😀"]) {
    const got = store.getAll(type).map((a) => [a.id, a.version]);
    const want = [...model].filter(([k]) => k.startsWith(`${type}\u0001`)).map(([k, v]) => [k.slice(type.length + 1), v]);
    want.sort((x, y) => Buffer.compare(Buffer.from(x[0]), Buffer.from(y[0])));
    assert.deepEqual(got, want, `actors of type ${type}`);
  }
  for (const code of ["INVALID_KEY", "INVALID_VALUE", "ALREADY_EXISTS", "NOT_FOUND", "VERSION_MISMATCH",
    "VALUE_TOO_LARGE", "INVALID_ARGUMENT", "COMPACTED", "STORE_FULL"]) {
    assert.ok(codes.get(code) > 0, `no ${code} among ${JSON.stringify([...codes])}: the garbage is too tame`);
  }
  store.close();
});
