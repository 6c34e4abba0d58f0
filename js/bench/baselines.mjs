// The two baselines Actor Store is measured against, each with the same
// method names and, as far as the benchmark exercises them, the same
// semantics as ActorStore (js/actorstore.d.ts):
//
//  - copy semantics: what a caller writes is copied in, what it reads is a
//    fresh copy it may mutate without touching the store;
//  - versions: insert makes version 0, every update adds one,
//    updateVersioned compares the expected version first;
//  - errors: ALREADY_EXISTS, NOT_FOUND, VERSION_MISMATCH{expected, actual},
//    COMPACTED{requested, oldest}, thrown as BaselineError with a `code`;
//  - a change feed: every mutation gets the next sequence number and an
//    event {sequence, operation, actorType, actorId, previousValue,
//    previousVersion, newValue, newVersion, timestamp: Date} with the
//    host's Date.now() as its timestamp; events are retained like the
//    store's replay buffer (the newest 10,000) and `changes(since, {limit})`
//    pages through them, failing with COMPACTED rather than skipping;
//  - getAll(type) returns the type's actors ordered by id.
//
// Not reproduced (the benchmark never relies on them): key validation
// (UTF-8, length caps), the byte budgets, filters of `changes`, batches and
// subscriptions.

export class BaselineError extends Error {
  constructor(code, message, details = {}) {
    super(message);
    this.name = "BaselineError";
    this.code = code;
    Object.assign(this, details);
  }
}

const INSERT = "insert", UPDATE = "update", DELETE = "delete";

/** Events retained by both baselines, as the store's default replay buffer. */
export const RETAINED_EVENTS = 10_000;

// ---------------------------------------------------------------------------
// Map + structuredClone
// ---------------------------------------------------------------------------

/**
 * A Map per actor type (type → Map(id → {value, version})), values copied
 * with structuredClone on every write and every read.
 *
 * Choices, each to match what Actor Store does for the same call:
 *  - one clone on write (the store encodes the value once) and one per value
 *    read (the store decodes once per read); the write returns the caller's
 *    own value object, as the store does (it has nothing else to return
 *    without decoding);
 *  - the stored clone is immutable from then on (nobody outside sees it), so
 *    the change log shares it instead of cloning again: exactly like the
 *    store, whose events hold the same value bytes as the actor;
 *  - delete returns a clone of the removed value (the stored one is still
 *    referenced by the log);
 *  - the log is a ring of RETAINED_EVENTS entries indexed by sequence;
 *  - a Map keeps insertion order, not id order, so getAll sorts the ids of
 *    the type on every call (JS `<` on strings is UTF-16 order, which equals
 *    the store's byte order for the ASCII ids used here). Keeping a sorted
 *    index instead would make every insert and delete O(n).
 */
export class MapStore {
  constructor({ retained = RETAINED_EVENTS } = {}) {
    this.types = new Map();
    this.sequence = 0;
    this.retained = retained;
    this.ring = new Array(retained);
    this.name = "Map+clone";
  }

  #table(type, create) {
    let t = this.types.get(type);
    if (t === undefined && create) {
      t = new Map();
      this.types.set(type, t);
    }
    return t;
  }

  #log(operation, type, id, prev, prevVersion, next, nextVersion) {
    const sequence = ++this.sequence;
    this.ring[sequence % this.retained] = {
      sequence, operation, type, id, prev, prevVersion, next, nextVersion, ts: Date.now(),
    };
    return sequence;
  }

  insert(type, id, value) {
    const t = this.#table(type, true);
    if (t.has(id)) throw new BaselineError("ALREADY_EXISTS", `already exists: ${type}/${id}`);
    const stored = structuredClone(value);
    t.set(id, { value: stored, version: 0 });
    this.#log(INSERT, type, id, undefined, undefined, stored, 0);
    return { type, id, value, version: 0 };
  }

  get(type, id) {
    const rec = this.types.get(type)?.get(id);
    if (rec === undefined) return undefined;
    return { type, id, value: structuredClone(rec.value), version: rec.version };
  }

  #replace(type, id, value, expected) {
    const t = this.types.get(type);
    const rec = t?.get(id);
    if (rec === undefined) throw new BaselineError("NOT_FOUND", `not found: ${type}/${id}`);
    if (expected !== undefined && rec.version !== expected) {
      throw new BaselineError("VERSION_MISMATCH", `version mismatch: ${type}/${id}`, {
        expected, actual: rec.version,
      });
    }
    const stored = structuredClone(value);
    const version = rec.version + 1;
    t.set(id, { value: stored, version });
    this.#log(UPDATE, type, id, rec.value, rec.version, stored, version);
    return { type, id, value, version };
  }

  update(type, id, value) {
    return this.#replace(type, id, value, undefined);
  }

  updateVersioned(type, id, value, expected) {
    return this.#replace(type, id, value, expected);
  }

  delete(type, id) {
    const t = this.types.get(type);
    const rec = t?.get(id);
    if (rec === undefined) return undefined;
    t.delete(id);
    this.#log(DELETE, type, id, rec.value, rec.version, undefined, undefined);
    return { type, id, value: structuredClone(rec.value), version: rec.version };
  }

  getAll(type) {
    const t = this.types.get(type);
    if (t === undefined) return [];
    const ids = [...t.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return ids.map((id) => {
      const rec = t.get(id);
      return { type, id, value: structuredClone(rec.value), version: rec.version };
    });
  }

  changes(since, { limit = 1000 } = {}) {
    const oldest = Math.max(1, this.sequence - this.retained + 1);
    if (since + 1 < oldest && since < this.sequence) {
      throw new BaselineError("COMPACTED", "compacted", { requested: since + 1, oldest });
    }
    const events = [];
    let next = since;
    for (let s = since + 1; s <= this.sequence && events.length < limit; s++) {
      events.push(toEvent(this.ring[s % this.retained], structuredClone));
      next = s;
    }
    return { events, next };
  }

  stats() {
    let actors = 0;
    for (const t of this.types.values()) actors += t.size;
    return { actors, currentSequence: this.sequence };
  }

  close() {
    this.types = new Map();
    this.ring = [];
  }
}

function toEvent(e, copy) {
  return {
    sequence: e.sequence,
    operation: e.operation,
    actorType: e.type,
    actorId: e.id,
    previousValue: e.prev === undefined ? undefined : copy(e.prev),
    previousVersion: e.prevVersion,
    newValue: e.next === undefined ? undefined : copy(e.next),
    newVersion: e.nextVersion,
    timestamp: new Date(e.ts),
  };
}

// ---------------------------------------------------------------------------
// sql.js (SQLite compiled to wasm)
// ---------------------------------------------------------------------------

/**
 * SQLite through sql.js: an `actors` table keyed by (type, id) holding the
 * value as JSON text and its version, and a `changes` table the writes fill
 * in the same transaction, as a real change feed on SQLite would be written.
 *
 * Choices:
 *  - every statement is prepared once and reused (bind/step/reset);
 *  - values are JSON.stringify'd on write and JSON.parse'd on read (one
 *    parse per value returned): copy semantics for free;
 *  - each mutation is one explicit transaction (BEGIN … COMMIT) so that the
 *    actor row and its change row are atomic, the property a feed needs.
 *    Update, updateVersioned and delete first SELECT the previous value and
 *    version, which the change event carries; insert relies on the primary
 *    key to detect ALREADY_EXISTS (no extra SELECT);
 *  - the change table is trimmed to the newest RETAINED_EVENTS, once every
 *    TRIM_EVERY writes (amortized, so between 10,000 and 11,000 rows stay);
 *  - the sequence counter lives in JS (equal to the changes' primary key);
 *  - SQLite gets its fastest settings that keep ROLLBACK working. sql.js
 *    keeps the database as a file in Emscripten's JS file system, so by
 *    default every transaction takes and drops file locks and re-reads the
 *    file header through that JS layer: locking_mode=EXCLUSIVE (one
 *    connection anyway) makes gets about 5× faster here. Also
 *    journal_mode=MEMORY, synchronous=OFF, and a WITHOUT ROWID actors table
 *    (one B-tree per key instead of index + table). Measured here, it makes
 *    get and getAll ~15% faster and insert ~15% slower (update and delete
 *    within noise); it is kept because reads are where sql.js is close to
 *    Actor Store, so the comparison stays the harder one.
 */
const TRIM_EVERY = 1000;

export class SqlJsStore {
  static async open(SQL) {
    return new SqlJsStore(new SQL.Database());
  }

  constructor(db) {
    this.name = "sql.js";
    this.db = db;
    db.exec(`
      PRAGMA locking_mode = EXCLUSIVE;
      PRAGMA journal_mode = MEMORY;
      PRAGMA synchronous = OFF;
      CREATE TABLE actors (
        type TEXT NOT NULL, id TEXT NOT NULL, value TEXT NOT NULL, version INTEGER NOT NULL,
        PRIMARY KEY (type, id)) WITHOUT ROWID;
      CREATE TABLE changes (
        seq INTEGER PRIMARY KEY, op TEXT NOT NULL, type TEXT NOT NULL, id TEXT NOT NULL,
        prev_value TEXT, prev_version INTEGER, new_value TEXT, new_version INTEGER,
        ts INTEGER NOT NULL);
    `);
    const p = (sql) => db.prepare(sql);
    this.s = {
      begin: p("BEGIN"),
      commit: p("COMMIT"),
      rollback: p("ROLLBACK"),
      insert: p("INSERT INTO actors (type, id, value, version) VALUES (?, ?, ?, 0)"),
      get: p("SELECT value, version FROM actors WHERE type = ? AND id = ?"),
      update: p("UPDATE actors SET value = ?, version = ? WHERE type = ? AND id = ?"),
      delete: p("DELETE FROM actors WHERE type = ? AND id = ?"),
      getAll: p("SELECT id, value, version FROM actors WHERE type = ? ORDER BY id"),
      log: p(`INSERT INTO changes (seq, op, type, id, prev_value, prev_version, new_value, new_version, ts)
              VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      changes: p(`SELECT seq, op, type, id, prev_value, prev_version, new_value, new_version, ts
                  FROM changes WHERE seq > ? ORDER BY seq LIMIT ?`),
      trim: p("DELETE FROM changes WHERE seq <= ?"),
      count: p("SELECT count(*) FROM actors"),
    };
    this.sequence = 0;
    this.oldest = 1; // oldest sequence still in `changes`
  }

  // #tx runs fn inside a transaction, and trims the change table now and then.
  #tx(fn) {
    this.s.begin.step();
    this.s.begin.reset();
    let result;
    try {
      result = fn();
    } catch (e) {
      this.s.rollback.step();
      this.s.rollback.reset();
      throw e;
    }
    this.s.commit.step();
    this.s.commit.reset();
    if (this.sequence % TRIM_EVERY === 0 && this.sequence - this.oldest + 1 > RETAINED_EVENTS) {
      this.oldest = this.sequence - RETAINED_EVENTS + 1;
      this.s.trim.run([this.oldest - 1]);
    }
    return result;
  }

  #log(op, type, id, prevJson, prevVersion, newJson, newVersion) {
    const seq = ++this.sequence;
    // sql.js binds undefined as NULL.
    this.s.log.run([seq, op, type, id, prevJson ?? null, prevVersion ?? null, newJson ?? null,
      newVersion ?? null, Date.now()]);
  }

  // #current returns [json, version] of an actor, or undefined.
  #current(type, id) {
    const st = this.s.get;
    st.bind([type, id]);
    const row = st.step() ? st.get() : undefined;
    st.reset();
    return row;
  }

  insert(type, id, value) {
    const json = JSON.stringify(value);
    return this.#tx(() => {
      try {
        this.s.insert.run([type, id, json]);
      } catch (e) {
        if (/UNIQUE constraint/.test(e.message)) {
          throw new BaselineError("ALREADY_EXISTS", `already exists: ${type}/${id}`);
        }
        throw e;
      }
      this.#log(INSERT, type, id, null, null, json, 0);
      return { type, id, value, version: 0 };
    });
  }

  get(type, id) {
    const row = this.#current(type, id);
    if (row === undefined) return undefined;
    return { type, id, value: JSON.parse(row[0]), version: row[1] };
  }

  #replace(type, id, value, expected) {
    const json = JSON.stringify(value);
    return this.#tx(() => {
      const row = this.#current(type, id);
      if (row === undefined) throw new BaselineError("NOT_FOUND", `not found: ${type}/${id}`);
      const [prevJson, prevVersion] = row;
      if (expected !== undefined && prevVersion !== expected) {
        throw new BaselineError("VERSION_MISMATCH", `version mismatch: ${type}/${id}`, {
          expected, actual: prevVersion,
        });
      }
      const version = prevVersion + 1;
      this.s.update.run([json, version, type, id]);
      this.#log(UPDATE, type, id, prevJson, prevVersion, json, version);
      return { type, id, value, version };
    });
  }

  update(type, id, value) {
    return this.#replace(type, id, value, undefined);
  }

  updateVersioned(type, id, value, expected) {
    return this.#replace(type, id, value, expected);
  }

  delete(type, id) {
    // The read comes before BEGIN: deleting an absent actor makes no event
    // and needs no transaction. (One connection, synchronous calls: nothing
    // can write between the read and the transaction.)
    const row = this.#current(type, id);
    if (row === undefined) return undefined;
    const [prevJson, prevVersion] = row;
    return this.#tx(() => {
      this.s.delete.run([type, id]);
      this.#log(DELETE, type, id, prevJson, prevVersion, null, null);
      return { type, id, value: JSON.parse(prevJson), version: prevVersion };
    });
  }

  getAll(type) {
    const st = this.s.getAll;
    st.bind([type]);
    const out = [];
    while (st.step()) {
      const [id, json, version] = st.get();
      out.push({ type, id, value: JSON.parse(json), version });
    }
    st.reset();
    return out;
  }

  changes(since, { limit = 1000 } = {}) {
    if (since + 1 < this.oldest && since < this.sequence) {
      throw new BaselineError("COMPACTED", "compacted", { requested: since + 1, oldest: this.oldest });
    }
    const st = this.s.changes;
    st.bind([since, limit]);
    const events = [];
    let next = since;
    while (st.step()) {
      const [seq, op, type, id, pv, pver, nv, nver, ts] = st.get();
      events.push({
        sequence: seq,
        operation: op,
        actorType: type,
        actorId: id,
        previousValue: pv === null ? undefined : JSON.parse(pv),
        previousVersion: pver === null ? undefined : pver,
        newValue: nv === null ? undefined : JSON.parse(nv),
        newVersion: nver === null ? undefined : nver,
        timestamp: new Date(ts),
      });
      next = seq;
    }
    st.reset();
    return { events, next };
  }

  stats() {
    const st = this.s.count;
    st.step();
    const actors = st.get()[0];
    st.reset();
    return { actors, currentSequence: this.sequence };
  }

  close() {
    for (const st of Object.values(this.s)) st.free();
    this.db.close();
  }
}
