// One connection per name across a page's tabs and windows. The tab that
// holds the Web Lock "actorstore-replica:<name>" leads: it keeps the
// connection, the queue of writes and (persisted) the IndexedDB copy. The
// others wait for the lock; meanwhile they keep a store of their own, in
// memory, started from the leader's snapshot and fed the records the
// leader applies, over the BroadcastChannel "actorstore-replica:<name>",
// and send their writes through the leader. When the leader goes (closed,
// or its tab gone: the browser releases its lock) the next tab in line
// takes the lock and leads from the state it has; the others send it the
// writes they are still waiting for (same idempotency keys, so none goes
// twice).
//
// Messages (each { t, from }, from the sending tab's id):
//   hello                      a follower asks for the state
//   state { to, bytes, status, pending }   the leader's snapshot, for `to`
//   records { first, records } what the leader applied (first: the first's sequence)
//   restored { bytes, reason } the leader re-synced
//   status { status }, pending { list }
//   settled { key, seq, error, wire }      a write settled (values as CBOR bytes)
//   write { entry }            a follower's write, to the leader
//   leader                     a tab now leads: followers send their waiting writes again

import { ActorStoreError } from "./errors.js";

const PREFIX = "actorstore-replica:";
const HELLO_EVERY = 500; // ms between a follower's requests for the state

export class Tabs {
  /** Whether this environment has what tabs need: Web Locks and BroadcastChannel. */
  static available() {
    return typeof BroadcastChannel === "function" && typeof globalThis.navigator?.locks?.request === "function";
  }

  #name;
  #h; // the replica's hooks (replica.js, #tabHooks)
  #id = Math.random().toString(36).slice(2);
  #ch;
  #leader = false;
  #release = null; // ends the lock's hold
  #closed = false;
  #joined = null; // { resolve } while a follower waits for the state
  #synced = false; // a follower has the leader's state
  #forwarded = new Map(); // key -> entry, this follower's writes not settled

  constructor(name, hooks) {
    this.#name = name;
    this.#h = hooks;
    this.#ch = new BroadcastChannel(PREFIX + name);
    this.#ch.onmessage = (m) => this.#receive(m.data);
  }

  /**
   * Takes the lock if it is free (true: this tab leads), else queues for
   * it (false: a follower, which leads when hooks.lead() is called).
   */
  start() {
    const locks = globalThis.navigator.locks;
    const name = PREFIX + this.#name;
    const hold = (lock) => {
      if (!lock) return undefined;
      return new Promise((resolve) => {
        this.#release = resolve;
      });
    };
    return new Promise((resolve, reject) => {
      locks.request(name, { ifAvailable: true }, (lock) => {
        resolve(!!lock);
        if (!lock) {
          locks.request(name, (l) => {
            if (this.#closed) return undefined;
            this.#becomeLeader();
            return hold(l);
          }).catch(() => {});
        }
        return hold(lock);
      }).catch(reject);
    });
  }

  #becomeLeader() {
    this.#leader = true;
    this.#joined?.reject(new ActorStoreError("UNAVAILABLE", "unavailable: the leading tab went away before sending its state"));
    this.#joined = null;
    this.#h.lead();
  }

  /** Whether this tab has had a state: the leader's, or its own as the leader. */
  get synced() {
    return this.#synced;
  }

  /** A follower: resolves once the leader's state is in (rejects after timeout ms). */
  joined(timeout) {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        clearInterval(hello);
        this.#joined = null;
        reject(new ActorStoreError("UNAVAILABLE", `unavailable: no tab leading "${this.#name}" answered within ${timeout} ms`));
      }, timeout);
      const hello = setInterval(() => this.#post({ t: "hello" }), HELLO_EVERY);
      this.#joined = {
        resolve: () => {
          clearTimeout(timer);
          clearInterval(hello);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          clearInterval(hello);
          // Leading now: the replica has its state already.
          void e;
          resolve();
        },
      };
      this.#post({ t: "hello" });
    });
  }

  /** This tab leads from now on (its store is ready): answer hellos, and ask the others for their waiting writes. */
  lead() {
    this.#leader = true;
    this.#synced = true;
    // Its own writes sent to the old leader go into its queue.
    for (const entry of this.#forwarded.values()) this.#h.write(entry);
    this.#forwarded.clear();
    this.#post({ t: "leader" });
  }

  #post(m) {
    if (this.#closed) return;
    try {
      this.#ch.postMessage({ ...m, from: this.#id });
    } catch (e) {
      console.error("actorstore: a message to the other tabs failed:", e);
    }
  }

  // ---- the leader tells ------------------------------------------------------

  applied(first, records) {
    if (this.#leader) this.#post({ t: "records", first, records });
  }

  restored(bytes, reason) {
    if (this.#leader) this.#post({ t: "restored", bytes, reason });
  }

  status(status) {
    if (this.#leader) this.#post({ t: "status", status });
  }

  pending(queue) {
    if (this.#leader) this.#post({ t: "pending", list: queue.map(wireEntry) });
  }

  settled(key, seq, error, wire) {
    if (!this.#leader) return;
    const e = error && { code: error.code, message: error.message, expected: error.expected, actual: error.actual, index: error.index };
    this.#post({ t: "settled", key, seq, error: e, wire });
  }

  /** A follower's write, to the leader. */
  forward(entry) {
    this.#forwarded.set(entry.key, entry);
    this.#post({ t: "write", entry: wireEntry(entry) });
  }

  // ---- receiving -------------------------------------------------------------

  #receive(m) {
    if (this.#closed || !m || m.from === this.#id) return;
    if (this.#leader) {
      if (m.t === "hello") {
        const { bytes, status, pending } = this.#h.snapshot();
        this.#post({ t: "state", to: m.from, bytes, status, pending: pending.map(wireEntry) });
      } else if (m.t === "write") {
        this.#h.write(m.entry);
      }
      return;
    }
    switch (m.t) {
      case "state":
        if (m.to !== this.#id) return;
        if (this.#synced && this.#h.sequence() > 0) {
          this.#h.restored(m.bytes, "DIVERGED");
        } else {
          this.#h.state(m.bytes);
        }
        this.#synced = true;
        this.#h.status(m.status);
        this.#h.pending(m.pending);
        this.#joined?.resolve();
        this.#joined = null;
        return;
      case "records": {
        if (!this.#synced) return;
        const seq = this.#h.sequence();
        if (m.first > seq + 1) {
          this.#synced = false; // missed some: ask again
          this.#post({ t: "hello" });
          return;
        }
        const fresh = m.records.slice(seq + 1 - m.first);
        if (fresh.length) this.#h.records(fresh);
        return;
      }
      case "restored":
        if (this.#synced) this.#h.restored(m.bytes, m.reason);
        return;
      case "status":
        this.#h.status(m.status);
        return;
      case "pending":
        this.#h.pending(m.list);
        return;
      case "settled":
        this.#forwarded.delete(m.key);
        this.#h.settled(m.key, m.error && new ActorStoreError(m.error.code, m.error.message, m.error), m.wire);
        return;
      case "leader":
        // A new leader: the writes it may not have (its queue is what was
        // persisted, or nothing) go again; it drops those it has.
        for (const entry of this.#forwarded.values()) this.#post({ t: "write", entry: wireEntry(entry) });
        return;
    }
  }

  /** Leaves: releases the lock (the next tab in line leads) and the channel. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#joined?.resolve();
    this.#ch.close();
    this.#release?.();
  }
}

// wireEntry is a queue entry as it crosses to another tab: its values are
// CBOR bytes already; the caller's own values (input) stay home.
function wireEntry(e) {
  const { key, op, type, id, value, expected, ops, queuedAt, standIns } = e;
  return { key, op, type, id, value, expected, ops, queuedAt, standIns };
}
