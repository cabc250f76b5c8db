/**
 * Checks the end-to-end tests make on an engine behind ratchet's back: what
 * a run left there, what `status --json` says about the engine.
 */
import assert from "node:assert/strict";
import type { CliResult } from "../_helpers/cli.ts";
import { testDockerSocket } from "../_helpers/docker.ts";
import {
  type EngineAddress,
  type EngineObject,
  type Inventory,
  inventoryOf,
  isKeptImage,
  leftovers,
  type TestEngine,
} from "../_helpers/engines.ts";
import { ratchet } from "./_support.ts";

/** Where the objects are looked for, and which of them count. */
export interface EngineView {
  label: string;
  address: EngineAddress;
  /** A shared engine other tests use: only ratchet's objects count. */
  shared: boolean;
  /** ratchet's environment for this engine ({} for the default one). */
  env: Record<string, string>;
}

/** The view of a test engine. */
export function viewOf(engine: TestEngine): EngineView {
  return {
    label: engine.label,
    address: engine.address,
    shared: false,
    env: engine.env,
  };
}

/** The view of the shared local daemon the other e2e tests use. */
export function localView(): EngineView {
  return {
    label: "the local dockerd",
    address: { socketPath: testDockerSocket() },
    shared: true,
    env: {},
  };
}

/** Snapshot of the engine to compare later runs against. */
export function snapshot(view: EngineView): Promise<Inventory> {
  return inventoryOf(view.address);
}

/**
 * Nothing is left on the engine since `before` (containers, volumes, images)
 * but what the spec lets outlive a run (a prepared-image cache labelled as
 * such, or `keep`'s choice).
 */
export async function assertNothingLeft(
  view: EngineView,
  before: Inventory,
  when: string,
  keep: (image: EngineObject, all: EngineObject[]) => boolean = isKeptImage,
): Promise<void> {
  const left = leftovers(before, await snapshot(view), {
    keep,
    onlyRatchets: view.shared,
  });
  assert.deepEqual(left, [], `${when}: left on ${view.label}`);
}

/** Containers on the engine labelled `ratchet.run=<runId>`. */
export async function runContainersOn(
  view: EngineView,
  runId: string,
): Promise<string[]> {
  const inv = await snapshot(view);
  return inv.containers.filter((c) => c.labels["ratchet.run"] === runId).map(
    (c) => c.id,
  );
}

/**
 * `ratchet status --json` on the engine: an `engine` object
 * `{endpoint, shares_filesystem}` that names the engine and says whether it
 * shares ratchet's filesystem.
 */
export async function assertStatusEngine(
  dir: string,
  engine: TestEngine,
): Promise<Record<string, unknown>> {
  const r = await ratchet(["status", "--json"], dir, null, {
    env: engine.env,
  });
  assert.equal(r.code, 0, r.stderr);
  const status = JSON.parse(r.stdout) as Record<string, unknown>;
  const e = status.engine as
    | { endpoint?: unknown; shares_filesystem?: unknown }
    | undefined;
  assert.ok(
    typeof e === "object" && e !== null,
    `status --json has no engine object: ${r.stdout}`,
  );
  assert.equal(
    e.shares_filesystem,
    engine.sharesFilesystem,
    `status --json engine.shares_filesystem on ${engine.label}: ${r.stdout}`,
  );
  assert.ok(
    String(e.endpoint).includes(endpointNeedle(engine)),
    `status --json engine.endpoint names ${
      endpointNeedle(engine)
    }: ${r.stdout}`,
  );
  return status;
}

/** The part of an engine's address a message naming it must contain. */
export function endpointNeedle(engine: TestEngine): string {
  return "socketPath" in engine.address
    ? engine.address.socketPath
    : `127.0.0.1:${engine.address.port}`;
}

/** A run on an engine whose user set no --mount is never told to fix one. */
export function assertNoMountBlame(r: CliResult, what: string): void {
  assert.doesNotMatch(
    `${r.stdout}\n${r.stderr}`,
    /--mount/,
    `${what}: a message blames --mount, which was not set:\n${r.stderr}`,
  );
}

/** A write to a read-only path, in the words of the kernel or the tools. */
export const REFUSED =
  /Read-only file system|Permission denied|Operation not permitted|read-only|protected|harness/i;
