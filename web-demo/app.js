// A shared task board, live across browser windows: the page holds a
// replica of the board's actorstore node (ActorStore.connect) — reads and
// subscriptions local and synchronous, writes sent to the node, each
// resolving once this replica has it. Every window is a replica, so two
// windows see each other's moves live.
//
// In each window, two clients (A and B) work on the replica, each through
// its own view: the cards and versions it last loaded (or, "live", kept
// current). A client writes with updateVersioned and the version it holds,
// so a client on a stale view — or an edit queued while the node was
// stopped and overtaken meanwhile — gets VERSION_MISMATCH, shown as a
// conflict it can resolve. Below, a change feed (subscribe) and the stats.
//
// Actors: type "board", id "main" — { name, columns: [{ id, label }] }
//         type "card",  id "<client>-<n>" — { title, column, note?, updatedBy }
//
// The replica is persisted ("actorstore:replica:demo-board" and its queue
// "actorstore-outbox:demo-board"): with the node stopped the board stays
// readable, also across a reload; edits queue, marked pending, and go out
// (or come back as conflicts) when the node is back. Tabs of this browser
// share one connection. "Reset board" restores the node to an empty store
// (every replica re-syncs) and seeds it again.

import { ActorStore } from "/actorstore/actorstore.js";

// Small on purpose, so that the fill of the replay buffer is visible.
const CONFIG = { replayBufferSize: 100, replayBufferBytes: 32 * 1024 };
// Reconnection: quick to notice the server is back.
const RECONNECT = { minDelay: 200, maxDelay: 3000 };
const FEED_MAX_ROWS = 500;
const WASM_URL = "/actorstore/actorstore.wasm";
const PERSIST_NAME = "demo-board";

let store;
let board; // the board actor's value, read once at start
let persisted = false; // the replica is saved in IndexedDB
let unsavedReason = ""; // why not, when not

// ---- DOM helpers -------------------------------------------------------

// h builds an element: h("button", { class: "x", onclick }, "text", child…).
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  el.append(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return el;
}

const $ = (sel, root = document) => root.querySelector(sel);

function announce(text) {
  const el = $('[data-testid="announce"]');
  el.textContent = "";
  // A fresh text node after a tick makes screen readers read repeats too.
  setTimeout(() => { el.textContent = text; }, 50);
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function formatTime(d) {
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

const columnLabel = (id) => board.columns.find((c) => c.id === id)?.label ?? id;

// ---- the board's data --------------------------------------------------

// seed fills a fresh store in one batch: the board and a few cards, with
// consecutive sequence numbers and one timestamp.
function seed() {
  const cards = [
    ["a-1", { title: "Sketch the onboarding flow", column: "todo", updatedBy: "A" }],
    ["b-1", { title: "Fix flaky login test", column: "doing", note: "Fails about 1 run in 20", updatedBy: "B" }],
    ["a-2", { title: "Release notes for 1.4", column: "done", updatedBy: "A" }],
  ];
  return store.batch([
    { op: "insert", type: "board", id: "main", value: {
      name: "Team board",
      columns: [{ id: "todo", label: "To do" }, { id: "doing", label: "Doing" }, { id: "done", label: "Done" }],
    } },
    ...cards.map(([id, value]) => ({ op: "insert", type: "card", id, value })),
  ]);
}

// withChange is a card value with the client's change (intent) applied.
function withChange(value, intent, by) {
  const next = { ...value, ...intent, updatedBy: by };
  if (!next.note) delete next.note; // no empty notes stored
  return next;
}

// describe says in words what a change intent does.
function describe(intent) {
  if ("column" in intent && Object.keys(intent).length === 1) return `move to ${columnLabel(intent.column)}`;
  return "edit";
}

// ---- a client ----------------------------------------------------------

class Client {
  constructor(name, root) {
    this.name = name;
    this.root = root;
    this.cards = new Map(); // id → actor, as last loaded
    this.seen = 0; // the store's sequence when the view was loaded
    this.conflict = null;
    this.editing = null; // { id, title, note } while a card is being edited
    this.draft = { title: "", column: "todo" };
    this.nextId = 1;
    this.stopLive = null;
    this.liveQueued = false;
    this.dragging = null;
    this.pending = new Map(); // card id → what this client sent and waits for
  }

  // refresh reloads the view from the store.
  refresh() {
    this.cards = new Map(store.getAll("card").map((a) => [a.id, a]));
    this.seen = store.stats().currentSequence;
    if (this.editing && !this.cards.has(this.editing.id)) this.editing = null;
    this.render();
  }

  setLive(on) {
    if (on && !this.stopLive) {
      // Reload after the events of each mutation (one reload per burst).
      this.stopLive = store.subscribe({ from: "now" }, () => {
        if (this.liveQueued) return;
        this.liveQueued = true;
        queueMicrotask(() => {
          this.liveQueued = false;
          if (this.stopLive) this.refresh();
        });
      }, (err) => {
        this.stopLive = null;
        if (err.code === "RESTORED") {
          // The replica re-synced from a snapshot: follow it from there.
          this.setLive(true);
          return;
        }
        notice(`Client ${this.name}: live updates ended (${err.code}); refresh to reload.`);
        this.render();
        changed();
      });
      this.refresh();
    } else if (!on && this.stopLive) {
      this.stopLive();
      this.stopLive = null;
    }
    changed();
  }

  // ---- writes ----
  //
  // Writes go to the node and resolve once this replica has applied them;
  // until then (and while the node is stopped) the card shows them pending.

  // send runs a write for card id, marked pending until it settles.
  async send(id, what, write) {
    this.pending.set(id, what);
    this.render();
    changed();
    try {
      return await write();
    } finally {
      this.pending.delete(id);
      changed();
    }
  }

  async add(title, column) {
    const value = { title, column, updatedBy: this.name };
    for (;;) {
      const id = `${this.name.toLowerCase()}-${this.nextId++}`;
      if (store.get("card", id)) continue;
      try {
        await this.send(id, { add: value }, () => store.insert("card", id, value));
        announce(`Client ${this.name} added “${title}”.`);
        this.afterWrite();
        return id;
      } catch (e) {
        if (e.code !== "ALREADY_EXISTS") throw e; // made meanwhile by another window
      }
    }
  }

  // change writes intent (a partial card value) over the card as this
  // client holds it, expecting the version it holds.
  async change(id, intent) {
    const held = this.cards.get(id);
    if (!held || this.pending.has(id)) return;
    const mine = withChange(held.value, intent, this.name);
    if (Object.keys(intent).every((k) => (held.value[k] ?? "") === (mine[k] ?? ""))) {
      announce(`Client ${this.name}: nothing to change on “${held.value.title}”.`);
      this.editing = null;
      this.render();
      return;
    }
    this.editing = null;
    try {
      await this.send(id, { change: intent }, () => store.updateVersioned("card", id, mine, held.version));
      announce(`Client ${this.name}: “${mine.title}” ${describe(intent)} saved (version ${held.version + 1}).`);
      this.conflict = null;
      this.afterWrite();
    } catch (e) {
      if (e.code === "VERSION_MISMATCH") {
        this.showConflict({ kind: "change", id, intent, mine, expected: e.expected, actual: e.actual });
      } else if (e.code === "NOT_FOUND") {
        this.showConflict({ kind: "change", id, intent, mine, expected: held.version, deleted: true });
      } else {
        throw e;
      }
    }
  }

  // remove deletes a card if it is still at the version this client holds
  // as far as this replica knows (a delete is not conditional on the node).
  async remove(id) {
    const held = this.cards.get(id);
    if (!held || this.pending.has(id)) return;
    const current = store.get("card", id);
    if (!current) {
      announce(`Client ${this.name}: “${held.value.title}” was already deleted.`);
      this.refresh();
    } else if (current.version !== held.version) {
      this.showConflict({ kind: "delete", id, mine: held.value, expected: held.version, actual: current.version });
    } else {
      await this.send(id, { remove: true }, () => store.delete("card", id));
      announce(`Client ${this.name} deleted “${held.value.title}”.`);
      this.conflict = null;
      this.afterWrite();
    }
  }

  afterWrite() {
    this.editing = null;
    this.refresh();
    changed();
  }

  showConflict(c) {
    this.editing = null;
    c.theirs = store.get("card", c.id); // undefined when deleted
    this.conflict = c;
    announce(`Client ${this.name}: conflict on “${c.mine.title}”: expected version ${c.expected}, ` +
      (c.deleted ? "but the card was deleted." : `but the board has version ${c.actual}.`));
    this.render();
    $(".conflict button", this.root)?.focus();
  }

  // Resolutions. "Reload and retry" applies the same change to the latest
  // version; "Overwrite" writes this client's whole card over it (expecting
  // the version the conflict reported, so a newer change conflicts again).
  retry() {
    const c = this.conflict;
    this.conflict = null;
    this.refresh();
    if (c.kind === "delete") {
      announce(`Client ${this.name}: reloaded “${c.mine.title}”; delete it again if still wanted.`);
    } else if (this.cards.has(c.id)) {
      this.change(c.id, c.intent);
    }
  }

  async overwrite() {
    const c = this.conflict;
    this.conflict = null;
    try {
      if (c.kind === "delete") {
        const cur = store.get("card", c.id);
        if (cur && cur.version !== c.actual) {
          return this.showConflict({ ...c, expected: c.actual, actual: cur.version });
        }
        if (cur) await this.send(c.id, { remove: true }, () => store.delete("card", c.id));
      } else if (c.deleted) {
        await this.send(c.id, { add: c.mine }, () => store.insert("card", c.id, c.mine)); // re-create it as this client had it
      } else {
        await this.send(c.id, { change: c.intent }, () => store.updateVersioned("card", c.id, c.mine, c.actual));
      }
    } catch (e) {
      if (e.code === "VERSION_MISMATCH") return this.showConflict({ ...c, expected: e.expected, actual: e.actual });
      if (e.code === "NOT_FOUND") return this.showConflict({ ...c, expected: c.actual, deleted: true });
      if (e.code === "ALREADY_EXISTS") return this.showConflict({ ...c, deleted: false, actual: store.get("card", c.id).version });
      throw e;
    }
    announce(`Client ${this.name}: overwrote “${c.mine.title}”.`);
    this.afterWrite();
  }

  discard() {
    this.conflict = null;
    this.refresh();
  }

  // ---- rendering ----

  // render rebuilds the client's panel, keeping keyboard focus on the
  // same control (by its data-focus key) when it still exists.
  render() {
    const focusKey = this.root.contains(document.activeElement) ? document.activeElement.dataset.focus : undefined;
    this.root.replaceChildren(this.header(), this.addForm(), this.conflictBox() ?? "", this.columns());
    if (focusKey) $(`[data-focus="${CSS.escape(focusKey)}"]`, this.root)?.focus();
    this.renderStatus(store.stats().currentSequence);
  }

  header() {
    const n = this.name;
    return h("div", { class: "client-head" },
      h("h2", { id: `client-${n}-title` }, h("span", { class: `badge by-${n}`, "aria-hidden": "true" }, n), ` Client ${n}`),
      h("p", { class: "view-status", "data-testid": `status-${n}`, "aria-live": "polite" }),
      h("div", { class: "client-tools" },
        h("label", { class: "switch" },
          h("input", { type: "checkbox", "data-testid": `live-${n}`, "data-focus": "live", checked: !!this.stopLive,
            onchange: (e) => this.setLive(e.target.checked) }),
          " Live"),
        h("button", { type: "button", "data-testid": `refresh-${n}`, "data-focus": "refresh",
          onclick: () => { this.conflict = null; this.refresh(); announce(`Client ${n} reloaded.`); } }, "Refresh")));
  }

  // renderStatus says how far behind the store the view is.
  renderStatus(current) {
    const el = $(`[data-testid="status-${this.name}"]`, this.root);
    if (!el) return;
    const behind = current - this.seen;
    el.dataset.behind = behind;
    el.classList.toggle("stale", behind > 0);
    const mode = this.stopLive ? "live" : "snapshot";
    el.textContent = behind > 0
      ? `${mode} at #${this.seen} · ${behind} newer change${behind === 1 ? "" : "s"} on the board`
      : `${mode} at #${this.seen} · up to date`;
  }

  addForm() {
    const n = this.name;
    const title = h("input", { type: "text", name: "title", required: true, maxlength: 120, placeholder: "New card title",
      "aria-label": `New card title (Client ${n})`, "data-testid": `add-title-${n}`, "data-focus": "add-title",
      value: this.draft.title, oninput: (e) => { this.draft.title = e.target.value; } });
    const column = h("select", { name: "column", "aria-label": `Column for the new card (Client ${n})`,
      "data-testid": `add-column-${n}`, "data-focus": "add-column", onchange: (e) => { this.draft.column = e.target.value; } },
    board.columns.map((c) => h("option", { value: c.id, selected: c.id === this.draft.column }, c.label)));
    return h("form", { class: "add-card", "data-testid": `add-form-${n}`, onsubmit: (e) => {
      e.preventDefault();
      const t = this.draft.title.trim();
      if (!t) return title.focus();
      this.draft.title = "";
      this.add(t, this.draft.column);
      $(`[data-focus="add-title"]`, this.root)?.focus();
    } }, title, column, h("button", { type: "submit", "data-testid": `add-${n}`, "data-focus": "add" }, "Add card"));
  }

  conflictBox() {
    const c = this.conflict;
    if (!c) return null;
    const t = c.theirs?.value;
    const what = c.kind === "delete" ? "delete" : describe(c.intent);
    const rows = [];
    if (t) {
      for (const [field, label] of [["title", "Title"], ["column", "Column"], ["note", "Note"], ["updatedBy", "Last change by"]]) {
        const show = (v) => (field === "column" ? columnLabel(v) : v ?? "—");
        const differs = (c.mine[field] ?? "") !== (t[field] ?? "");
        if (differs || field === "column") {
          rows.push(h("tr", { class: differs ? "differs" : "" },
            h("th", { scope: "row" }, label), h("td", {}, show(c.mine[field])), h("td", {}, show(t[field]))));
        }
      }
    }
    return h("div", { class: "conflict", role: "alert", "data-testid": `conflict-${this.name}` },
      h("p", { class: "conflict-title" }, h("strong", {}, "Version conflict"), ` — your ${what} of “${c.mine.title}” was not saved.`),
      h("p", {}, "You expected version ", h("b", { "data-testid": "conflict-expected" }, String(c.expected)),
        c.deleted
          ? [", but the card was ", h("b", { "data-testid": "conflict-actual" }, "deleted"), " by someone else."]
          : [", but the board has version ", h("b", { "data-testid": "conflict-actual" }, String(c.actual)),
            t ? ` (changed by Client ${t.updatedBy}).` : "."]),
      rows.length ? h("table", { class: "diff" },
        h("thead", {}, h("tr", {}, h("th", {}, h("span", { class: "visually-hidden" }, "Field")), h("th", { scope: "col" }, "Yours"), h("th", { scope: "col" }, "On the board"))),
        h("tbody", {}, rows)) : "",
      h("div", { class: "conflict-actions" },
        c.deleted ? "" : h("button", { type: "button", "data-testid": "conflict-retry", onclick: () => this.retry() },
          c.kind === "delete" ? "Reload" : "Reload and retry"),
        h("button", { type: "button", class: "danger", "data-testid": "conflict-overwrite", onclick: () => this.overwrite() },
          c.kind === "delete" ? "Delete anyway" : c.deleted ? "Re-create mine" : "Overwrite"),
        h("button", { type: "button", class: "quiet", "data-testid": "conflict-discard", onclick: () => this.discard() }, "Discard mine")));
  }

  columns() {
    return h("div", { class: "columns" }, board.columns.map((col, i) => {
      const cards = [...this.cards.values()].filter((a) => a.value.column === col.id);
      const adding = [...this.pending].filter(([id, w]) => w.add && w.add.column === col.id && !this.cards.has(id));
      const list = h("ul", { class: "card-list", "aria-labelledby": `col-${this.name}-${col.id}`,
        ondragover: (e) => { if (this.dragging) { e.preventDefault(); list.classList.add("drop"); } },
        ondragleave: () => list.classList.remove("drop"),
        ondrop: (e) => {
          e.preventDefault();
          list.classList.remove("drop");
          const id = this.dragging;
          this.dragging = null;
          if (id && this.cards.get(id)?.value.column !== col.id) this.change(id, { column: col.id });
        } }, cards.map((a) => this.card(a, i)), adding.map(([id, w]) => this.pendingCard(id, w.add)));
      return h("section", { class: "column", "data-testid": `column-${col.id}` },
        h("h3", { id: `col-${this.name}-${col.id}` }, col.label, h("span", { class: "count" }, String(cards.length))),
        list,
        cards.length || adding.length ? "" : h("p", { class: "empty" }, "No cards"));
    }));
  }

  // pendingCard is a card this client added that the node has not taken yet.
  pendingCard(id, v) {
    return h("li", { class: "card pending", "data-testid": `card-${id}`, dataset: { id, pending: "add" } },
      h("div", { class: "card-head" }, h("span", { class: "card-title", "data-testid": "card-title" }, v.title)),
      h("p", { class: "pending-note", "data-testid": "pending-note" }, "Waiting for the server to add it"));
  }

  card(a, colIndex) {
    const v = a.value;
    const cols = board.columns;
    const conflicted = this.conflict?.id === a.id;
    const pending = this.pending.get(a.id);
    if (this.editing?.id === a.id) return this.editCard(a);
    const move = (d) => {
      const to = cols[colIndex + d];
      return h("button", { type: "button", class: "icon", "data-testid": d < 0 ? "move-left" : "move-right",
        "data-focus": `${a.id}:${d}`, disabled: !to || !!pending, "aria-label": to ? `Move “${v.title}” to ${to.label}` : undefined,
        title: to ? `Move to ${to.label}` : undefined, onclick: () => this.change(a.id, { column: to.id }) },
      d < 0 ? "←" : "→");
    };
    const waiting = pending && (pending.remove ? "delete" : pending.change ? describe(pending.change) : "add");
    return h("li", { class: `card${conflicted ? " conflicted" : ""}${pending ? " pending" : ""}`, "data-testid": `card-${a.id}`,
      draggable: pending ? "false" : "true", "aria-busy": pending ? "true" : undefined,
      dataset: { id: a.id, version: a.version, column: v.column, pending: waiting || undefined },
      ondragstart: (e) => { this.dragging = a.id; e.dataTransfer.setData("text/plain", a.id); e.dataTransfer.effectAllowed = "move"; },
      ondragend: () => { this.dragging = null; } },
    h("div", { class: "card-head" },
      h("span", { class: "card-title", "data-testid": "card-title" }, v.title),
      h("span", { class: "version", title: `version ${a.version}`, "data-testid": "card-version" }, `v${a.version}`)),
    v.note ? h("p", { class: "card-note", "data-testid": "card-note" }, v.note) : "",
    pending ? h("p", { class: "pending-note", "data-testid": "pending-note" }, `Waiting for the server: ${waiting}`) : "",
    h("div", { class: "card-foot" },
      h("span", { class: "card-meta" }, h("span", { class: `badge small by-${v.updatedBy}`, title: `last changed by Client ${v.updatedBy}` }, v.updatedBy), h("code", {}, a.id)),
      h("span", { class: "card-actions" },
        move(-1),
        h("button", { type: "button", class: "icon", "data-testid": "edit", "data-focus": `${a.id}:edit`, disabled: !!pending,
          "aria-label": `Edit “${v.title}”`, title: "Edit", onclick: () => {
            this.editing = { id: a.id, title: v.title, note: v.note ?? "" };
            this.render();
            $(`[data-focus="${CSS.escape(`${a.id}:edit-title`)}"]`, this.root)?.focus();
          } }, "✎"),
        h("button", { type: "button", class: "icon", "data-testid": "delete", "data-focus": `${a.id}:delete`, disabled: !!pending,
          "aria-label": `Delete “${v.title}”`, title: "Delete", onclick: () => this.remove(a.id) }, "✕"),
        move(1))));
  }

  editCard(a) {
    const ed = this.editing;
    return h("li", { class: "card editing", "data-testid": `card-${a.id}`, dataset: { id: a.id, version: a.version, column: a.value.column } },
      h("form", { class: "edit-card", "data-testid": "edit-form", onsubmit: (e) => {
        e.preventDefault();
        const title = ed.title.trim();
        if (!title) return;
        this.change(a.id, { title, note: ed.note.trim() });
      } },
      h("label", {}, "Title", h("input", { type: "text", required: true, maxlength: 120, value: ed.title,
        "data-testid": "edit-title", "data-focus": `${a.id}:edit-title`, oninput: (e) => { ed.title = e.target.value; } })),
      h("label", {}, "Note", h("textarea", { rows: 2, maxlength: 500, "data-testid": "edit-note",
        oninput: (e) => { ed.note = e.target.value; } }, ed.note)),
      h("div", { class: "edit-actions" },
        h("span", { class: "version" }, `editing v${a.version}`),
        h("button", { type: "button", class: "quiet", "data-testid": "edit-cancel", onclick: () => { this.editing = null; this.render(); } }, "Cancel"),
        h("button", { type: "submit", "data-testid": "edit-save" }, "Save"))));
  }
}

// ---- the change feed ---------------------------------------------------

class Feed {
  constructor(root) {
    this.root = root;
    this.rows = $('[data-testid="feed-rows"]', root);
    this.scroller = $(".feed-scroll", root);
    this.status = $('[data-testid="feed-status"]', root);
    this.form = $('[data-testid="feed-filters"]', root);
    this.stop = null;
    this.count = 0;
    let timer;
    const apply = () => { clearTimeout(timer); this.subscribe(); };
    this.form.addEventListener("change", apply);
    this.form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(apply, 200); });
    this.form.addEventListener("submit", (e) => { e.preventDefault(); apply(); });
    this.form.addEventListener("reset", () => setTimeout(apply)); // after the fields are cleared
  }

  filter() {
    const f = new FormData(this.form);
    return { actorType: String(f.get("actorType") ?? ""), keyPrefix: String(f.get("keyPrefix") ?? "") };
  }

  // subscribe (re)starts the feed's subscription from the oldest event the
  // replay buffer still holds, with the current filter.
  subscribe() {
    this.stop?.();
    this.rows.replaceChildren();
    this.count = 0;
    const filter = this.filter();
    this.from = store.stats().oldestSequence;
    this.stop = store.subscribe({ from: "beginning", ...filter }, (ev) => this.append(ev), (err) => {
      // Fell out of the replay buffer (a burst larger than it), or the
      // replica re-synced from a snapshot: start over.
      this.stop = null;
      if (err.code === "COMPACTED") {
        notice(`The feed fell behind the replay buffer (${err.code}: wanted #${err.requested}, oldest #${err.oldest}); restarted.`);
      }
      this.subscribe();
    });
    this.root.dataset.filter = `${filter.actorType}|${filter.keyPrefix}`;
    this.renderStatus();
    changed();
  }

  append(ev) {
    const atBottom = this.scroller.scrollTop + this.scroller.clientHeight >= this.scroller.scrollHeight - 8;
    const ver = (v) => (v === undefined ? "–" : String(v));
    this.rows.append(h("tr", { class: `op-${ev.operation}`, "data-testid": "feed-row",
      dataset: { seq: ev.sequence, op: ev.operation, type: ev.actorType, id: ev.actorId } },
    h("td", { class: "num" }, `#${ev.sequence}`),
    h("td", {}, h("span", { class: `op op-${ev.operation}` }, ev.operation)),
    h("td", {}, h("span", { class: "actor-type" }, ev.actorType), "/", h("code", {}, ev.actorId)),
    h("td", { class: "num", "data-testid": "feed-versions" }, `${ver(ev.previousVersion)} → ${ver(ev.newVersion)}`),
    h("td", { class: "change" }, summarize(ev)),
    h("td", { class: "num time" }, h("time", { datetime: ev.timestamp.toISOString() }, formatTime(ev.timestamp)))));
    this.count++;
    if (this.rows.childElementCount > FEED_MAX_ROWS) this.rows.firstElementChild.remove();
    if (atBottom) this.scroller.scrollTop = this.scroller.scrollHeight;
    this.renderStatus();
    changed(); // the stats follow every event, this window's or another's
  }

  renderStatus() {
    const f = this.filter();
    const parts = [];
    if (f.actorType) parts.push(`type ${f.actorType}`);
    if (f.keyPrefix) parts.push(`ids starting “${f.keyPrefix}”`);
    this.status.dataset.count = this.count;
    this.status.textContent = `${this.count} event${this.count === 1 ? "" : "s"}` +
      (parts.length ? ` matching ${parts.join(" and ")}` : "") + `, replayed from #${this.from} (oldest retained)`;
  }
}

// summarize says what an event changed, for cards and the board.
function summarize(ev) {
  const p = ev.previousValue;
  const n = ev.newValue;
  if (ev.actorType !== "card") return ev.operation === "insert" ? `“${n?.name}”` : "";
  if (ev.operation === "insert") return `“${n.title}” in ${columnLabel(n.column)} by ${n.updatedBy}`;
  if (ev.operation === "delete") return `“${p.title}” removed`;
  const parts = [];
  if (p.column !== n.column) parts.push(`${columnLabel(p.column)} → ${columnLabel(n.column)}`);
  if (p.title !== n.title) parts.push(`title “${n.title}”`);
  if ((p.note ?? "") !== (n.note ?? "")) parts.push(!n.note ? "note removed" : p.note ? "note edited" : "note added");
  return `${parts.join(", ") || "no change"} by ${n.updatedBy}`;
}

// ---- stats and page-level state ----------------------------------------

let clients = [];
let statsQueued = false;

// changed schedules one stats repaint for everything that happened in this
// task: every mutation and (un)subscription of the page calls it.
function changed() {
  if (statsQueued) return;
  statsQueued = true;
  queueMicrotask(() => {
    statsQueued = false;
    renderStats();
  });
}

function renderStats() {
  renderSync();
  if (!store || store.closed) return;
  const s = store.stats();
  const set = (id, text) => { $(`[data-testid="${id}"]`).textContent = text; };
  set("stat-sequence", `#${s.currentSequence}`);
  set("stat-actors", String(s.actors));
  set("stat-dropped", String(s.eventsDropped));
  set("stat-subscriptions", String(s.activeSubscriptions));
  set("stat-buffer-events", `${s.replayBufferSize} / ${CONFIG.replayBufferSize}`);
  set("stat-buffer-bytes", `${formatBytes(s.replayBufferBytes)} / ${formatBytes(CONFIG.replayBufferBytes)}`);
  set("stat-oldest", s.replayBufferSize ? `#${s.oldestSequence}` : "none");
  set("stat-data-bytes", formatBytes(s.dataBytes));
  $('[data-testid="meter-buffer-events"]').value = s.replayBufferSize / CONFIG.replayBufferSize;
  $('[data-testid="meter-buffer-bytes"]').value = s.replayBufferBytes / CONFIG.replayBufferBytes;
  const dd = $('[data-testid="stat-sequence"]');
  dd.dataset.value = s.currentSequence;
  for (const c of clients) c.renderStatus(s.currentSequence);
}

// renderSync shows the replica's connection and the writes waiting for
// the server (every tab's).
function renderSync() {
  const el = $('[data-testid="sync-badge"]');
  if (!store) return;
  const status = store.closed ? "offline" : store.status;
  const n = store.closed ? 0 : store.pendingWrites.length;
  el.dataset.status = status;
  el.dataset.pending = n;
  const label = { online: "Online", connecting: "Connecting…", offline: "Offline" }[status];
  el.textContent = n ? `${label} · ${n} pending` : label;
  el.title = status === "online"
    ? "Following the board's server live"
    : "The server cannot be reached: the board is this browser's copy; edits wait and go out when it is back";
  const sw = $('[data-testid="node-switch"]');
  sw.textContent = nodeRunning ? "Stop server" : "Start server";
  sw.dataset.running = nodeRunning;
}

let nodeRunning = true;

// checkNode reads whether the board's server runs (its switch's label).
async function checkNode() {
  try {
    nodeRunning = (await (await fetch("/demo/node")).json()).running;
  } catch {
    // web-demo itself is gone: keep the label
  }
  renderSync();
}

// switchNode stops or starts the board's server (web-demo's own switch):
// pull the plug and watch the replicas carry on.
async function switchNode() {
  const sw = $('[data-testid="node-switch"]');
  sw.disabled = true;
  try {
    await checkNode(); // another window may have switched it
    const res = await fetch(`/demo/node/${nodeRunning ? "stop" : "start"}`, { method: "POST" });
    if (!res.ok) throw new Error(await res.text());
    nodeRunning = (await res.json()).running;
    announce(nodeRunning ? "The server is back." : "The server is stopped: edits wait, marked pending.");
  } finally {
    sw.disabled = false;
    renderSync();
  }
}

// notice shows a message about the page's machinery (not a client's) in
// the header.
function notice(text) {
  $('[data-testid="open-info"]').textContent = text;
}

function fatal(err) {
  const el = $('[data-testid="fatal"]');
  el.hidden = false;
  el.textContent = `Something went wrong: ${err?.message ?? err}`;
  console.error(err);
}

// openStore connects this page's replica of the board's server: persisted
// (its IndexedDB copy opens at once, also with the server down), or in
// memory where the browser has no IndexedDB.
async function openStore() {
  const t0 = performance.now();
  const options = { url: location.origin, wasm: WASM_URL, ...CONFIG, ...RECONNECT };
  try {
    store = await ActorStore.connect({ ...options, persist: { name: PERSIST_NAME } });
    persisted = true;
  } catch (e) {
    if (e.code !== "UNAVAILABLE" || !/IndexedDB|Web Locks/.test(e.message)) throw e;
    store = await ActorStore.connect(options);
    persisted = false;
    unsavedReason = e.message;
  }
  const ms = performance.now() - t0;
  const seq = store.stats().currentSequence;
  const how = store.status === "online"
    ? `in sync with the server at #${seq}`
    : `offline: this browser's copy at #${seq}; edits wait for the server`;
  notice(`Replica ready in ${ms.toFixed(0)} ms, ${how}${persisted ? "" : ` — not saved in this browser: ${unsavedReason}`}`);
  let was = store.status;
  store.addEventListener("status", () => {
    if (store.status === "online" && was === "offline") notice(`Online: in sync with the server at #${store.stats().currentSequence}`);
    else if (store.status === "offline" && was === "online") notice("The server cannot be reached: showing this browser's copy; edits wait for it");
    was = store.status;
    changed();
    checkNode();
  });
  store.addEventListener("pending", changed);
  store.addEventListener("resync", (e) => {
    notice(`Re-synced from the server's snapshot at #${e.detail.sequence} (${e.detail.reason === "COMPACTED"
      ? "this copy was too far behind for the server's replay buffer" : e.detail.reason === "RESTORED"
        ? "the board was reset" : "the server's history changed"}).`);
    for (const c of clients) c.refresh();
    changed();
  });
  // Edits queued by an earlier visit (or another tab) settle here: their
  // conflicts are shown, as this page's own are by their client.
  store.addEventListener("settled", (e) => {
    const { write, error } = e.detail;
    if (!error || clients.some((c) => c.pending.has(write.id))) return;
    const title = write.value?.title ?? write.id;
    notice(`A queued ${write.op === "updateVersioned" ? "change" : write.op} of “${title}” was refused: ` +
      (error.code === "VERSION_MISMATCH" ? `version conflict (expected ${error.expected}, the board has ${error.actual})` : error.code) + ".");
  });
}

// boardReady resolves once the replica holds the board: seeded by the
// first page to find the server empty.
async function boardReady() {
  for (;;) {
    if (store.get("board", "main")) return;
    if (store.status === "online") {
      try {
        await seed();
        return;
      } catch (e) {
        if (e.code !== "ALREADY_EXISTS") throw e; // another window seeded it
      }
    }
    notice("Waiting for the board's server…");
    await new Promise((resolve) => {
      const stop = store.subscribe({ from: "now" }, () => { stop(); resolve(); });
      store.addEventListener("status", function on() {
        store.removeEventListener("status", on);
        stop();
        resolve();
      });
    });
  }
}

let feed;

// start connects the replica and (re)builds the clients and the feed on it.
async function start() {
  await openStore();
  await boardReady();
  board = store.get("board", "main").value;
  $('[data-testid="board-name"]').textContent = board.name;

  clients = ["A", "B"].map((n) => new Client(n, $(`[data-testid="client-${n}"]`)));
  for (const c of clients) {
    // Number new cards after the client's existing ones (add skips ids
    // taken meanwhile anyway).
    const prefix = `${c.name.toLowerCase()}-`;
    for (const a of store.getAll("card")) {
      if (a.id.startsWith(prefix)) c.nextId = Math.max(c.nextId, Number(a.id.slice(prefix.length)) + 1 || 0);
    }
    c.refresh();
  }
  feed.subscribe();
  renderStats();
}

// reset restores the server to an empty store — every window's replica
// re-syncs — and seeds it again.
async function reset() {
  const button = $('[data-testid="reset"]');
  button.disabled = true;
  try {
    const empty = await ActorStore.open({ wasm: WASM_URL });
    const bytes = empty.snapshot();
    await empty.close();
    const resynced = new Promise((resolve) => store.addEventListener("resync", resolve, { once: true }));
    const res = await fetch("/v1/restore", { method: "POST", body: bytes });
    if (!res.ok) throw new Error(`resetting the board: ${(await res.json()).message}`);
    await resynced;
    await seed().catch((e) => { if (e.code !== "ALREADY_EXISTS") throw e; });
    for (const c of clients) {
      c.nextId = 3;
      c.conflict = null;
      c.refresh();
    }
    announce("The board was reset.");
  } finally {
    button.disabled = false;
  }
}

async function main() {
  feed = new Feed($('[data-testid="feed"]'));
  checkNode();
  await start();
  const button = $('[data-testid="reset"]');
  button.addEventListener("click", () => reset().catch(fatal));
  button.disabled = false;
  const sw = $('[data-testid="node-switch"]');
  sw.addEventListener("click", () => switchNode().catch(fatal));
  sw.disabled = false;
  document.body.dataset.ready = "true";
}

// Errors in event handlers surface in the page, not only in the console.
window.addEventListener("error", (e) => fatal(e.error ?? e.message));
window.addEventListener("unhandledrejection", (e) => fatal(e.reason));
main().catch(fatal);
