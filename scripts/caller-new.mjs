// `npm run caller:new -- --id <id> --scopes <a,b>`: mints a caller token, prints it once, and prints
// the CALLERS entry (which holds only the token's SHA-256) to add to the secret.
import { createHash, randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { ALL_SCOPES } from "./dev-defaults.mjs";

const usage =
  "usage: npm run caller:new -- --id <caller-id> --scopes <scope[,scope...]>\nscopes: " + ALL_SCOPES.join(", ");

let values;
try {
  ({ values } = parseArgs({ options: { id: { type: "string" }, scopes: { type: "string" } } }));
} catch (err) {
  console.error(`${err.message}\n${usage}`);
  process.exit(2);
}
const id = values.id ?? "";
const scopes = (values.scopes ?? "")
  .split(",")
  .map((s) => s.trim())
  .filter(Boolean);
if (!/^[A-Za-z0-9._:-]{1,64}$/.test(id)) {
  console.error(`--id must be 1-64 characters of A-Z a-z 0-9 . _ : -\n${usage}`);
  process.exit(2);
}
const unknown = scopes.filter((s) => !ALL_SCOPES.includes(s));
if (scopes.length === 0 || unknown.length > 0) {
  console.error(`${unknown.length ? `unknown scope(s): ${unknown.join(", ")}` : "--scopes is required"}\n${usage}`);
  process.exit(2);
}

const token = "tv_" + randomBytes(32).toString("base64url");
const entry = { id, token_sha256: createHash("sha256").update(token).digest("hex"), scopes };

console.log(`Caller token for "${id}" (shown once; give it to the caller and store it nowhere else):

  ${token}

Add this entry to the CALLERS JSON array, then update the secret with \`npx wrangler secret put CALLERS\`:

  ${JSON.stringify(entry)}
`);
