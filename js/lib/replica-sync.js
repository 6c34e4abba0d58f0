// A replica's connection to its server: the snapshot it starts from, the
// watch it follows, reconnection with backoff and jitter, and the server's
// events turned into the mutation records the module replays.
//
// The loop: fetch the snapshot when the replica has no state (or must
// re-sync), else check that the server's event at the replica's sequence
// is the one the replica holds (same history); then watch from the
// replica's sequence + 1 (format=cbor: values byte-exact; batch=1: the
// events the server has at hand in one message) until the connection
// closes. 4410 COMPACTED and 4409 RESTORED re-sync from a fresh
// snapshot at once; anything else waits (backoff with jitter) and resumes.

import { KIND } from "./abi.js";
import { ActorStoreError } from "./errors.js";
import { opRecord } from "./record.js";
import { nsToDate } from "./time.js";
import { readCBOR, rfc3339ToNs } from "./wire.js";

const CLOSE_COMPACTED = 4410;
const CLOSE_RESTORED = 4409;
// The close code the replica itself uses to drop a watch it cannot follow,
// and #once's answer when the watch ended for a re-sync.
const CLOSE_RESYNC = 4000;
const MEDIA_CBOR = "application/cbor";

/** The subprotocols of a watch: the version, and the token (DESIGN.md, "The token on a WebSocket"). */
export function watchProtocols(token) {
  const protos = ["actorstore.v1"];
  if (token) protos.push(`actorstore.token.${base64url(token)}`);
  return protos;
}

function base64url(s) {
  const b = new TextEncoder().encode(s);
  let bin = "";
  for (const c of b) bin += String.fromCharCode(c);
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * The server's events in a watch message's CBOR — the replica asks for
 * batch=1, so an array of consecutive events; a single event (one map)
 * reads too — each as what the replica applies: { sequence, operation,
 * type, id, previousVersion, newVersion, newValue (CBOR bytes), record
 * (the mutation record that makes this event) }.
 */
export function eventRecords(bytes) {
  const v = readCBOR(bytes);
  if (!Array.isArray(v)) return [toEvent(v)];
  if (v.length === 0) throw new Error("an empty batch");
  return v.map(toEvent);
}

function toEvent(ev) {
  const kind = ev?.operation === "insert" ? KIND.insert : ev?.operation === "update" ? KIND.update
    : ev?.operation === "delete" ? KIND.delete : 0;
  if (!kind || !Number.isSafeInteger(ev.sequence) || ev.sequence < 1 || typeof ev.type !== "string" ||
      typeof ev.id !== "string" || (kind !== KIND.delete && !(ev.newValue instanceof Uint8Array))) {
    throw new Error(`not an event: ${JSON.stringify(ev, (_k, v) => (v instanceof Uint8Array ? `<${v.length} bytes>` : typeof v === "bigint" ? `${v}` : v))}`);
  }
  ev.record = opRecord(ev.sequence, rfc3339ToNs(ev.timestamp), kind, ev.type, ev.id, ev.newValue);
  return ev;
}

/** An ActorStoreError from a server's error answer (CBOR or JSON). */
export async function answerError(res) {
  let body = {};
  try {
    const b = new Uint8Array(await res.arrayBuffer());
    body = (res.headers.get("content-type") || "").startsWith(MEDIA_CBOR) ? readCBOR(b) : JSON.parse(new TextDecoder().decode(b));
  } catch {
    // not the server's error body
  }
  const code = typeof body.code === "string" ? body.code : res.status === 503 ? "UNAVAILABLE" : "INTERNAL";
  const message = typeof body.message === "string" ? body.message : `HTTP ${res.status} ${res.statusText}`;
  return new ActorStoreError(code, message, body);
}

/**
 * The connection. replica: { sequence(): the local sequence, localEvent(seq):
 * the local event of seq or undefined, restore(bytes, reason): replaces the
 * state with a snapshot, receive(bytes): a watch message, status(s),
 * error(err): a failure to report }.
 */
export class Sync {
  #r;
  #o; // { url, token, fetch, WebSocket, minDelay, maxDelay }
  #ws = null;
  #stopped = false;
  #resync = null; // the reason to re-sync from a snapshot, or null
  #attempt = 0;
  #wake = null; // ends a backoff wait early
  #first; // { resolve, reject } of started
  /** Settles after the first attempt: resolves true once synced, false when the server could not be reached. */
  started;

  constructor(replica, options, resync) {
    this.#r = replica;
    this.#o = options;
    this.#resync = resync;
    this.started = new Promise((resolve, reject) => {
      this.#first = { resolve, reject };
    });
  }

  /** Runs until stop(). */
  async run() {
    while (!this.#stopped) {
      let code = 0;
      try {
        code = await this.#once();
      } catch (e) {
        if (this.#stopped) break;
        const network = !(e instanceof ActorStoreError);
        const err = network
          ? new ActorStoreError("UNAVAILABLE", `unavailable: cannot reach ${this.#o.url}: ${e?.message ?? e}`)
          : e;
        if (this.#first) {
          // Auth, origin or a wrong URL will not pass by waiting.
          if (!network && ["UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND"].includes(err.code)) {
            this.#settleFirst(null, err);
            this.stop();
            break;
          }
          this.#settleFirst(false);
        }
        this.#r.error(err);
      }
      if (this.#stopped) break;
      if (code === CLOSE_RESYNC) continue;
      this.#r.status("offline");
      await this.#backoff();
    }
  }

  #settleFirst(value, err) {
    const f = this.#first;
    if (!f) return;
    this.#first = null;
    if (err) f.reject(err);
    else f.resolve(value);
  }

  // #once syncs and watches until the watch closes: its close code.
  async #once() {
    this.#r.status("connecting");
    if (this.#resync === null && this.#r.sequence() > 0 && !(await this.#sameHistory())) this.#resync = "DIVERGED";
    if (this.#stopped) return 0;
    if (this.#resync !== null) {
      const { bytes, seq } = await this.#snapshot();
      if (this.#stopped) return 0;
      this.#r.restore(bytes, this.#resync, seq);
      this.#resync = null;
    }
    const from = this.#r.sequence() + 1;
    const u = new URL(`v1/watch?from=${from}&format=cbor&batch=1`, this.#base());
    u.protocol = u.protocol === "https:" ? "wss:" : "ws:";
    const ws = new this.#o.WebSocket(u.href, watchProtocols(this.#o.token));
    ws.binaryType = "arraybuffer";
    this.#ws = ws;
    return new Promise((resolve, reject) => {
      let open = false;
      ws.onopen = () => {
        open = true;
        this.#attempt = 0;
        this.#r.status("online");
        this.#settleFirst(true);
      };
      ws.onmessage = (m) => {
        if (this.#ws !== ws) return;
        if (typeof m.data === "string") return; // only CBOR is asked for
        this.#r.receive(new Uint8Array(m.data));
      };
      ws.onerror = () => {};
      ws.onclose = (c) => {
        if (this.#ws === ws) this.#ws = null;
        if (!open) {
          reject(new Error(`the watch did not open (close ${c.code}${c.reason ? ` ${c.reason}` : ""})`));
          return;
        }
        if (c.code === CLOSE_COMPACTED) this.#resync = "COMPACTED";
        else if (c.code === CLOSE_RESTORED) this.#resync = "RESTORED";
        else if (c.code >= 4000 && this.#resync === null) {
          this.#r.error(new ActorStoreError(c.reason.split(":")[0] || "INTERNAL", `the watch ended: ${c.code} ${c.reason}`));
        }
        resolve(this.#resync !== null ? CLOSE_RESYNC : c.code);
      };
    });
  }

  #base() {
    const u = this.#o.url;
    return u.endsWith("/") ? u : `${u}/`;
  }

  #headers(accept) {
    const h = { Accept: accept };
    if (this.#o.token) h.Authorization = `Bearer ${this.#o.token}`;
    return h;
  }

  /** A request to the server; answers other than 2xx (and 404 when allowNotFound) throw their error. */
  async request(method, path, { body, headers = {}, allow404 = false } = {}) {
    const res = await this.#o.fetch(new URL(path, this.#base()), {
      method,
      body,
      headers: { ...this.#headers(MEDIA_CBOR), ...headers },
      cache: "no-store",
    });
    if (!res.ok && !(allow404 && res.status === 404)) throw await answerError(res);
    return res;
  }

  async #snapshot() {
    const res = await this.request("GET", "v1/snapshot", { headers: { Accept: "application/octet-stream" } });
    const bytes = new Uint8Array(await res.arrayBuffer());
    const h = res.headers.get("actor-store-sequence");
    return { bytes, seq: h === null ? undefined : Number(h) };
  }

  // #sameHistory: the server's event at the replica's sequence is the one
  // the replica holds (same key, operation, versions and time); a server
  // that lacks it (restored, replaced) is another history. When either
  // side no longer retains it, the watch decides (COMPACTED).
  async #sameHistory() {
    const seq = this.#r.sequence();
    const mine = this.#r.localEvent(seq);
    if (!mine) return true;
    let res;
    try {
      res = await this.request("GET", `v1/changes?since=${seq - 1}&limit=1`);
    } catch (e) {
      if (e instanceof ActorStoreError && e.code === "COMPACTED") return true;
      throw e;
    }
    const page = readCBOR(new Uint8Array(await res.arrayBuffer()));
    const ev = page.events?.[0];
    if (!ev || ev.sequence !== seq) return false;
    return ev.operation === mine.operation && ev.type === mine.actorType && ev.id === mine.actorId &&
      (ev.newVersion ?? undefined) === mine.newVersion && (ev.previousVersion ?? undefined) === mine.previousVersion &&
      nsToDate(rfc3339ToNs(ev.timestamp)).getTime() === mine.timestamp.getTime();
  }

  async #backoff() {
    const { minDelay, maxDelay } = this.#o;
    const d = Math.min(maxDelay, minDelay * 2 ** Math.min(this.#attempt++, 30));
    const wait = d / 2 + Math.random() * (d / 2);
    await new Promise((resolve) => {
      const t = setTimeout(resolve, wait);
      this.#wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
    this.#wake = null;
  }

  /** Drops the watch and re-syncs from a snapshot (the feed cannot be followed). */
  resync(reason) {
    this.#resync ??= reason;
    const ws = this.#ws;
    if (ws) ws.close(CLOSE_RESYNC, `RESYNC: ${reason}`);
  }

  /** The connection looks broken (a write could not reach the server): try again now. */
  kick() {
    const ws = this.#ws;
    if (ws) {
      this.#ws = null;
      ws.close(1000, "reconnecting");
    }
    this.#attempt = 0;
    this.#wake?.();
  }

  /** True while the watch is open. */
  get open() {
    return this.#ws !== null && this.#ws.readyState === 1;
  }

  stop() {
    this.#stopped = true;
    this.#wake?.();
    const ws = this.#ws;
    this.#ws = null;
    if (ws) {
      try {
        ws.close(1000, "closed");
      } catch {
        // already closing
      }
    }
    this.#settleFirst(false);
  }
}
