// Starts the local stack: the Cloudflare emulator and the Worker under `wrangler dev`, both on
// 127.0.0.1. Used by `npm start`, and by the end-to-end tests and the benchmark.
import { spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { devSettings } from "./dev-defaults.mjs";
import { mergeDevSettings, namesRealAccount, readDevVars, toEnvFile } from "./dev-vars.mjs";

const root = new URL("..", import.meta.url).pathname;

/** A free loopback port, chosen by the kernel. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * True when .dev.vars (`.dev.vars.<env>` if that exists, as wrangler picks it) holds a real account id and token:
 * then the stack talks to real Cloudflare, and wrangler reads that file itself.
 */
export function usesRealCloudflare(env) {
  return namesRealAccount(readDevVars(root, env)?.values);
}

/**
 * Spawns a child and resolves once a line of its output matches `ready`. It inherits this process's environment
 * plus `env`, minus the names in `unset`.
 */
export function startChild(name, command, args, { env, unset = [], ready, timeoutMs = 60_000, quiet = false }) {
  const childEnv = { ...process.env, ...env };
  for (const key of unset) delete childEnv[key];
  const child = spawn(command, args, { cwd: root, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`${name} did not become ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const onData = (chunk) => {
      const text = chunk.toString();
      if (!quiet) process.stderr.write(text.replace(/^/gm, `[${name}] `));
      if (ready.test(text)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited early with code ${code}`));
    });
  });
}

/**
 * Starts the stack and returns its URLs and a stop function.
 * options: port (Worker), emulatorPort, emulatorEnv (extra EMULATOR_* settings), workerEnv (extra Worker
 * settings), quiet, persistTo, env (a wrangler.toml environment, passed as `--env`; the benchmark uses "bench"),
 * devVars (`npm start` only: lay .dev.vars over the local defaults; the tests and benchmark leave it off so a
 * developer's .dev.vars cannot change what they measure).
 *
 * On the emulator the Worker's settings are, lowest first: the local defaults (dev-defaults.mjs), .dev.vars
 * (with devVars; its CF_API_BASE_URL and RTC_API_BASE_URL are ignored, the upstreams stay on the emulator), then
 * workerEnv. With a real account in .dev.vars, wrangler reads that file itself and the defaults play no part.
 * The result's devVars says which .dev.vars names were applied and which ignored (names only: values may be
 * secrets).
 */
export async function startStack(options = {}) {
  const port = options.port ?? 8787;
  const children = [];
  let envFile;
  const stop = async () => {
    for (const child of children.reverse()) {
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        await new Promise((r) => {
          const t = setTimeout(() => {
            child.kill("SIGKILL");
            r();
          }, 5_000);
          child.once("exit", () => {
            clearTimeout(t);
            r();
          });
        });
      }
    }
    // The file holds the settings, .dev.vars secrets among them: it lives no longer than the stack.
    if (envFile) rmSync(envFile, { force: true });
  };
  try {
    // src/dev.ts: the deployed Worker plus the local-development routes (GET /v1/dev/jwt).
    const wranglerArgs = [
      "dev",
      "src/dev.ts",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--show-interactive-dev-session=false",
      // GET /__scheduled?cron=... runs the cron on demand (README, "Protecting the bill").
      "--test-scheduled",
    ];
    if (options.persistTo) wranglerArgs.push("--persist-to", options.persistTo);
    if (options.env) wranglerArgs.push("--env", options.env);
    let emulatorUrl;
    let devVars;
    const unset = [];
    if (!usesRealCloudflare(options.env)) {
      const emulatorPort = options.emulatorPort ?? (await freePort());
      emulatorUrl = `http://127.0.0.1:${emulatorPort}`;
      const file = options.devVars ? readDevVars(root, options.env) : undefined;
      const { settings, fromDevVars, pinned } = mergeDevSettings({
        defaults: devSettings({ port, emulatorUrl }),
        devVars: file?.values,
        workerEnv: options.workerEnv,
      });
      if (file) devVars = { path: file.path, applied: fromDevVars, ignored: pinned };
      const envText = toEnvFile(settings); // throws, naming the setting, before anything starts
      const emulator = await startChild("emulator", process.execPath, ["emulator/server.ts"], {
        env: {
          EMULATOR_PORT: String(emulatorPort),
          // The emulator accepts the account and token the Worker is given, .dev.vars ones included.
          EMULATOR_ACCOUNT_ID: settings.CLOUDFLARE_ACCOUNT_ID,
          EMULATOR_API_TOKEN: settings.CLOUDFLARE_API_TOKEN,
          ...options.emulatorEnv,
        },
        ready: /emulator listening on/,
        quiet: options.quiet,
      });
      children.push(emulator);
      // The settings go in a file under .wrangler/ (git-ignored), not on the command line. Given --env-file,
      // wrangler reads neither .dev.vars nor .env, but it does let its own environment override the file's
      // names; so they are taken out of its environment, and the file alone decides.
      mkdirSync(join(root, ".wrangler"), { recursive: true });
      envFile = join(root, ".wrangler", `dev-defaults-${port}.env`);
      writeFileSync(envFile, envText, { mode: 0o600 });
      wranglerArgs.push("--env-file", envFile);
      unset.push(...Object.keys(settings));
    } else if (options.devVars) {
      const file = readDevVars(root, options.env);
      devVars = { path: file.path, applied: Object.keys(file.values).sort(), ignored: [] };
    }
    const wrangler = await startChild("wrangler", join(root, "node_modules", ".bin", "wrangler"), wranglerArgs, {
      env: { WRANGLER_SEND_METRICS: "false", CI: process.env.CI ?? "" },
      unset,
      ready: /Ready on http/,
      quiet: options.quiet,
      timeoutMs: 120_000,
    });
    children.push(wrangler);
    return { url: `http://127.0.0.1:${port}`, emulatorUrl, devVars, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
