// `npm run openapi`: regenerates public/openapi.json from the request schemas and the operation
// table. The src files import without extensions, so esbuild (which wrangler brings) bundles the builder
// first. test/openapi.test.ts builds the same document in workerd and fails when the committed file is stale.
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = await build({
  entryPoints: [`${root}src/openapi/spec.ts`],
  bundle: true,
  format: "esm",
  platform: "neutral",
  write: false,
  logLevel: "warning",
});
const source = out.outputFiles[0].text;
const { buildOpenApiDocument } = await import(`data:text/javascript;base64,${Buffer.from(source).toString("base64")}`);
const target = `${root}public/openapi.json`;
await writeFile(target, `${JSON.stringify(buildOpenApiDocument(), null, 2)}\n`);
console.log(`wrote ${target}`);
