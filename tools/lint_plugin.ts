/**
 * Local lint rules that keep the architecture honest (modeled on std's
 * `no-external-code`):
 *
 * - `ratchet/pure-core`: `src/core/**` stays pure. It may import only other
 *   core modules and the pure libraries listed below, and never touches
 *   `Deno.*`.
 * - `ratchet/composition-root`: in `src/`, the adapters (`DockerRuntime`,
 *   `AnthropicClient`, `Store`) are constructed only in `src/app/deps.ts`.
 * - `ratchet/one-adapter`: the Anthropic SDK is imported only in the
 *   `src/agent/anthropic/` folder (the model adapter), dockerode only in the
 *   `src/infra/docker/` folder (the Docker adapter).
 */

const PURE_LIBRARIES = new Set([
  "picomatch",
  "@stdlib/stats-ttest2",
  "@stdlib/stats-base-dists-t-quantile",
  "@stdlib/stats-base-dists-normal-quantile",
]);

const ADAPTERS: Record<string, string> = {
  "@anthropic-ai/sdk": "src/agent/anthropic/",
  "dockerode": "src/infra/docker/",
};

/** A file is its adapter's when it is the adapter file, or inside the adapter folder. */
function ownedBy(filename: string, owner: string): boolean {
  return owner.endsWith("/")
    ? filename.includes(`/${owner}`)
    : filename.endsWith(owner);
}

/** Adapter classes only the composition root may construct. */
const ADAPTER_CLASSES = new Set(["DockerRuntime", "AnthropicClient", "Store"]);
const COMPOSITION_ROOT = "src/app/deps.ts";

/** Production code under src/ (not tests beside it). */
function isSource(filename: string): boolean {
  const f = filename.replaceAll("\\", "/");
  return /\/src\//.test(f) && !f.endsWith("_test.ts");
}

function isCore(filename: string): boolean {
  // Tests beside core modules may use Deno.test and node:assert.
  return /[\\/]src[\\/]core[\\/]/.test(filename) &&
    !filename.endsWith("_test.ts");
}

const plugin: Deno.lint.Plugin = {
  name: "ratchet",
  rules: {
    "pure-core": {
      create(context) {
        if (!isCore(context.filename)) return {};
        return {
          ImportDeclaration(node) {
            const source = node.source.value;
            if (source.startsWith("./") || source.startsWith("../")) {
              if (source.startsWith("../") && !source.startsWith("../core/")) {
                // ../x from src/core/ leaves core unless it comes back in.
                context.report({
                  node,
                  message:
                    `src/core must stay pure: "${source}" is outside src/core`,
                });
              }
              return;
            }
            if (!PURE_LIBRARIES.has(source)) {
              context.report({
                node,
                message:
                  `src/core must stay pure: "${source}" is not an allowed pure library`,
              });
            }
          },
          MemberExpression(node) {
            if (
              node.object.type === "Identifier" && node.object.name === "Deno"
            ) {
              context.report({
                node,
                message: "src/core must stay pure: no Deno.* APIs",
              });
            }
          },
        };
      },
    },
    "composition-root": {
      create(context) {
        const file = context.filename.replaceAll("\\", "/");
        if (!isSource(file) || file.endsWith(COMPOSITION_ROOT)) return {};
        return {
          NewExpression(node) {
            if (
              node.callee.type === "Identifier" &&
              ADAPTER_CLASSES.has(node.callee.name)
            ) {
              context.report({
                node,
                message:
                  `${node.callee.name} is built only in ${COMPOSITION_ROOT} (the composition root); take it from Deps`,
              });
            }
          },
        };
      },
    },
    "one-adapter": {
      create(context) {
        return {
          ImportDeclaration(node) {
            const source = node.source.value;
            const owner = ADAPTERS[source];
            if (
              owner !== undefined &&
              !ownedBy(context.filename.replaceAll("\\", "/"), owner)
            ) {
              context.report({
                node,
                message: `"${source}" may be imported only in ${owner}`,
              });
            }
          },
        };
      },
    },
  },
};

export default plugin;
