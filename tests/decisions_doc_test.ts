import assert from "node:assert/strict";
import {
  docSection,
  renderDocSections,
  replaceDocSections,
} from "../bench/_decisions_doc.ts";

Deno.test("docs/decisions.md's generated sections match the code and the simulations", async () => {
  const doc = await Deno.readTextFile(
    new URL("../docs/decisions.md", import.meta.url),
  );
  // Seeded, so any difference means the rules, the simulations or the page
  // changed without the other.
  for (const [name, text] of Object.entries(renderDocSections())) {
    const committed = docSection(doc, name);
    assert.ok(
      committed !== null,
      `docs/decisions.md lacks the <!-- decisions:${name}:start --> … end markers`,
    );
    assert.equal(
      committed,
      text,
      `docs/decisions.md's "${name}" section is stale: run ` +
        "`deno task bench:decision --write-docs`",
    );
  }
});

Deno.test("replaceDocSections() rewrites only between the markers and names a missing one", () => {
  const doc =
    "# x\n\n<!-- decisions:a:start -->\nold\n<!-- decisions:a:end -->\n\ntail\n";
  const next = replaceDocSections(doc, { a: "new" });
  assert.equal(
    next,
    "# x\n\n<!-- decisions:a:start -->\n\nnew\n\n<!-- decisions:a:end -->\n\ntail\n",
  );
  assert.equal(docSection(next, "a"), "new");
  assert.throws(() => replaceDocSections(doc, { b: "x" }), /decisions:b:start/);
});
