/**
 * Gate for tests that need a real Docker daemon. Under CI=true they always
 * run (and fail when the daemon does not answer); elsewhere they are ignored
 * with a printed reason when no daemon answers `/_ping`.
 */
import { request } from "node:http";

/** Socket path of the daemon the tests use (DOCKER_HOST=unix://… or the default). */
export function testDockerSocket(): string {
  const host = Deno.env.get("DOCKER_HOST");
  if (host?.startsWith("unix://")) return host.slice("unix://".length);
  return "/var/run/docker.sock";
}

/** True when the daemon answers `/_ping` within two seconds. */
export function pingDocker(socketPath = testDockerSocket()): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      { socketPath, path: "/_ping", method: "GET", timeout: 2000 },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode === 200));
      },
    );
    req.on("error", () => resolve(false));
    req.on("timeout", () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

const inCI = Deno.env.get("CI") === "true";
const available = await pingDocker();
if (!available && !inCI) {
  // deno-lint-ignore no-console
  console.error(
    `Docker tests skipped: no daemon answers on ${testDockerSocket()} (start dockerd, or run ../shared/ci/provision.sh)`,
  );
}

/** Whether Docker tests should be ignored in this process. */
export const dockerIgnored = !available && !inCI;

/**
 * Register a test that needs Docker. Sanitizers for resources and ops are off
 * because dockerode keeps sockets alive between calls.
 */
export function dockerTest(
  name: string,
  fn: (t: Deno.TestContext) => Promise<void>,
): void {
  Deno.test({
    name,
    ignore: dockerIgnored,
    sanitizeResources: false,
    sanitizeOps: false,
    async fn(t) {
      if (!available) {
        throw new Error(
          `CI=true but no Docker daemon answers on ${testDockerSocket()}`,
        );
      }
      await fn(t);
    },
  });
}
