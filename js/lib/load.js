// Loading actorstore.wasm: compiling it from whatever the caller gives
// (URL, path, Response, bytes, Module; each URL compiled once per page or
// process) and instantiating it as wasm/ABI.md says ("Instantiating").

import { ABI_VERSION } from "./abi.js";
import { ActorStoreError, invalidArgument } from "./errors.js";
import { createWasi } from "./wasi.js";

// What every store calls (wasm/exports.txt lists them all).
const EXPORTS = [
  "memory", "_initialize", "abi_version", "configure", "input_buffer", "insert", "update",
  "update_versioned", "get", "delete", "get_all", "changes", "sequence_at_time", "stats", "batch",
];

// What snapshots, restores and log replay (persistence) call besides.
const SNAPSHOT_EXPORTS = [
  "replay", "snapshot_begin", "snapshot_next", "snapshot_end", "restore_begin", "restore_write", "restore_end",
  "restore_abort",
];

/**
 * Throws INVALID_ARGUMENT unless exports has every export snapshots,
 * restores and persistence need; `what` names what the caller wanted.
 */
export function needSnapshotExports(exports, what) {
  const missing = SNAPSHOT_EXPORTS.filter((name) => typeof exports[name] !== "function");
  if (missing.length) throw invalidArgument(`this actorstore.wasm ${what}: no export ${missing.join(", ")}`);
}

/**
 * Compiles src (undefined is not allowed: the caller resolves the default
 * location) and returns a new initialized instance of it.
 */
export async function instantiate(src) {
  let module;
  try {
    module = await compileFrom(src);
  } catch (e) {
    if (e instanceof ActorStoreError) throw e;
    throw invalidArgument(`cannot load actorstore.wasm: ${e.message}`);
  }
  let instance;
  try {
    const wasi = createWasi();
    instance = await WebAssembly.instantiate(module, { wasi_snapshot_preview1: wasi.imports });
    const missing = EXPORTS.filter((name) => typeof instance.exports[name] !== (name === "memory" ? "object" : "function"));
    if (missing.length) throw new Error(`not an Actor Store module: no export ${missing.join(", ")}`);
    wasi.bind(instance.exports.memory);
    instance.exports._initialize();
  } catch (e) {
    throw invalidArgument(`cannot instantiate actorstore.wasm: ${e?.message ?? e}`);
  }
  const v = instance.exports.abi_version();
  if (v !== ABI_VERSION) throw invalidArgument(`module ABI version ${v}, this host speaks ${ABI_VERSION}`);
  return instance;
}

const isNode = typeof process !== "undefined" && !!process.versions?.node;

// Compiled modules by source URL, so that opening many stores compiles once.
const compiled = new Map();

async function compileFrom(src) {
  if (src instanceof WebAssembly.Module) return src;
  if (src instanceof ArrayBuffer) return WebAssembly.compile(src);
  if (ArrayBuffer.isView(src)) return WebAssembly.compile(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
  if (typeof src === "string" || src instanceof URL) {
    const key = String(src);
    let p = compiled.get(key);
    if (!p) {
      p = compileURL(src);
      compiled.set(key, p);
      p.catch(() => compiled.delete(key));
    }
    return p;
  }
  if (src && typeof src.then === "function") src = await src;
  if (typeof Response !== "undefined" && src instanceof Response) return compileResponse(src);
  throw invalidArgument("wasm must be a URL, a path, a Response, bytes or a WebAssembly.Module");
}

async function compileURL(src) {
  if (isNode) {
    let url;
    try {
      url = src instanceof URL ? src : new URL(src);
    } catch {
      url = undefined; // a file system path
    }
    if (!url || url.protocol === "file:") {
      const { readFile } = await import("node:fs/promises");
      return WebAssembly.compile(await readFile(url ?? src));
    }
  }
  return compileResponse(await fetch(src));
}

async function compileResponse(res) {
  if (!res.ok) throw new Error(`fetching ${res.url || "the module"}: HTTP ${res.status}`);
  const type = res.headers.get("content-type") || "";
  if (WebAssembly.compileStreaming && type.split(";")[0].trim() === "application/wasm") {
    return WebAssembly.compileStreaming(res);
  }
  return WebAssembly.compile(await res.arrayBuffer());
}
