import { serve } from "@hono/node-server";
import { pathToFileURL } from "node:url";
import { createEmulator } from "./app.ts";
import type { Emulator, EmulatorOptions } from "./app.ts";

/** Loopback only: the control routes have no auth, so nothing off this machine may reach them. */
const DEFAULT_HOST = "127.0.0.1";
const DEFAULT_PORT = 8788;

export type RunningEmulator = { url: string; port: number; close(): Promise<void>; emulator: Emulator };

/** Serves a fresh emulator over HTTP; `port: 0` (the default) picks a free port. */
export async function startEmulator(
  opts: EmulatorOptions & { port?: number | undefined; host?: string | undefined } = {},
): Promise<RunningEmulator> {
  const { port = 0, host = DEFAULT_HOST, ...emulatorOptions } = opts;
  const emulator = createEmulator(emulatorOptions);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: emulator.fetch, port, hostname: host }, (info) => {
      const url = `http://${host}:${info.port}`;
      const close = (): Promise<void> =>
        new Promise((done) => {
          // Hung requests (fault injection) would keep close() waiting forever; drop their sockets.
          if ("closeAllConnections" in server) server.closeAllConnections();
          server.close(() => done());
        });
      resolve({ url, port: info.port, close, emulator });
    });
    server.once("error", reject);
  });
}

function envPort(raw: string | undefined): number {
  if (raw === undefined || raw === "") return DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new Error("EMULATOR_PORT must be an integer in [0, 65535]");
  }
  return port;
}

async function main(): Promise<void> {
  const env = process.env;
  const running = await startEmulator({
    port: envPort(env["EMULATOR_PORT"]),
    accountId: env["EMULATOR_ACCOUNT_ID"] || undefined,
    apiToken: env["EMULATOR_API_TOKEN"] || undefined,
    analyticsToken: env["EMULATOR_ANALYTICS_TOKEN"] || undefined,
    turnSecret: env["EMULATOR_TURN_SECRET"] || undefined,
    turnUrls: env["EMULATOR_TURN_URLS"]
      ? env["EMULATOR_TURN_URLS"]
          .split(",")
          .map((url) => url.trim())
          .filter((url) => url !== "")
      : undefined,
  });
  console.log(`emulator listening on ${running.url}`);
  const stop = (): void => {
    void running.close().then(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
