// A typed usage of the package, checked by `tsc --noEmit --strict`
// (./build.sh test): the declarations must accept real code and reject
// misuse (the @ts-expect-error lines fail the check if they type-check).
import {
  ActorStore, ActorStoreError, RawCBOR, encodeValue, decodeValue,
  type Actor, type ChangeEvent, type Stats, type BatchResult, type ErrorCode,
  type Replica, type ReplicaStatus, type PendingWrite,
} from "actorstore";

interface Card { title: string; column: "todo" | "doing" | "done" }

export async function main(bytes: Uint8Array, module: WebAssembly.Module): Promise<void> {
  const store = await ActorStore.open({ wasm: new URL("actorstore.wasm", import.meta.url) });
  await ActorStore.open({ wasm: bytes, replayBufferSize: 100, maxValueBytes: 1 << 20, clock: () => Date.now() });
  await ActorStore.open({ wasm: module, clock: () => new Date(), raw: true });
  await ActorStore.open({ wasm: fetch("/actorstore.wasm") });
  await ActorStore.open();

  const a: Actor<Card> = store.insert<Card>("card", "c1", { title: "Write docs", column: "todo" });
  const v: number = a.version;
  const got = store.get<Card>("card", "c1");
  if (got) {
    const title: string = got.value.title;
    store.updateVersioned<Card>("card", "c1", { ...got.value, column: "doing", title }, got.version);
  }
  store.update("card", "c1", { any: "thing" });
  const removed: Actor | undefined = store.delete("card", "c1");
  const all: Actor<Card>[] = store.getAll<Card>("card");
  const page = store.changes(0, { actorType: "card", keyPrefix: "c", limit: 10 });
  const next: number = page.next;
  for (const ev of page.events) {
    const when: Date = ev.timestamp;
    const op: "insert" | "update" | "delete" = ev.operation;
    const prev: number | undefined = ev.previousVersion;
    void when; void op; void prev;
  }
  const results: BatchResult[] = store.batch([
    { op: "insert", type: "card", id: "c2", value: { title: "x", column: "todo" } },
    { op: "updateVersioned", type: "card", id: "c2", value: 1, expected: 0 },
    { op: "delete", type: "card", id: "c2" },
  ]);
  const found: boolean = results[0].found;
  const stop: () => void = store.subscribe({ from: { sequence: 3 }, actorType: "card" },
    (e: ChangeEvent<Card>) => { void e.newValue?.title; },
    (err: ActorStoreError) => { const c: ErrorCode = err.code; void c; void err.requested; });
  stop();
  store.subscribe({ from: "now" }, () => {});
  store.subscribe({ from: { time: new Date() } }, () => {});
  for await (const e of store.watch<Card>({ from: "beginning" })) {
    if (e.sequence > 10) break;
  }
  const s: Stats = store.stats();
  const n: number = s.replayBufferBytes + s.dataBytes + s.activeSubscriptions;
  store.insert("raw", "r1", new RawCBOR(encodeValue({ a: 1 })));
  const back: unknown = decodeValue(new Uint8Array([0xf6]));
  try {
    store.updateVersioned("card", "c1", {}, 7);
  } catch (e) {
    if (e instanceof ActorStoreError && e.code === "VERSION_MISMATCH") {
      const [exp, act]: [number | undefined, number | undefined] = [e.expected, e.actual];
      void exp; void act;
    }
  }
  const persisted = await ActorStore.open({ wasm: module, persist: { name: "board", snapshotBytes: 1 << 20 } });
  persisted.insert("card", "p1", { title: "kept", column: "todo" });
  const pending: number = persisted.pendingWrites;
  await persisted.flush();
  const snap: Uint8Array = persisted.snapshot();
  persisted.restore(snap);
  persisted.restore(snap.buffer as ArrayBuffer);
  try {
    await persisted.flush();
  } catch (e) {
    if (e instanceof ActorStoreError && (e.code === "STORAGE" || e.code === "LOCKED" || e.code === "UNAVAILABLE" || e.code === "CORRUPT")) {
      void e.message;
    }
  }
  const done: Promise<void> = persisted.close();
  await done;
  await ActorStore.deletePersisted("board");
  const closed: boolean = store.closed;
  await store.close();
  void pending;
  void v; void removed; void all; void next; void found; void n; void back; void closed;

  // Misuse the declarations must reject:
  // @ts-expect-error: batch ops need a known op
  store.batch([{ op: "upsert", type: "card", id: "c3", value: 1 }]);
  // @ts-expect-error: updateVersioned needs the expected version
  store.batch([{ op: "updateVersioned", type: "card", id: "c3", value: 1 }]);
  // @ts-expect-error: from takes "beginning" | "now" | { sequence } | { time }
  store.subscribe({ from: "end" }, () => {});
  // @ts-expect-error: ids are strings
  store.get("card", 42);
  // @ts-expect-error: the constructor is private: use open
  new ActorStore();
  // @ts-expect-error: persist needs a name
  await ActorStore.open({ persist: {} });
  // @ts-expect-error: pendingWrites is read-only
  store.pendingWrites = 1;
  // @ts-expect-error: restore takes bytes
  store.restore("snapshot");
  // @ts-expect-error: not an error code
  const bad: ErrorCode = "NOPE";
  void bad;
}

export async function replica(ws: new (url: string, protocols?: string | string[]) => WebSocket): Promise<void> {
  const r: Replica = await ActorStore.connect({ url: "http://127.0.0.1:7070", persist: { name: "board" }, token: "t" });
  await ActorStore.connect({ url: new URL("http://127.0.0.1:7070"), WebSocket: ws, raw: true, minDelay: 100, timeout: 5000 });
  const a: Actor<Card> | undefined = r.get<Card>("card", "c1");
  if (a) {
    const b: Actor<Card> = await r.updateVersioned<Card>("card", "c1", { ...a.value, column: "done" }, a.version);
    void b;
  }
  const removed: Actor | undefined = await r.delete("card", "c1");
  const results: BatchResult[] = await r.batch([{ op: "insert", type: "card", id: "c2", value: 1 }]);
  const status: ReplicaStatus = r.status;
  const pending: PendingWrite[] = r.pendingWrites;
  const when: Date = pending[0].queuedAt;
  r.addEventListener("status", (e) => { const s: ReplicaStatus = e.detail.status; void s; });
  r.addEventListener("resync", (e) => { const n: number = e.detail.sequence; void n; });
  r.addEventListener("settled", (e) => { const c: ErrorCode | undefined = e.detail.error?.code; void c; });
  const stop = r.subscribe<Card>({ from: "now", actorType: "card" }, (e) => { void e.newValue?.column; });
  stop();
  await r.close();
  void removed; void results; void when; void status;
  // @ts-expect-error: a replica's writes are promises
  const sync: Actor = r.insert("card", "c3", 1);
  // @ts-expect-error: connect needs the server's url
  await ActorStore.connect({ persist: { name: "x" } });
  // @ts-expect-error: pendingWrites is read-only
  r.pendingWrites = [];
  void sync;
}
