// turnutils_uclient (Debian's coturn package): a command-line TURN client. It exits 0 once its
// allocations succeed and its test packets went through the relay, and non-zero ("Cannot complete
// Allocation") when the server refuses the credential.
import { spawn } from "node:child_process";

/** The longest one uclient run may take; a good one takes a few seconds. */
const UCLIENT_TIMEOUT_MS = 30_000;

/** Allocates on 127.0.0.1:`port` with `username`/`credential`, over UDP. Resolves { code, output }. */
export function uclientAllocate({ port, username, credential }) {
  const args = [
    "-u",
    username,
    "-w",
    credential,
    "-p",
    String(port),
    "-y", // client-to-client: two allocations that send to each other through the relay
    "-c", // no RTCP-style second connection: one allocation pair is the proof
    "-n",
    "1", // one message each way
    "127.0.0.1",
  ];
  return new Promise((resolve, reject) => {
    const child = spawn("turnutils_uclient", args, {
      stdio: ["ignore", "pipe", "pipe"],
      timeout: UCLIENT_TIMEOUT_MS,
      killSignal: "SIGKILL",
    });
    const chunks = [];
    child.stdout.on("data", (c) => chunks.push(c));
    child.stderr.on("data", (c) => chunks.push(c));
    child.on("error", (err) =>
      reject(err.code === "ENOENT" ? new Error("turnutils_uclient not found: install Debian's coturn package") : err),
    );
    child.on("close", (code, signal) => resolve({ code, signal, output: Buffer.concat(chunks).toString("utf8") }));
  });
}
