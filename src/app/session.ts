/** What a run's steps share once preflight has passed (see run_session.ts). */
import type { Config } from "../config/config.ts";
import type { RunEvent } from "../core/events.ts";
import type { ContainerRuntime } from "../infra/runtime.ts";
import type { RunFile, Store } from "../infra/store/store.ts";
import type { TrialSetup } from "../trial/setup.ts";
import type { AppContext } from "./context.ts";

/** The pieces a run needs once preflight has passed. */
export interface Session {
  ctx: AppContext;
  root: string;
  store: Store;
  run: RunFile;
  config: Config;
  runtime: ContainerRuntime;
  /** The engine, the trial user and the trial image (prepared). */
  setup: TrialSetup;
  events: (e: RunEvent) => void;
}
