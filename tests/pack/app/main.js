// The page's script, importing the installed package by its bare name:
// bundled by Vite (index.html), served by Vite's dev server (index.html) or
// run as is with an import map (importmap.html). With no wasm option the
// store loads the package's own module, new URL("./actorstore.wasm",
// import.meta.url), which a bundler must emit as an asset. The outcome goes
// to window.__result and #result.
import { ActorStore, ActorStoreError } from "actorstore";

async function run() {
  const mem = await ActorStore.open();
  const inserted = mem.insert("user", "u1", { name: "Ann" });
  const got = mem.get("user", "u1");
  let conflict;
  try {
    mem.updateVersioned("user", "u1", { name: "Bob" }, inserted.version + 1);
  } catch (e) {
    conflict = e instanceof ActorStoreError ? e.code : String(e);
  }
  await mem.close();

  // The same package with persistence: written, closed, reopened.
  const name = "pack-test";
  await ActorStore.deletePersisted(name);
  const a = await ActorStore.open({ persist: { name } });
  a.insert("card", "c1", { title: "kept" });
  await a.close();
  const b = await ActorStore.open({ persist: { name } });
  const reopened = b.get("card", "c1");
  await b.close();
  await ActorStore.deletePersisted(name);

  return { inserted, got, conflict, reopened };
}

run().then(
  (r) => { window.__result = r; },
  (e) => { window.__result = { error: String(e?.stack || e) }; },
).finally(() => {
  document.getElementById("result").textContent = JSON.stringify(window.__result);
});
