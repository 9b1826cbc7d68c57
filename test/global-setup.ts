// Starts the local Cloudflare emulator once for the whole run; tests reach it over loopback HTTP.
import type { TestProject } from "vitest/node";
import { startEmulator } from "../emulator/server.ts";
import { ACCOUNT_ID, ACCOUNT_TOKEN, TURN_SECRET } from "./support/fixtures.ts";

export default async function setup(project: TestProject) {
  const emulator = await startEmulator({
    port: 0,
    accountId: ACCOUNT_ID,
    apiToken: ACCOUNT_TOKEN,
    turnSecret: TURN_SECRET,
  });
  project.provide("emulatorUrl", emulator.url);
  return () => emulator.close();
}

declare module "vitest" {
  export interface ProvidedContext {
    emulatorUrl: string;
  }
}
