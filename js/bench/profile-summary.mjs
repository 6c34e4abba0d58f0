#!/usr/bin/env node
// Summarizes a V8 CPU profile (node --cpu-prof) of the benchmark: for each
// ActorStore method, where its time goes — leaf frames by self time, grouped
// as guest wasm, cbor-x, the host's own JS (actorstore.js and lib/, by
// function), GC and the rest.
//
// V8 records garbage collection as a "(garbage collector)" sample with no
// stack; such a run of samples is counted in an ActorStore method when the
// samples just before and just after it are both in that method (that is,
// GC during a phase of calls). Profile with --no-gc, so that bench.mjs
// forces no collections between phases that would be counted this way.
//
//   node --cpu-prof --cpu-prof-dir=/tmp/prof js/bench/bench.mjs --only actorstore --runs 1 --no-gc
//   node js/bench/profile-summary.mjs /tmp/prof/*.cpuprofile [--top 12] [--lines]
//
// --lines adds, for the host's own functions, their hottest source lines
// (from the profile's line ticks; the source is read from the profiled
// file, so profile and summarize the same version).

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { basename } from "node:path";

const args = process.argv.slice(2);
const topAt = args.indexOf("--top");
const TOP = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 12;
const linesAt = args.indexOf("--lines");
const LINES = linesAt >= 0 && args.splice(linesAt, 1).length > 0;
if (args.length !== 1) {
  console.error("usage: profile-summary.mjs FILE.cpuprofile [--top N]");
  process.exit(2);
}

const prof = JSON.parse(readFileSync(args[0], "utf8"));
const nodes = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const API = new Set(["insert", "get", "update", "updateVersioned", "delete", "getAll", "changes", "batch", "stats"]);
// The host's own files: js/actorstore.js and js/lib/ (not its tests,
// benchmark or node_modules); rel names one relative to js/.
const HOST_DIR = new URL("../", import.meta.url).href;
const isHost = (cf) => cf.url.startsWith(HOST_DIR) && /^(actorstore|lib\/[^/]+)\.js$/.test(cf.url.slice(HOST_DIR.length));
const rel = (cf) => cf.url.slice(HOST_DIR.length);
// The API methods are ActorStore's, in the entry file (lib/calls.js has
// functions of the same names).
const isAPI = (cf) => isHost(cf) && rel(cf) === "actorstore.js" && API.has(cf.functionName);
// Guest functions are named when the module keeps its name section
// (bench.mjs --wasm a build without -s -w), else wasm-function[N].
const isGuest = (cf) => cf.url.startsWith("wasm://") || (cf.functionName ?? "").startsWith("wasm-function[");

// shortGo shortens Go symbol names as the wasm name section spells them:
// module paths dropped, generic shape instantiations reduced to [T].
function shortGo(name) {
  return name
    .replace(/github\.com_actorstore_actorstore_/g, "")
    .replace(/github\.com_[A-Za-z0-9]+_/g, "")
    .replace(/__([A-Za-z]+)G_go\.shape\..*____\./, "$1G[T].");
}

// group puts a leaf label in one of a few buckets.
function group(label) {
  if (label.startsWith("guest ")) return "guest wasm";
  if (label.startsWith("cbor-x ")) return "cbor-x";
  if (label.startsWith("host ")) return "host JS";
  if (label === "(garbage collector)") return "GC";
  return "other (builtins, Node)";
}

// leafLabel names the frame a sample was taken in.
function leafLabel(cf) {
  const name = cf.functionName || "(anonymous)";
  if (isGuest(cf)) return `guest ${shortGo(name)}`;
  if (cf.url.includes("/cbor-x/")) return `cbor-x ${basename(cf.url)} ${name}`;
  if (isHost(cf)) return `host ${rel(cf)} ${name}:${cf.lineNumber + 1}`;
  if (cf.url === "") return name; // V8 builtins, GC, (program)
  return `${basename(cf.url)} ${name}`;
}

// op finds the outermost ActorStore API method on the stack of node id.
function op(id) {
  let found = OUTSIDE;
  for (let n = nodes.get(id); n; n = nodes.get(parent.get(n.id))) {
    if (isAPI(n.callFrame)) found = n.callFrame.functionName;
  }
  return found;
}

const OUTSIDE = "(outside ActorStore methods)";
const opCache = new Map();
const samples = prof.samples.map((id, i) => {
  let o = opCache.get(id);
  if (o === undefined) {
    o = op(id);
    opCache.set(id, o);
  }
  const label = leafLabel(nodes.get(id).callFrame);
  // A sample's time is the gap to the next one.
  return { o, label, dt: prof.timeDeltas[i + 1] ?? 0, gc: label === "(garbage collector)" };
});
// GC runs take the method of the samples around them, when both agree.
for (let i = 0; i < samples.length; ) {
  if (!samples[i].gc) { i++; continue; }
  let j = i;
  while (j < samples.length && samples[j].gc) j++;
  const before = samples[i - 1]?.o, after = samples[j]?.o;
  for (let k = i; k < j; k++) samples[k].o = before === after && before !== undefined ? before : OUTSIDE;
  i = j;
}

const byOp = new Map(); // op -> Map(label -> µs)
let total = 0;
for (const { o, label, dt } of samples) {
  total += dt;
  if (!byOp.has(o)) byOp.set(o, new Map());
  const m = byOp.get(o);
  m.set(label, (m.get(label) ?? 0) + dt);
}

const sum = (m) => [...m.values()].reduce((a, b) => a + b, 0);
const ms = (us) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
console.log(`profile ${args[0]}: ${ms(total).trim()} sampled`);
for (const [o, m] of [...byOp].sort((a, b) => sum(b[1]) - sum(a[1]))) {
  const t = sum(m);
  console.log(`\n${o}: ${ms(t).trim()} (${((100 * t) / total).toFixed(1)}% of all)`);
  const groups = new Map();
  for (const [label, us] of m) groups.set(group(label), (groups.get(group(label)) ?? 0) + us);
  console.log(`  by group: ${[...groups].sort((a, b) => b[1] - a[1])
    .map(([g, us]) => `${g} ${((100 * us) / t).toFixed(0)}%`).join(", ")}`);
  for (const [label, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
    console.log(`  ${((100 * us) / t).toFixed(1).padStart(5)}%  ${ms(us)}  ${label}`);
  }
}

if (LINES) {
  // Line ticks of the host's functions, summed over all their nodes.
  const ticks = new Map(); // "file fn" -> { url, lines: Map(line -> ticks) }
  for (const n of prof.nodes) {
    if (!isHost(n.callFrame) || !n.positionTicks) continue;
    const key = `${rel(n.callFrame)} ${n.callFrame.functionName || "(anonymous)"}`;
    if (!ticks.has(key)) ticks.set(key, { url: n.callFrame.url, lines: new Map() });
    const { lines } = ticks.get(key);
    for (const { line, ticks: t } of n.positionTicks) lines.set(line, (lines.get(line) ?? 0) + t);
  }
  if (ticks.size) {
    const sources = new Map(); // url -> lines
    const source = (url) => {
      if (!sources.has(url)) sources.set(url, readFileSync(fileURLToPath(url), "utf8").split("\n"));
      return sources.get(url);
    };
    console.log("\nhottest lines of the host's JS (self-time samples):");
    const total = (m) => [...m.values()].reduce((a, b) => a + b, 0);
    for (const [key, { url, lines }] of [...ticks].sort((a, b) => total(b[1].lines) - total(a[1].lines)).slice(0, TOP)) {
      console.log(`  ${key}: ${total(lines)}`);
      for (const [line, t] of [...lines].sort((a, b) => b[1] - a[1]).slice(0, 4)) {
        console.log(`    ${String(t).padStart(5)}  ${line}: ${source(url)[line - 1]?.trim()}`);
      }
    }
  }
}
