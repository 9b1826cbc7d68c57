// The vend baseline: bench/fixtures/passthrough under its own `wrangler dev`, next to turnvend's, pointed
// at the same emulator. Its settings go in with `--var`: they are the emulator's, valid nowhere else.
import { join } from "node:path";
import { freePort, startChild } from "../scripts/stack.mjs";

const root = new URL("..", import.meta.url).pathname;
const CONFIG = join(root, "bench", "fixtures", "passthrough", "wrangler.toml");

/** Starts the pass-through Worker; returns its URL and a stop function. */
export async function startPassthrough({ emulatorUrl, keyId, keySecret, persistTo, quiet }) {
  const port = await freePort();
  const args = [
    "dev",
    "-c",
    CONFIG,
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--show-interactive-dev-session=false",
    "--persist-to",
    persistTo,
    "--var",
    `RTC_API_BASE_URL:${emulatorUrl}/v1`,
    "--var",
    `TURN_KEY_ID:${keyId}`,
    "--var",
    `TURN_KEY_API_TOKEN:${keySecret}`,
  ];
  const child = await startChild("passthrough", join(root, "node_modules", ".bin", "wrangler"), args, {
    env: { WRANGLER_SEND_METRICS: "false" },
    ready: /Ready on http/,
    quiet,
    timeoutMs: 120_000,
  });
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      const force = setTimeout(() => child.kill("SIGKILL"), 5_000);
      child.once("exit", () => {
        clearTimeout(force);
        resolve();
      });
      child.kill("SIGTERM");
    });
  return { url: `http://127.0.0.1:${port}`, stop };
}
