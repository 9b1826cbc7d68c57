// `npm start`: the local stack on its embedded defaults (emulator, local KV, dev credentials), with any setting
// in .dev.vars laid over them; or real Cloudflare when .dev.vars holds CLOUDFLARE_ACCOUNT_ID and
// CLOUDFLARE_API_TOKEN.
import { relative } from "node:path";
import { DEV_ACCOUNT_ID, DEV_CALLER_TOKEN } from "./dev-defaults.mjs";
import { startStack, usesRealCloudflare } from "./stack.mjs";

const port = Number(process.env.PORT ?? 8787);
const real = usesRealCloudflare();
const stack = await startStack({ port, devVars: true });

// Names only, never values: .dev.vars holds secrets.
const file = stack.devVars ? relative(process.cwd(), stack.devVars.path) : ".dev.vars";
const fromFile = new Set(stack.devVars?.applied);
const lines = [`turnvend is running on ${stack.url}`];
if (real) {
  lines.push(`  upstream:      real Cloudflare (wrangler reads ${file} itself)`);
} else {
  lines.push(`  upstream:      local Cloudflare emulator at ${stack.emulatorUrl}`);
  lines.push(`  account id:    ${fromFile.has("CLOUDFLARE_ACCOUNT_ID") ? `from ${file}` : DEV_ACCOUNT_ID}`);
  if (fromFile.has("CALLERS")) {
    lines.push(`  caller token:  the callers in ${file} (the dev token ${DEV_CALLER_TOKEN} is not among them)`);
  } else {
    lines.push(`  caller token:  ${DEV_CALLER_TOKEN}   (every scope; local development only)`);
    if (!fromFile.has("CLOUDFLARE_ACCOUNT_ID")) {
      lines.push(
        `  try:           curl -H "Authorization: Bearer ${DEV_CALLER_TOKEN}" ${stack.url}/client/v4/accounts/${DEV_ACCOUNT_ID}/calls/turn_keys`,
      );
    }
  }
  if (fromFile.size > 0) lines.push(`  from ${file}:  ${[...fromFile].join(", ")}   (over the local defaults)`);
  if (stack.devVars?.ignored.length > 0) {
    lines.push(`  ignored:       ${stack.devVars.ignored.join(", ")} in ${file}: the upstreams stay on the emulator`);
  }
}
lines.push(
  `  connectivity:  ${stack.url}/`,
  `  usage cron:    curl "${stack.url}/__scheduled?cron=*/5+*+*+*+*"   (README, "Protecting the bill")`,
  "Press Ctrl+C to stop.",
);
console.log(`\n${lines.join("\n")}\n`);

for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    await stack.stop();
    process.exit(0);
  });
}
