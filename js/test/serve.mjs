// Real `actorstore serve` processes for the replica tests: the binary is
// built once per test process (go build ./cmd/actorstore), each server
// gets a fresh --dir and a port of its own (from :0, kept across restarts).

import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
let built = null;

/** Builds cmd/actorstore into a temporary directory, once; resolves to the binary's path. */
export function buildServer() {
  built ??= (async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "actorstore-bin-"));
    const bin = path.join(dir, "actorstore");
    await promisify(execFile)("go", ["build", "-o", bin, "./cmd/actorstore"], { cwd: ROOT, timeout: 300_000 });
    process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
    return bin;
  })();
  return built;
}

/**
 * Starts `actorstore serve` with args (besides --dir and --http): { url,
 * port, dir, stop(signal), start(), kill(), log() }. stop/kill end the
 * process; start starts it again on the same port and directory.
 */
export async function startServer(args = [], { dir } = {}) {
  const bin = await buildServer();
  dir ??= fs.mkdtempSync(path.join(os.tmpdir(), "actorstore-serve-"));
  const s = { dir, port: 0, url: "", proc: null, logText: "" };
  s.start = async () => {
    const proc = spawn(bin, ["serve", "--dir", dir, "--http", `127.0.0.1:${s.port}`, "--raft", "127.0.0.1:0", "--sync", "never", ...args],
      { stdio: ["ignore", "ignore", "pipe"] });
    s.proc = proc;
    let err = "";
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve printed no address within 30 s: ${err}`)), 30_000);
      proc.stderr.on("data", (d) => {
        err += d;
        s.logText += d;
        const m = /msg=serving http=(http:\/\/\S+)/.exec(err);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      proc.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`serve exited with ${code}: ${err}`));
      });
    });
    s.url = url;
    s.port = Number(new URL(url).port);
    return s;
  };
  s.stop = (signal = "SIGTERM") => new Promise((resolve) => {
    const p = s.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once("exit", () => resolve());
    p.kill(signal);
  });
  s.kill = () => s.stop("SIGKILL");
  s.log = () => s.logText;
  s.remove = () => fs.rmSync(dir, { recursive: true, force: true });
  await s.start();
  return s;
}
