/**
 * The leftover rule the engine e2e tests apply (tests/_helpers/engines.ts):
 * every new container and volume counts; a new image counts unless it is a
 * tagged trial image built from a Dockerfile or a prepared-image cache
 * labelled as such by a label of its own (not one inherited from its parent).
 */
import assert from "node:assert/strict";
import {
  type EngineObject,
  type Inventory,
  isKeptImage,
  leftovers,
} from "./_helpers/engines.ts";

const base: EngineObject = {
  id: "sha256:base",
  names: ["busybox:latest"],
  labels: {},
  parent: "",
};

function inventory(
  images: EngineObject[],
  containers: EngineObject[] = [],
  volumes: EngineObject[] = [],
): Inventory {
  return { images, containers, volumes };
}

Deno.test("leftovers counts every new container and volume, and new images that are not kept", () => {
  const before = inventory([base]);
  const prepared: EngineObject = {
    id: "sha256:prep",
    names: ["ratchet-prepared:abc"],
    labels: { "ratchet.run": "r1" },
    parent: base.id,
  };
  const cacheByLabel: EngineObject = {
    id: "sha256:cache",
    names: ["ratchet-x:1"],
    labels: { "ratchet.prepared": "key-1" },
    parent: base.id,
  };
  // A tree image on top of the cache: it inherits the cache's label.
  const tree: EngineObject = {
    id: "sha256:tree",
    names: ["ratchet-tree:1"],
    labels: { "ratchet.prepared": "key-1", "ratchet.run": "r1" },
    parent: cacheByLabel.id,
  };
  const trial: EngineObject = {
    id: "sha256:trial",
    names: ["ratchet-trial:custom-123"],
    labels: { "ratchet.image": "custom" },
    parent: base.id,
  };
  // A tree image that cleared the inherited label.
  const cleared: EngineObject = {
    id: "sha256:cleared",
    names: ["ratchet-tree:2"],
    labels: { "ratchet.prepared": "" },
    parent: cacheByLabel.id,
  };
  // Committed on the custom trial image: inherits ratchet.image=custom.
  const untaggedChild: EngineObject = {
    id: "sha256:child",
    names: [],
    labels: { "ratchet.image": "custom" },
    parent: trial.id,
  };
  const after = inventory(
    [base, prepared, cacheByLabel, tree, cleared, trial, untaggedChild],
    [{ id: "c1", names: ["/trial"], labels: { "ratchet.run": "r1" } }],
    [{ id: "v1", names: ["v1"], labels: { "ratchet.run": "r1" } }],
  );
  const left = leftovers(before, after);
  assert.equal(left.length, 5, left.join("\n"));
  assert.match(left[0]!, /^container c1/);
  assert.ok(left.some((l) => l.startsWith("image tree")), left.join("\n"));
  assert.ok(left.some((l) => l.startsWith("image child")), left.join("\n"));
  assert.ok(left.some((l) => l.startsWith("image cleared")), left.join("\n"));
  assert.match(left.at(-1)!, /^volume v1/);
  assert.equal(isKeptImage(prepared, after.images), true);
  assert.equal(isKeptImage(cacheByLabel, after.images), true);
  assert.equal(isKeptImage(trial, after.images), true);
  assert.equal(isKeptImage(tree, after.images), false);
  assert.equal(isKeptImage(cleared, after.images), false);
  assert.equal(isKeptImage(untaggedChild, after.images), false);
  // Nothing new, nothing left.
  assert.deepEqual(leftovers(after, after), []);
});

Deno.test("on a shared engine only ratchet's objects count", () => {
  const before = inventory([base]);
  const after = inventory(
    [base, { id: "sha256:other", names: ["someone/else:1"], labels: {} }],
    [
      { id: "theirs", names: ["/x"], labels: {} },
      { id: "ours", names: ["/y"], labels: { "ratchet.run": "r" } },
    ],
    [{ id: "ratchet-cache-r-1", names: ["ratchet-cache-r-1"], labels: {} }],
  );
  const left = leftovers(before, after, { onlyRatchets: true });
  assert.deepEqual(left.map((l) => l.split(" ").slice(0, 2).join(" ")), [
    "container ours",
    "volume ratchet-cach",
  ]);
  assert.equal(leftovers(before, after).length, 4);
});
