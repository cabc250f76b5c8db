/**
 * dockerode's connection options for an engine endpoint (unix socket, TCP,
 * TLS with the DOCKER_CERT_PATH files, SSH), from `engine.ts`'s discovery.
 */
import type Docker from "dockerode";
import { Agent as HttpsAgent } from "node:https";
import { EnvironmentError } from "../../errors.ts";
import type { EngineEndpoint } from "../engine.ts";
import { messageOf } from "./errors.ts";

/** dockerode options for an endpoint (TLS files read now). */
export function dockerOptions(endpoint: EngineEndpoint): Docker.DockerOptions {
  switch (endpoint.protocol) {
    case "unix":
      return { socketPath: endpoint.socketPath };
    case "ssh": {
      const options: Docker.DockerOptions = {
        protocol: "ssh",
        host: endpoint.host,
        port: endpoint.port,
      };
      if (endpoint.username !== null) options.username = endpoint.username;
      if (endpoint.agentSocket !== null) {
        options.sshOptions = { agent: endpoint.agentSocket };
      }
      return options;
    }
    case "http":
      return { protocol: "http", host: endpoint.host, port: endpoint.port };
    case "https": {
      const read = (path: string | null) => {
        if (path === null) return undefined;
        try {
          return Deno.readTextFileSync(path);
        } catch (error) {
          throw new EnvironmentError(
            `Cannot read the TLS file ${path} for ${endpoint.url}: ${
              messageOf(error)
            }`,
            {
              hint:
                "Set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem.",
            },
          );
        }
      };
      const tls = endpoint.tls;
      const ca = read(tls?.caPath ?? null);
      const cert = read(tls?.certPath ?? null);
      const key = read(tls?.keyPath ?? null);
      const options: Docker.DockerOptions & { agent?: HttpsAgent } = {
        protocol: "https",
        host: endpoint.host,
        port: endpoint.port,
      };
      if (ca !== undefined) options.ca = ca;
      if (cert !== undefined) options.cert = cert;
      if (key !== undefined) options.key = key;
      if (tls !== null && !tls.verify) {
        // docker-modem has no switch for this; its requests use our agent.
        const agentOptions: ConstructorParameters<typeof HttpsAgent>[0] = {
          rejectUnauthorized: false,
        };
        if (cert !== undefined) agentOptions.cert = cert;
        if (key !== undefined) agentOptions.key = key;
        options.agent = new HttpsAgent(agentOptions);
      }
      return options;
    }
  }
}
