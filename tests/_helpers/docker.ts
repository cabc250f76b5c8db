/**
 * Gate for tests that need a real Docker daemon. Under CI=true they always
 * run (and fail when the daemon does not answer); elsewhere they are ignored
 * with a printed reason when no daemon answers `/_ping`.
 */
import { request } from "node:http";

/** Socket path of a DOCKER_HOST value (unix://…), or the default socket. */
export function socketOfHost(dockerHost: string | undefined): string {
  if (dockerHost?.startsWith("unix://")) {
    return dockerHost.slice("unix://".length);
  }
  return "/var/run/docker.sock";
}

/** Socket path of the daemon the tests use (DOCKER_HOST=unix://… or the default). */
export function testDockerSocket(): string {
  return socketOfHost(Deno.env.get("DOCKER_HOST"));
}

/** True when the daemon answers `/_ping` within `timeoutMs`. */
export function pingDocker(
  socketPath = testDockerSocket(),
  timeoutMs = 2000,
): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      { socketPath, path: "/_ping", method: "GET", timeout: timeoutMs },
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

/**
 * One Engine API call over the socket, for tests that look at the daemon
 * behind ratchet's back: the parsed JSON body (text when not JSON), null for
 * an empty body or a 404; rejects on other errors.
 */
export function dockerApi(
  method: string,
  path: string,
  socketPath = testDockerSocket(),
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, path, method, timeout: 10_000 },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (body += c));
        res.on("end", () => {
          if ((res.statusCode ?? 500) >= 400 && res.statusCode !== 404) {
            reject(
              new Error(`docker ${method} ${path}: ${res.statusCode} ${body}`),
            );
          } else {
            try {
              resolve(body === "" ? null : JSON.parse(body));
            } catch {
              resolve(body);
            }
          }
        });
      },
    );
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("docker API timeout")));
    req.end();
  });
}

/** Every container (running or not) labelled `ratchet.run=<runId>`. */
export async function containersOfRun(
  runId: string,
  socketPath = testDockerSocket(),
): Promise<{ Id: string; Labels: Record<string, string> }[]> {
  const filters = encodeURIComponent(
    JSON.stringify({ label: [`ratchet.run=${runId}`] }),
  );
  return await dockerApi(
    "GET",
    `/containers/json?all=1&filters=${filters}`,
    socketPath,
  ) as { Id: string; Labels: Record<string, string> }[];
}

/** Force-remove a container and its anonymous volumes; gone already is fine. */
export async function forceRemoveContainer(
  id: string,
  socketPath = testDockerSocket(),
): Promise<void> {
  await dockerApi("DELETE", `/containers/${id}?force=1&v=1`, socketPath);
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
