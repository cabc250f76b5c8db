/**
 * The composition root: every adapter ratchet uses is built here, once per
 * process, from the environment `main.ts` read. Use cases and commands get
 * them from `Deps` and never construct one themselves, so a test can hand
 * in fakes in one place.
 */
import { AnthropicClient } from "../agent/anthropic/client.ts";
import { clientTuningFromEnv } from "../agent/anthropic/options.ts";
import type { ModelClient } from "../agent/model.ts";
import { DockerRuntime } from "../infra/docker/runtime.ts";
import { resolveEngine } from "../infra/engine.ts";
import { createFaultHook, type FaultHook } from "../infra/fault.ts";
import { type GitContext, gitContextFrom } from "../infra/git/context.ts";
import type { ContainerRuntime } from "../infra/runtime.ts";
import { Store } from "../infra/store/store.ts";

/** The outside world as a command sees it. */
export interface Deps {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly now: () => Date;
  /** This process's id (the run lock holds it). */
  readonly pid: number;
  /**
   * The one fault hook (`RATCHET_FAULT_POINT`, test-only): shared by every
   * module, so `point:N` counts every arrival at the point.
   */
  readonly fault: FaultHook;
  /**
   * What every git call runs with (its environment, RATCHET_GIT_TIMEOUT_SECONDS).
   * Made on first use, so a bad time limit fails the command that runs git,
   * as before, not every command.
   */
  readonly git: GitContext;
  /** The container engine (found from DOCKER_HOST, the docker context or the default socket). */
  engine(): ContainerRuntime;
  /** The `.ratchet/` state of the repository at `root`. */
  store(root: string): Store;
  /** The Anthropic client for `apiKey` (ANTHROPIC_BASE_URL and tuning from the environment). */
  model(apiKey: string): ModelClient;
}

/** What the composition root is built from. */
export interface DepsInput {
  env: Readonly<Record<string, string | undefined>>;
  now?: () => Date;
  pid?: number;
}

/** Build the real adapters (lazily: a command that needs no engine never connects). */
export function createDeps(input: DepsInput): Deps {
  const env = input.env;
  const fault = createFaultHook(env.RATCHET_FAULT_POINT);
  let engine: ContainerRuntime | undefined;
  let git: GitContext | undefined;
  const stores = new Map<string, Store>();
  const models = new Map<string, ModelClient>();
  return {
    env,
    now: input.now ?? (() => new Date()),
    pid: input.pid ?? 0,
    fault,
    get git() {
      return git ??= gitContextFrom(env);
    },
    engine() {
      return engine ??= new DockerRuntime(resolveEngine({ ...env }));
    },
    store(root) {
      let store = stores.get(root);
      if (store === undefined) {
        store = new Store(root, { fault });
        stores.set(root, store);
      }
      return store;
    },
    model(apiKey) {
      let model = models.get(apiKey);
      if (model === undefined) {
        model = new AnthropicClient({
          apiKey,
          baseURL: env.ANTHROPIC_BASE_URL ?? null,
          ...clientTuningFromEnv(env),
        });
        models.set(apiKey, model);
      }
      return model;
    },
  };
}
