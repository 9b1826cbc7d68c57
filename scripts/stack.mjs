// Starts the local stack: the Cloudflare emulator and the Worker under `wrangler dev`, both on
// 127.0.0.1. Used by `npm start`, and by the end-to-end tests and the benchmark.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { devSettings, toDotenv } from "./dev-defaults.mjs";

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

/** True when .dev.vars holds a real account id and token: then the stack talks to real Cloudflare. */
export function usesRealCloudflare() {
  const file = join(root, ".dev.vars");
  if (!existsSync(file)) return false;
  const text = readFileSync(file, "utf8");
  return /^\s*CLOUDFLARE_API_TOKEN\s*=\s*\S/m.test(text) && /^\s*CLOUDFLARE_ACCOUNT_ID\s*=\s*\S/m.test(text);
}

/** Spawns a child and resolves once a line of its output matches `ready`. */
export function startChild(name, command, args, { env, ready, timeoutMs = 60_000, quiet = false }) {
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
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
 * settings), quiet, persistTo, env (a wrangler.toml environment, passed as `--env`; the benchmark uses "bench").
 */
export async function startStack(options = {}) {
  const port = options.port ?? 8787;
  const children = [];
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
  };
  try {
    const wranglerArgs = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--show-interactive-dev-session=false"];
    if (options.persistTo) wranglerArgs.push("--persist-to", options.persistTo);
    if (options.env) wranglerArgs.push("--env", options.env);
    let emulatorUrl;
    if (!usesRealCloudflare()) {
      const emulatorPort = options.emulatorPort ?? (await freePort());
      const emulator = await startChild("emulator", process.execPath, ["emulator/server.ts"], {
        env: { EMULATOR_PORT: String(emulatorPort), ...options.emulatorEnv },
        ready: /emulator listening on/,
        quiet: options.quiet,
      });
      children.push(emulator);
      emulatorUrl = `http://127.0.0.1:${emulatorPort}`;
      // Dev defaults go in a file under .wrangler/ (git-ignored), not on the command line.
      mkdirSync(join(root, ".wrangler"), { recursive: true });
      const envFile = join(root, ".wrangler", `dev-defaults-${port}.env`);
      writeFileSync(envFile, toDotenv({ ...devSettings({ port, emulatorUrl }), ...options.workerEnv }), {
        mode: 0o600,
      });
      wranglerArgs.push("--env-file", envFile);
    }
    const wrangler = await startChild("wrangler", join(root, "node_modules", ".bin", "wrangler"), wranglerArgs, {
      env: { WRANGLER_SEND_METRICS: "false", CI: process.env.CI ?? "" },
      ready: /Ready on http/,
      quiet: options.quiet,
      timeoutMs: 120_000,
    });
    children.push(wrangler);
    return { url: `http://127.0.0.1:${port}`, emulatorUrl, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
