// The packages as users get them:
//
//   node --test tests/pack/        (from the repository root; ./build.sh test runs it)
//
// npm: packs js/ with `npm pack` into a temporary directory, checks the
// tarball's file list, and installs it into a fresh project there (this
// directory's package.json and package-lock.json, which pin Vite and
// playwright-core, plus `npm install <tarball>`, from the npm cache when it
// has them). Then:
//   - Node: app/node-check.mjs imports "actorstore" and opens a store with no
//     options (the package's own actorstore.wasm), inserts and reads back;
//   - Chromium (headless, /usr/bin/chromium or $CHROMIUM): app/main.js
//     imports "actorstore", opens a store with no options, inserts, reads
//     back, and writes, closes and reopens a store kept in IndexedDB. Its
//     page runs three ways: bundled by `vite build` (the package's
//     new URL("./actorstore.wasm", import.meta.url) must come out as an
//     emitted asset, the one the page fetches), served by Vite's dev server,
//     and unbundled with an import map (app/importmap.html).
// Go: gomod/ (a module of its own) is copied to a temporary directory, its
// replace directive pointed at this checkout, and `go mod tidy` and `go run`
// open a store with host.Open and no options, insert and read back. It runs
// with this process's Go environment (GOMODCACHE, GOFLAGS, GOPROXY).
//
// ACTORSTORE_PACK_KEEP=1 keeps the temporary directory (its path is printed).

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const HERE = fileURLToPath(new URL("./", import.meta.url));
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
// The flags of web-demo/e2e/e2e.test.mjs.
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

const WASM = fs.readFileSync(path.join(ROOT, "host", "actorstore.wasm"));
const LICENSE = fs.readFileSync(path.join(ROOT, "LICENSE"));

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "actorstore-pack-"));
after(() => {
  if (process.env.ACTORSTORE_PACK_KEEP === "1") console.log(`kept ${tmp}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
});

// run runs a command and returns its stdout; a failure carries its output.
async function run(cmd, args, opts = {}) {
  try {
    const { stdout } = await promisify(execFile)(cmd, args, { maxBuffer: 64 << 20, timeout: 180_000, ...opts });
    return stdout;
  } catch (e) {
    throw new Error(`${cmd} ${args.join(" ")} (in ${opts.cwd ?? process.cwd()}) failed: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`);
  }
}

async function timed(label, fn) {
  const t0 = performance.now();
  const r = await fn();
  console.log(`${label}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return r;
}

// The files the package may ship: its sources (lib/ included), types,
// module, README and license. Tests, benchmarks and type checks stay out.
const REQUIRED = ["package.json", "README.md", "LICENSE", "actorstore.js", "lib/abi.js", "lib/engine.js",
  "actorstore.d.ts", "actorstore.wasm"];
const allowed = (f) => REQUIRED.includes(f) || /^lib\/[\w./-]+\.(js|d\.ts)$/.test(f);

test("npm package from its tarball", { timeout: 300_000 }, async (t) => {
  const app = path.join(tmp, "app");
  let tarball;

  await t.test("npm pack: the tarball holds the module, types, README and license", async () => {
    const out = await timed("npm pack", () =>
      run("npm", ["pack", "--json", "--pack-destination", tmp], { cwd: path.join(ROOT, "js") }));
    const [info] = JSON.parse(out);
    const files = new Map(info.files.map((f) => [f.path, f.size]));
    console.log(`${info.filename}: ${info.size} bytes packed, ${info.unpackedSize} unpacked, ` +
      `files ${[...files.keys()].sort().join(" ")}`);
    for (const f of REQUIRED) assert.ok(files.has(f), `the tarball lacks ${f}`);
    for (const f of files.keys()) assert.ok(allowed(f), `the tarball holds ${f}, which is not part of the package`);
    assert.equal(files.get("actorstore.wasm"), WASM.length, "actorstore.wasm in the tarball is not host/actorstore.wasm");

    // What package.json points at is in the tarball.
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "js", "package.json"), "utf8"));
    const targets = [pkg.types, ...Object.values(pkg.exports).flatMap((e) => typeof e === "string" ? [e] : Object.values(e))];
    for (const target of targets) {
      assert.ok(files.has(target.replace(/^\.\//, "")), `package.json names ${target}, which the tarball lacks`);
    }
    tarball = path.join(tmp, info.filename);
  });

  await t.test("npm install of the tarball into a fresh project", async () => {
    assert.ok(tarball, "no tarball");
    fs.cpSync(path.join(HERE, "app"), app, { recursive: true });
    for (const f of ["package.json", "package-lock.json"]) fs.copyFileSync(path.join(HERE, f), path.join(app, f));
    await timed("npm install (tarball, vite, playwright-core)", () =>
      run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball], { cwd: app }));
    const installed = path.join(app, "node_modules", "actorstore");
    assert.ok(WASM.equals(fs.readFileSync(path.join(installed, "actorstore.wasm"))),
      "the installed actorstore.wasm differs from host/actorstore.wasm");
    assert.ok(LICENSE.equals(fs.readFileSync(path.join(installed, "LICENSE"))),
      "the installed LICENSE differs from the repository's LICENSE (copy LICENSE to js/LICENSE)");
    assert.match(fs.readFileSync(path.join(installed, "README.md"), "utf8"), /npm install/);
  });

  await t.test("Node: ActorStore.open() with no options", async () => {
    const out = await timed("node app/node-check.mjs", () => run(process.execPath, ["node-check.mjs"], { cwd: app }));
    const r = JSON.parse(out.trim().split("\n").at(-1));
    assert.deepEqual(r.inserted, { type: "user", id: "u1", value: { name: "Ann", tags: ["a", "b"] }, version: 0 });
    assert.deepEqual(r.got, r.inserted);
    assert.deepEqual(r.conflict, { code: "VERSION_MISMATCH", expected: 1, actual: 0 });
    assert.equal(r.actors, 1);
    assert.equal(r.closed, true);
  });

  // The pages: one browser, a fresh context (profile) for each page.
  let browser;
  t.after(() => browser?.close());
  const openPage = async (url) => {
    if (!browser) {
      const { chromium } = createRequire(path.join(app, "package.json"))("playwright-core");
      browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    }
    return runPage(browser, url);
  };

  await t.test("Vite build of a page importing actorstore, run in Chromium", async () => {
    const vite = path.join(app, "node_modules", "vite", "bin", "vite.js");
    const log = await timed("vite build", () => run(process.execPath, [vite, "build"], { cwd: app }));
    console.log(log.trim().split("\n").map((l) => `  vite: ${l}`).join("\n"));

    const dist = path.join(app, "dist");
    const assets = fs.readdirSync(path.join(dist, "assets"));
    const wasmAssets = assets.filter((f) => f.endsWith(".wasm"));
    assert.equal(wasmAssets.length, 1, `Vite emitted ${wasmAssets.length} wasm assets: ${assets.join(" ")}`);
    assert.ok(WASM.equals(fs.readFileSync(path.join(dist, "assets", wasmAssets[0]))),
      "the wasm asset Vite emitted is not host/actorstore.wasm");

    const server = await serve(dist);
    try {
      const { wasmRequests } = await openPage(server.url);
      assert.deepEqual(wasmRequests, [`/assets/${wasmAssets[0]}`]);
    } finally {
      await server.close();
    }
  });

  await t.test("Vite dev server, the same page, in Chromium", async () => {
    const require = createRequire(path.join(app, "package.json"));
    const { createServer } = await import(pathToFileURL(require.resolve("vite")));
    const server = await createServer({ root: app, configFile: false, logLevel: "warn", clearScreen: false,
      server: { host: "127.0.0.1", port: 0, strictPort: true } });
    try {
      await server.listen();
      const { wasmRequests } = await openPage(server.resolvedUrls.local[0]);
      assert.deepEqual(wasmRequests, ["/node_modules/actorstore/actorstore.wasm"]);
    } finally {
      await server.close();
    }
  });

  await t.test("no bundler: the page with an import map, in Chromium", async () => {
    const server = await serve(app);
    try {
      const { wasmRequests } = await openPage(new URL("importmap.html", server.url).href);
      assert.deepEqual(wasmRequests, ["/node_modules/actorstore/actorstore.wasm"]);
    } finally {
      await server.close();
    }
  });
});

// runPage loads app/main.js's page at url in a fresh browser context,
// waits for its result and checks it; any console error, page error,
// failed request or HTTP error fails it. It returns the paths of the wasm
// files the page fetched.
async function runPage(browser, url) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const problems = [];
    const wasmRequests = [];
    page.on("console", (m) => { if (m.type() === "error") problems.push(`console error: ${m.text()}`); });
    page.on("pageerror", (e) => problems.push(`page error: ${e.stack || e.message}`));
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on("response", (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
      if (new URL(r.url()).pathname.endsWith(".wasm")) {
        wasmRequests.push(new URL(r.url()).pathname);
        if (r.headers()["content-type"] !== "application/wasm") problems.push(`${r.url()} served as ${r.headers()["content-type"]}`);
      }
    });
    const t0 = performance.now();
    await page.goto(url);
    await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 30_000 });
    const r = await page.evaluate(() => window.__result);
    console.log(`${url}: ${((performance.now() - t0) / 1000).toFixed(1)} s, ${JSON.stringify(r)}`);
    assert.equal(r.error, undefined, r.error);
    assert.deepEqual(r.inserted, { type: "user", id: "u1", value: { name: "Ann" }, version: 0 });
    assert.deepEqual(r.got, r.inserted);
    assert.equal(r.conflict, "VERSION_MISMATCH");
    assert.deepEqual(r.reopened, { type: "card", id: "c1", value: { title: "kept" }, version: 0 });
    assert.equal(await page.textContent("#result"), JSON.stringify(r));
    assert.deepEqual(problems, []);
    return { wasmRequests };
  } finally {
    await context.close();
  }
}

test("Go module outside the repository: host.Open with no options", { timeout: 300_000 }, async () => {
  const dir = path.join(tmp, "gomod");
  fs.cpSync(path.join(HERE, "gomod"), dir, { recursive: true });
  // The checkout's go.sum: the same dependencies, so tidy has every sum
  // without asking the checksum database.
  fs.copyFileSync(path.join(ROOT, "go.sum"), path.join(dir, "go.sum"));
  const env = { ...process.env, GOWORK: "off" };
  await run("go", ["mod", "edit", `-replace=github.com/actorstore/actorstore=${ROOT}`], { cwd: dir, env });
  await timed("go mod tidy", () => run("go", ["mod", "tidy"], { cwd: dir, env }));
  const out = await timed("go run (build and run)", () => run("go", ["run", "."], { cwd: dir, env }));
  assert.equal(out.trim(), "ok user/u1 version 0 name Ann");
});

// serve serves dir's files on a free port of 127.0.0.1, with the content
// types browsers are strict about (application/wasm lets the page compile
// while streaming).
function serve(dir) {
  const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".wasm": "application/wasm",
    ".css": "text/css", ".svg": "image/svg+xml" };
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url, "http://x").pathname).replace(/^\/+/, "") || "index.html";
    const file = path.join(dir, rel);
    if (!file.startsWith(dir + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": types[path.extname(file)] ?? "application/octet-stream" });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve({
      url: `http://127.0.0.1:${server.address().port}/`,
      close: () => new Promise((r) => server.close(r)),
    }));
  });
}
