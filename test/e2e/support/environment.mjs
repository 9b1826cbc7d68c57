// The e2e environment: a local coturn, the local stack (emulator + `wrangler dev`) whose emulator signs
// credentials with coturn's secret, a tiny "web app" on a second allowed origin, and Debian's Chromium.
// Everything listens on 127.0.0.1, on ports the kernel picks, with a fresh secret and fresh local
// state per run, so a developer's `npm start` (port 8787, .wrangler/state) is never touched.
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { DEV_ACCOUNT_ID, DEV_CALLER_TOKEN } from "../../../scripts/dev-defaults.mjs";
import { freePort, startStack } from "../../../scripts/stack.mjs";
import { freeTcpUdpPort, startCoturn } from "./coturn.mjs";
import { installExitGuard, removeOnExit } from "./exit-guard.mjs";

export const CHROMIUM_PATH = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--no-sandbox", // CI containers run as root, where Chromium's sandbox cannot start
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Starts everything and prepares turnvend to vend: a TURN key created through the admin API and made
 * the active key. Returns handles and one stop() that ends every process started here, and addStack() for
 * another turnvend (its own emulator and `wrangler dev`) with settings of its own, sharing coturn and the
 * browser. `coturn: false` leaves coturn out (for tests that relay nothing); `workerEnv` adds Worker settings;
 * it may be a function of coturn's URLs and secret.
 */
export async function startEnvironment({ coturn: withCoturn = true, workerEnv = {} } = {}) {
  installExitGuard();
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(`${CHROMIUM_PATH} not found: install Debian's chromium package (.ci/run does)`);
  const quiet = !process.env.E2E_VERBOSE;
  const turnSecret = randomBytes(24).toString("base64url");
  const [workerPort, appPort, coturnPort] = [await freePort(), await freePort(), await freeTcpUdpPort()];
  const turnUrls = [`turn:127.0.0.1:${coturnPort}?transport=udp`, `turn:127.0.0.1:${coturnPort}?transport=tcp`];
  const workerUrl = `http://127.0.0.1:${workerPort}`;
  const appOrigin = `http://127.0.0.1:${appPort}`;
  const persistDir = mkdtempSync(join(tmpdir(), "turnvend-e2e-state-"));
  removeOnExit(persistDir);
  // startStack writes the Worker's dev settings here and leaves the file; one per run would pile up.
  const stackEnvFile = new URL(`../../../.wrangler/dev-defaults-${workerPort}.env`, import.meta.url).pathname;
  removeOnExit(stackEnvFile);

  const stops = [];
  const stop = async () => {
    // Reverse order of start; every stop runs even if an earlier one throws.
    const errors = [];
    for (const fn of stops.reverse()) {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    }
    stops.length = 0;
    rmSync(persistDir, { recursive: true, force: true });
    rmSync(stackEnvFile, { force: true });
    if (errors.length > 0) throw new AggregateError(errors, "e2e cleanup failed");
  };

  try {
    const coturn = withCoturn ? await startCoturn({ port: coturnPort, secret: turnSecret }) : undefined;
    if (coturn) stops.push(coturn.stop);

    const appServer = await startAppServer(appPort);
    stops.push(() => new Promise((resolve) => appServer.close(() => resolve())));

    const extra = (settings) => (typeof settings === "function" ? settings({ turnUrls, turnSecret }) : settings);
    const stack = await startStack({
      port: workerPort,
      quiet,
      persistTo: persistDir,
      emulatorEnv: { EMULATOR_TURN_SECRET: turnSecret, EMULATOR_TURN_URLS: turnUrls.join(",") },
      workerEnv: {
        ALLOWED_ORIGINS: [workerUrl, `http://localhost:${workerPort}`, appOrigin].join(","),
        ...extra(workerEnv),
      },
    });
    stops.push(stack.stop);

    const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    stops.push(() => browser.close());

    const keyId = await createActiveKey(workerUrl);

    /** Another turnvend with its own settings, its own emulator and state, ready to vend; stopped by stop(). */
    const addStack = async (settings) => {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const dir = mkdtempSync(join(tmpdir(), "turnvend-e2e-state-"));
      removeOnExit(dir);
      const envFile = new URL(`../../../.wrangler/dev-defaults-${port}.env`, import.meta.url).pathname;
      removeOnExit(envFile);
      const more = await startStack({
        port,
        quiet,
        persistTo: dir,
        emulatorEnv: { EMULATOR_TURN_SECRET: turnSecret, EMULATOR_TURN_URLS: turnUrls.join(",") },
        workerEnv: { ALLOWED_ORIGINS: [url, `http://localhost:${port}`].join(","), ...extra(settings) },
      });
      stops.push(async () => {
        await more.stop();
        rmSync(dir, { recursive: true, force: true });
        rmSync(envFile, { force: true });
      });
      return { workerUrl: url, emulatorUrl: more.emulatorUrl, keyId: await createActiveKey(url) };
    };
    return {
      workerUrl,
      emulatorUrl: stack.emulatorUrl,
      appOrigin,
      turnSecret,
      turnUrls,
      coturn,
      browser,
      keyId,
      addStack,
      stop,
    };
  } catch (err) {
    await stop().catch(() => {});
    if (quiet && err instanceof Error) err.message += " (run with E2E_VERBOSE=1 to see the stack's output)";
    throw err;
  }
}

/** Admin API calls as the dev caller (every scope). */
export async function adminFetch(workerUrl, path, init = {}) {
  const res = await fetch(`${workerUrl}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${DEV_CALLER_TOKEN}`, "content-type": "application/json", ...init.headers },
  });
  const body = await res.json().catch(() => null);
  return { status: res.status, body };
}

/** Creates a TURN key through turnvend's v4 API and makes it the key that vends. */
async function createActiveKey(workerUrl) {
  const created = await adminFetch(workerUrl, `/client/v4/accounts/${DEV_ACCOUNT_ID}/calls/turn_keys`, {
    method: "POST",
    body: JSON.stringify({ name: "e2e" }),
  });
  if (created.status !== 200 && created.status !== 201)
    throw new Error(`creating a TURN key answered ${created.status}: ${JSON.stringify(created.body)}`);
  const keyId = created.body.result.uid;
  const active = await adminFetch(workerUrl, "/v1/active-key", {
    method: "PUT",
    body: JSON.stringify({ key_id: keyId }),
  });
  if (active.status !== 200 || active.body.result.key_id !== keyId) {
    throw new Error(`PUT /v1/active-key answered ${active.status}: ${JSON.stringify(active.body)}`);
  }
  return keyId;
}

/** A blank page on its own origin: the "web app" that embeds turnvend from another origin. */
function startAppServer(port) {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    res.end("<!doctype html><meta charset=utf-8><title>e2e app</title><p>An app on an origin in ALLOWED_ORIGINS.</p>");
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}
