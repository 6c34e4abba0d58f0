// The key rules the JS host applies itself, to keys it does not show the
// module — ones certainly too long (more UTF-16 units than the limit's
// bytes) and ones holding a lone surrogate (UTF-8 cannot hold one) — give
// the module's verdict: the same check first (core.CheckKey's order) and
// the same message as a key of the same byte lengths that the module
// checks itself.

import { test } from "node:test";
import assert from "node:assert/strict";
import { open } from "./helpers.mjs";

const t300 = "t".repeat(300); // 300 units: checked in JS
const e300 = "é".repeat(150); // 150 units, 300 bytes: checked by the module
const x1100 = "x".repeat(1100);
const e1100 = "é".repeat(550);
const lone = "\ud800";

// [what, key checked in JS, key of the same lengths checked by the module, the message]
const CASES = [
  ["a long type", [t300, "a"], [e300, "a"], "invalid key: actor type is 300 bytes, more than 256"],
  ["a long id", ["t", x1100], ["t", e1100], "invalid key: actor id is 1100 bytes, more than 1024"],
  ["an empty type before a long id", ["", x1100], ["", e1100], "invalid key: empty actor type"],
  ["an empty id before a long type", [t300, ""], [e300, ""], "invalid key: empty actor id"],
  ["a long type before a long id", [t300, x1100], [e300, e1100], "invalid key: actor type is 300 bytes, more than 256"],
  ["a long id before a bad type", [lone, x1100], ["t", e1100], "invalid key: actor id is 1100 bytes, more than 1024"],
  ["an empty id before a bad type", [lone, ""], ["é", ""], "invalid key: empty actor id"],
  ["an empty type before a bad id", ["", lone], ["", "é"], "invalid key: empty actor type"],
];

const message = (f) => {
  try {
    f();
  } catch (e) {
    assert.equal(e.code, "INVALID_KEY", e.message);
    return e.message;
  }
  assert.fail("no error");
};

for (const [what, js, mod, want] of CASES) {
  test(`key rules in JS say what the module says: ${what}`, async (t) => {
    const store = await open(t);
    const calls = {
      insert: ([type, id]) => store.insert(type, id, 1),
      update: ([type, id]) => store.update(type, id, 1),
      get: ([type, id]) => store.get(type, id),
      delete: ([type, id]) => store.delete(type, id),
      batch: ([type, id]) => store.batch([{ op: "insert", type: "ok", id: "ok", value: 1 }, { op: "delete", type, id }]),
    };
    for (const [name, call] of Object.entries(calls)) {
      const w = name === "batch" ? `batch operation 1: ${want}` : want;
      assert.equal(message(() => call(mod)), w, `${name}: the module`);
      assert.equal(message(() => call(js)), w, `${name}: the JS host`);
    }
    assert.equal(store.stats().totalEvents, 0);
  });
}

test("a lone surrogate in a key is the invalid UTF-8 it stands for", async (t) => {
  const store = await open(t);
  assert.equal(message(() => store.insert(`a${lone}`, "b", 1)), "invalid key: actor type is not valid UTF-8 (a lone surrogate)");
  assert.equal(message(() => store.insert("a", `${lone}b`, 1)), "invalid key: actor id is not valid UTF-8 (a lone surrogate)");
  assert.equal(message(() => store.get(lone, lone)), "invalid key: actor type is not valid UTF-8 (a lone surrogate)");
});
