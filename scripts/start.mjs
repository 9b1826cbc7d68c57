// `npm start`: the local stack on its embedded defaults (emulator, local KV, dev credentials), or real
// Cloudflare when .dev.vars holds CLOUDFLARE_ACCOUNT_ID and CLOUDFLARE_API_TOKEN.
import { DEV_ACCOUNT_ID, DEV_CALLER_TOKEN } from "./dev-defaults.mjs";
import { startStack, usesRealCloudflare } from "./stack.mjs";

const port = Number(process.env.PORT ?? 8787);
const real = usesRealCloudflare();
const stack = await startStack({ port });

console.log(`
turnvend is running on ${stack.url}
${
  real
    ? "  upstream:      real Cloudflare (from .dev.vars)"
    : `  upstream:      local Cloudflare emulator at ${stack.emulatorUrl}
  account id:    ${DEV_ACCOUNT_ID}
  caller token:  ${DEV_CALLER_TOKEN}   (every scope; local development only)
  try:           curl -H "Authorization: Bearer ${DEV_CALLER_TOKEN}" ${stack.url}/client/v4/accounts/${DEV_ACCOUNT_ID}/calls/turn_keys`
}
  connectivity:  ${stack.url}/
Press Ctrl+C to stop.
`);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    await stack.stop();
    process.exit(0);
  });
}
