import assert from "node:assert/strict";
import { detailHtml } from "./iterations_table.ts";

Deno.test("detailHtml() shows a short detail whole and cuts a long one at 240 characters", () => {
  assert.equal(detailHtml(""), "");
  assert.equal(detailHtml("short"), '<div class="detail">short</div>');
  const long = detailHtml("x".repeat(300));
  assert.match(long, /<summary>x{240}… /);
  assert.match(long, /\(300 characters: show all\)/);
  assert.match(long, /<pre>x{300}<\/pre>/);
});
