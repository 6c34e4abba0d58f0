// Runs every conformance vector (tests/vectors/*.json) on the JS host in
// Node through the isomorphic runner vectors.js: one subtest per file.
//   cd js && node --test test/conformance.test.mjs

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import * as actorstore from "../actorstore.js";
import { runVectorFile } from "./vectors.js";

const dir = new URL("../../tests/vectors/", import.meta.url);
const names = readdirSync(dir).filter((n) => n.endsWith(".json")).sort();
const wasm = await WebAssembly.compile(readFileSync(new URL("../actorstore.wasm", import.meta.url)));

// Vectors the Node host must skip: those whose hosts leave "node" out.
function goOnly(file) {
  return file.vectors.filter((v) => v.hosts && !v.hosts.includes("node")).length;
}

const totals = { passed: 0, skipped: 0, expectedSkips: 0 };

test("there are vector files", () => assert.ok(names.length >= 10, `only ${names.length} files in ${dir}`));

for (const name of names) {
  test(name, async () => {
    const file = JSON.parse(readFileSync(new URL(name, dir), "utf8"));
    const r = await runVectorFile(actorstore, file, { host: "node", wasm });
    totals.passed += r.passed;
    totals.skipped += r.skipped;
    totals.expectedSkips += goOnly(file);
    const report = r.failures.map((f) => `- ${f.vector}: ${f.message}`).join("\n");
    assert.equal(r.failures.length, 0, `${r.failures.length} failing vectors in ${name}:\n${report}`);
    assert.equal(r.file, file.name);
    assert.equal(r.passed + r.skipped, file.vectors.length, "every vector either passes or is skipped");
    assert.ok(r.passed >= 1, `no vector of ${name} ran`);
    assert.equal(r.skipped, goOnly(file), "only vectors without node in their hosts are skipped");
  });
}

test("the totals are plausible", () => {
  assert.ok(totals.passed >= 100, `only ${totals.passed} vectors passed`);
  assert.equal(totals.skipped, totals.expectedSkips);
  assert.ok(totals.skipped <= 5, `${totals.skipped} vectors skipped`);
});
