// The layer order of src/ (README.md, "Project layout"): no file imports from a layer above its own, so
// each layer can be read, tested and changed with only the layers below it in mind.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { test } from "node:test";

const SRC = new URL("../../src/", import.meta.url).pathname;

/** Lowest first. A path is matched by its first segment under src/ (a folder, or a file at the top). */
const LAYERS = [
  [
    "errors.ts",
    "ids.ts",
    "ice-url.ts",
    "constants.ts",
    "scopes.ts",
    "retry.ts",
    "single-flight.ts",
    "crypto",
    "observability",
  ],
  ["contract"],
  ["config"],
  ["storage", "upstream", "auth"],
  ["keys", "vend"],
  // The Durable Object classes: they run the vend domain's rules in the object, over its own storage.
  ["objects"],
  ["jobs", "http"],
  ["routes"],
  // The entry points, and the tooling built from everything (never bundled into the Worker).
  ["app.ts", "index.ts", "dev.ts", "openapi", "client"],
];

function layerOf(file) {
  const top = relative(SRC, file).split("/")[0];
  const index = LAYERS.findIndex((names) => names.includes(top));
  assert.notEqual(index, -1, `${relative(SRC, file)} belongs to no layer: add it to LAYERS and the README`);
  return index;
}

function* sourceFiles(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sourceFiles(path);
    else if (entry.name.endsWith(".ts")) yield path;
  }
}

/** Relative imports of a file (type-only ones too: a type from above still ties the layers together). */
function importsOf(file) {
  const text = readFileSync(file, "utf8");
  const specs = [
    // import ... from "./x", export ... from "./x"
    ...text.matchAll(/^(?:import|export)\s[^;]*?from\s+["'](\.{1,2}\/[^"']+)["']/gms),
    // import "./x" (for its effects) and import("./x") (loaded lazily)
    ...text.matchAll(/\bimport\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g),
  ];
  return specs.map(([, spec]) => {
    const target = normalize(join(dirname(file), spec));
    if (target.endsWith(".ts")) return target;
    // A folder import ("../config") is its index.ts.
    return existsSync(target) ? join(target, "index.ts") : `${target}.ts`;
  });
}

test("no file in src/ imports from a layer above its own", () => {
  const upward = [];
  for (const file of sourceFiles(SRC)) {
    for (const target of importsOf(file)) {
      if (layerOf(file) < layerOf(target)) upward.push(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
    }
  }
  assert.deepEqual(upward, []);
});

test("the deployed Worker never loads the dev-only entry or the tooling", () => {
  const seen = new Set();
  const visit = (file) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const target of importsOf(file)) visit(target);
  };
  visit(join(SRC, "index.ts"));
  const reached = [...seen].map((f) => relative(SRC, f));
  assert.deepEqual(
    reached.filter(
      (f) => f === "dev.ts" || f.startsWith("openapi/") || f.startsWith("client/") || f.startsWith("routes/dev-"),
    ),
    [],
  );
  assert.ok(reached.includes("routes/turn-keys.ts"), "the walk follows imports");
});

test("the layer check sees an upward import", () => {
  // config (layer 2) importing auth (layer 3) is the kind of import the first test refuses.
  assert.ok(layerOf(join(SRC, "config/index.ts")) < layerOf(join(SRC, "auth/callers.ts")));
  assert.ok(importsOf(join(SRC, "app.ts")).some((t) => t.endsWith("routes/turn-keys.ts")));
  assert.ok(importsOf(join(SRC, "http/wiring.ts")).some((t) => t.endsWith("config/index.ts")));
});
