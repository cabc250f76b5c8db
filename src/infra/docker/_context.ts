/**
 * What the engine operations of one `DockerRuntime` share: the dockerode
 * client and the endpoint it talks to (for error messages), plus, for the
 * operations that wait for removals or ask which engine this is, the
 * runtime's removals and its Podman check. `runtime.ts` builds one per
 * runtime; the other files of this folder take it as their first argument.
 */
import type Docker from "dockerode";
import type { RatchetError } from "../../errors.ts";
import type { EngineEndpoint } from "../engine.ts";
import type { Removals } from "./_removals.ts";
import { startError, upstreamError } from "./errors.ts";

/** The client and where it points. */
export interface EngineClient {
  readonly docker: Docker;
  readonly endpoint: EngineEndpoint;
}

/** The client plus the runtime's state that some operations wait on or ask. */
export interface EngineContext extends EngineClient {
  /** Finished containers still being removed (see `runtime.ts`). */
  readonly removals: Removals;
  /** Whether the engine is Podman; an UpstreamError when it does not answer. */
  podman(): Promise<boolean>;
}

/** A failure while a run goes on (exit 4, resumable). */
export function upstream(
  ctx: EngineClient,
  action: string,
  error: unknown,
): RatchetError {
  return upstreamError(ctx.endpoint.url, action, error);
}

/** A failure of a start-time operation (exit 3, with the endpoint's hint). */
export function atStart(
  ctx: EngineClient,
  action: string,
  error: unknown,
): RatchetError {
  return startError(ctx.endpoint.url, ctx.endpoint.hint, action, error);
}
