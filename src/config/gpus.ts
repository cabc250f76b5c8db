/**
 * `--gpus SPEC` (pure): the docker CLI's syntax (`all`, a count,
 * `device=0,1`, `"device=0,1",capabilities=compute`, `driver=nvidia,count=1`)
 * read into the one device request the engine is sent. The option check
 * (exit 2, before anything starts) and the Docker adapter both use this
 * parser, so a value that passes validation is the value the engine gets.
 */
import { ConfigError } from "../errors.ts";

/** One GPU device request, in the Engine API's field names. */
export interface GpuRequest {
  Driver: string;
  /** -1 = all GPUs; 0 with DeviceIDs = exactly those devices. */
  Count: number;
  DeviceIDs?: string[];
  Capabilities: string[][];
}

const HINT =
  'Use "all", a count, or "device=0,1" as with `docker run --gpus`; options: count, device, driver, capabilities.';

function bad(spec: string, why: string): ConfigError {
  return new ConfigError(`Invalid value for --gpus: "${spec}" (${why})`, {
    key: "gpus",
    hint: HINT,
  });
}

/** A count: a whole number of at least 1, or `all` (-1). */
function count(spec: string, text: string): number {
  if (text === "all") return -1;
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw bad(spec, `count "${text}" is not "all" or a whole number ≥ 1`);
  }
  return Number(text);
}

/**
 * Parse a `--gpus` value; throws ConfigError (exit 2) naming the value and
 * the part that is not understood.
 */
export function parseGpus(spec: string): GpuRequest {
  const request: GpuRequest = { Driver: "", Count: 0, Capabilities: [] };
  let deviceIds: string[] | undefined;
  let capabilities: string[] | undefined;
  let key: string | undefined;
  const tokens = spec.split(",").map((t) => t.trim().replace(/^"|"$/g, ""))
    .filter((t) => t !== "");
  if (tokens.length === 0) throw bad(spec, "empty");
  for (const [index, token] of tokens.entries()) {
    const eq = token.indexOf("=");
    if (eq === -1) {
      // A bare word: the count (first), or another item of the last list.
      if (index === 0 && (token === "all" || /^\d+$/.test(token))) {
        request.Count = count(spec, token);
      } else if (key === "device") (deviceIds ??= []).push(token);
      else if (key === "capabilities") (capabilities ??= []).push(token);
      else throw bad(spec, `"${token}" is not understood`);
      continue;
    }
    key = token.slice(0, eq);
    const value = token.slice(eq + 1);
    if (value === "") throw bad(spec, `"${key}" has no value`);
    if (key === "count") request.Count = count(spec, value);
    else if (key === "device") (deviceIds ??= []).push(value);
    else if (key === "driver") request.Driver = value;
    else if (key === "capabilities") (capabilities ??= []).push(value);
    else throw bad(spec, `option "${key}" is not understood`);
  }
  if (deviceIds !== undefined) request.DeviceIDs = deviceIds;
  if (request.Count === 0 && deviceIds === undefined) request.Count = -1;
  request.Capabilities = [capabilities ?? ["gpu"]];
  return request;
}
