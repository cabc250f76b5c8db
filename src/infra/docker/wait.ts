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
