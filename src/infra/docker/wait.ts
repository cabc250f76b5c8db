/**
 * `POST /containers/{id}/wait`, done here rather than with dockerode's
 * `wait()`: the engine sends the headers at once and the body when the
 * container stops, and dockerode ignores a connection that breaks in
 * between — a daemon dying mid-trial would hang the run forever.
 */
import type Docker from "dockerode";

/** The container's exit status once it stops (null when the engine gives none). */
export function waitContainer(
  docker: Docker,
  id: string,
): Promise<number | null> {
  return new Promise((resolve, reject) => {
    docker.modem.dial({
      path: `/containers/${id}/wait?`,
      method: "POST",
      options: { condition: "not-running" },
      isStream: true,
      statusCodes: {
        200: true,
        404: "no such container",
        500: "server error",
      },
    }, (error, response) => {
      if (error) return reject(error);
      const stream = response as NodeJS.ReadableStream;
      let body = "";
      let settled = false;
      const lost = () => {
        if (settled) return;
        settled = true;
        reject(
          Object.assign(
            new Error("socket hang up (the engine closed the connection)"),
            { code: "ECONNRESET" },
          ),
        );
      };
      stream.on("data", (chunk: Uint8Array | string) => {
        body += typeof chunk === "string"
          ? chunk
          : new TextDecoder().decode(chunk);
      });
      stream.on("end", () => {
        if (settled) return;
        let parsed: { StatusCode?: unknown } | undefined;
        try {
          parsed = JSON.parse(body);
        } catch {
          return lost();
        }
        settled = true;
        resolve(
          typeof parsed?.StatusCode === "number" ? parsed.StatusCode : null,
        );
      });
      stream.on("error", lost);
      stream.on("aborted", lost);
      stream.on("close", lost);
    });
  });
}

/** How often an exec's end is asked for. */
const EXEC_END_POLL_MS = 20;

/**
 * The exit code of an exec whose output stream has ended. The engine closes
 * the stream before it records the exit code, so an inspect right after the
 * end can still say "running" with no code (seen on fresh, busy machines:
 * a command's `exit 7` read as 0). Asks again until it has ended; null when
 * it does not within `limitMs` (the command closed its output and runs on).
 */
export async function execExitCode(
  exec: { inspect(): Promise<{ Running?: boolean; ExitCode?: number | null }> },
  options: { pollMs?: number; limitMs: number },
): Promise<number | null> {
  const pollMs = options.pollMs ?? EXEC_END_POLL_MS;
  const deadline = performance.now() + options.limitMs;
  for (;;) {
    const inspected = await exec.inspect();
    if (inspected.Running !== true && typeof inspected.ExitCode === "number") {
      return inspected.ExitCode;
    }
    if (performance.now() >= deadline) return inspected.ExitCode ?? null;
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
