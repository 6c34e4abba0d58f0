// What the Chromium tests of web-demo/e2e share: the browser and how it is
// launched, the demo server they load pages from, and eventually.

import { execFile, spawn } from "node:child_process";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

// launchChromium starts headless Chromium through playwright-core, a dev
// dependency of the JS package (js/package.json); each launch has a fresh
// profile.
export async function launchChromium() {
  const require = createRequire(path.join(ROOT, "js", "package.json"));
  let playwright;
  try {
    playwright = require("playwright-core");
  } catch (e) {
    throw new Error(`playwright-core is not installed in js/node_modules: run npm ci in js/ (${e.message})`);
  }
  return playwright.chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

export const build = (out, pkg) =>
  promisify(execFile)("go", ["build", "-o", out, pkg], { cwd: ROOT, timeout: 180_000 });

// startDemo starts the demo server (web-demo/main.go, built as bin) on a
// free port of 127.0.0.1 with args beside its own, and returns { url,
// stderr, stop } once it prints the URL it serves.
export async function startDemo(bin, args = []) {
  const proc = spawn(bin, ["-addr", "127.0.0.1:0", "-root", ROOT, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  proc.stderr.on("data", (d) => { stderr += d; });
  const url = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the demo server printed no URL within 15 s; stderr: ${stderr}`)), 15_000);
    proc.stdout.on("data", (d) => {
      out += d;
      const m = /^serving (http:\/\/\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the demo server exited with ${code}: ${stderr}`));
    });
  });
  return {
    url,
    stderr: () => stderr,
    stop: () => new Promise((resolve) => {
      if (proc.exitCode !== null) return resolve();
      proc.once("exit", resolve);
      proc.kill("SIGTERM");
    }),
  };
}

// eventually retries fn (which throws while its condition does not hold)
// until it passes or timeoutMs elapse, then rethrows its last error.
export async function eventually(fn, timeoutMs = 10_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
