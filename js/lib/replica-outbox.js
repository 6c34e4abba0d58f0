// A replica's queued writes in IndexedDB (when persisted), so that a
// reload keeps what was not yet sent: database "actorstore-outbox:<name>",
// version 1, object stores
//   writes  key: a number giving the order the writes were made in; value:
//           { key (the idempotency key), op, type, id, value (CBOR bytes),
//           expected, ops, queuedAt }
//   meta    key "server": { url } of the server the replica follows.
// Each change is its own transaction, queued in order; the replica does not
// wait for them (a write is acknowledged by the server, not by this).

import { ActorStoreError } from "./errors.js";

export const OUTBOX_PREFIX = "actorstore-outbox:";

function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new Error("transaction aborted"));
    tx.onerror = () => {};
  });
}

export class Outbox {
  #db;
  #name;
  #order = 0;
  #orders = new Map(); // idempotency key -> order
  #failed = null;

  constructor(db, name) {
    this.#db = db;
    this.#name = name;
  }

  /**
   * Opens the outbox of name: { outbox, writes (in order), url (the server
   * recorded, or undefined) }.
   */
  static async open(idb, name) {
    const dbName = OUTBOX_PREFIX + name;
    let db;
    try {
      db = await new Promise((resolve, reject) => {
        const r = idb.open(dbName, 1);
        r.onupgradeneeded = (e) => {
          if (e.oldVersion === 0) {
            r.result.createObjectStore("writes");
            r.result.createObjectStore("meta");
          }
        };
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
        r.onblocked = () => {};
      });
      const tx = db.transaction(["writes", "meta"], "readonly");
      const [keys, writes, meta] = await Promise.all([
        req(tx.objectStore("writes").getAllKeys()),
        req(tx.objectStore("writes").getAll()),
        req(tx.objectStore("meta").get("server")),
      ]);
      const o = new Outbox(db, name);
      for (let i = 0; i < keys.length; i++) {
        o.#orders.set(writes[i].key, keys[i]);
        o.#order = Math.max(o.#order, keys[i]);
      }
      return { outbox: o, writes, url: meta?.url };
    } catch (e) {
      db?.close();
      throw new ActorStoreError("UNAVAILABLE", `unavailable: cannot open IndexedDB database ${dbName}: ${e?.message ?? e}`);
    }
  }

  /** Records the server's URL. */
  setURL(url) {
    this.#run((tx) => tx.objectStore("meta").put({ url }, "server"));
  }

  /** Adds a write at the end. */
  add(w) {
    if (this.#orders.has(w.key)) return;
    const order = ++this.#order;
    this.#orders.set(w.key, order);
    const { key, op, type, id, value, expected, ops, queuedAt } = w;
    this.#run((tx) => tx.objectStore("writes").put({ key, op, type, id, value, expected, ops, queuedAt }, order));
  }

  /** Removes the write of idempotency key. */
  remove(key) {
    const order = this.#orders.get(key);
    if (order === undefined) return;
    this.#orders.delete(key);
    this.#run((tx) => tx.objectStore("writes").delete(order));
  }

  /** Resolves once every change made before is committed. */
  flush() {
    return this.#last;
  }

  #last = Promise.resolve();

  #run(f) {
    if (this.#failed) return;
    let tx;
    try {
      tx = this.#db.transaction(["writes", "meta"], "readwrite");
      f(tx);
    } catch (e) {
      this.#fail(e);
      return;
    }
    this.#last = done(tx).catch((e) => this.#fail(e));
  }

  #fail(e) {
    if (this.#failed) return;
    this.#failed = e;
    console.error(`actorstore: writing queued writes to IndexedDB database ${OUTBOX_PREFIX}${this.#name} failed; they are kept in memory only:`, e);
  }

  close() {
    return this.#last.finally(() => this.#db.close());
  }
}

/** Deletes the outbox database of name. */
export function deleteOutbox(idb, name) {
  return new Promise((resolve, reject) => {
    const r = idb.deleteDatabase(OUTBOX_PREFIX + name);
    r.onsuccess = () => resolve();
    r.onerror = () => reject(r.error);
    r.onblocked = () => {};
  });
}
