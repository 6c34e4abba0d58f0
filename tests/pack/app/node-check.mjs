// Run with node inside a project that installed the packed tarball: opens a
// store with no options (the package finds its own actorstore.wasm), writes
// and reads back, and prints the result as one JSON line.
import { ActorStore, ActorStoreError } from "actorstore";

const store = await ActorStore.open();
const inserted = store.insert("user", "u1", { name: "Ann", tags: ["a", "b"] });
const got = store.get("user", "u1");
let conflict;
try {
  store.updateVersioned("user", "u1", { name: "Bob" }, inserted.version + 1);
} catch (e) {
  conflict = e instanceof ActorStoreError ? { code: e.code, expected: e.expected, actual: e.actual } : String(e);
}
const stats = store.stats();
await store.close();
console.log(JSON.stringify({ inserted, got, conflict, actors: stats.actors, closed: store.closed }));
