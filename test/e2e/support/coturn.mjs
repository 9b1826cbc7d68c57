// A local coturn (Debian's `turnserver`) on 127.0.0.1 only, checking TURN REST credentials
// (draft-uberti-behave-turn-rest-00) with the same shared secret the emulator signs with.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeOnExit } from "./exit-guard.mjs";

/** How long coturn may take to answer its first STUN request: it starts in well under a second. */
const COTURN_READY_TIMEOUT_MS = 15_000;
/** Pause between readiness probes. */
const PROBE_INTERVAL_MS = 50;
/** STUN's fixed magic cookie (RFC 5389 §6). */
const STUN_MAGIC_COOKIE = 0x2112a442;

/**
 * A loopback port free for both TCP and UDP: coturn listens on both with the same number. The kernel
 * picks the TCP one; the UDP bind proves it is free there too, else another is tried.
 */
export async function freeTcpUdpPort() {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise((resolve, reject) => {
      const srv = createServer();
      srv.on("error", reject);
      srv.listen(0, "127.0.0.1", () => {
        const { port } = srv.address();
        srv.close(() => resolve(port));
      });
    });
    const udpFree = await new Promise((resolve) => {
      const sock = createSocket("udp4");
      sock.once("error", () => resolve(false));
      sock.bind(port, "127.0.0.1", () => sock.close(() => resolve(true)));
    });
    if (udpFree) return port;
  }
  throw new Error("no loopback port free for both TCP and UDP");
}

/**
 * Starts coturn and resolves once it answers a STUN Binding request over UDP and over TCP.
 * Returns { port, version, log(), stop() }; log() is everything coturn printed so far.
 */
export async function startCoturn({ port, secret, realm = "turnvend.test" }) {
  const workDir = mkdtempSync(join(tmpdir(), "turnvend-e2e-coturn-"));
  removeOnExit(workDir);
  const args = [
    "-n", // no configuration file: Debian's /etc/turnserver.conf must not leak in
    "--listening-ip=127.0.0.1",
    "--relay-ip=127.0.0.1",
    `--listening-port=${port}`,
    "--use-auth-secret",
    `--static-auth-secret=${secret}`,
    `--realm=${realm}`,
    "--no-tls",
    "--no-dtls",
    "--no-cli",
    "--allow-loopback-peers", // the relay address is 127.0.0.1, and turnutils_uclient's peers are on loopback
    "--log-file=stdout",
    "--simple-log",
    "--verbose", // logs each ALLOCATE with its username, which the tests look for
    `--pidfile=${join(workDir, "turnserver.pid")}`,
    `--userdb=${join(workDir, "turndb")}`, // not /var/lib/turn: nothing outside the run's temp dir
  ];
  const child = spawn("turnserver", args, { stdio: ["ignore", "pipe", "pipe"] });
  const chunks = [];
  child.stdout.on("data", (c) => chunks.push(c));
  child.stderr.on("data", (c) => chunks.push(c));
  const log = () => Buffer.concat(chunks).toString("utf8");
  let exited = null;
  child.on("exit", (code, signal) => {
    exited = { code, signal };
  });
  child.on("error", (err) => {
    exited = { error: err.code === "ENOENT" ? "turnserver not found: install Debian's coturn package" : err.message };
  });
  const stop = async () => {
    if (exited === null && child.pid !== undefined) {
      child.kill("SIGTERM");
      await new Promise((resolve) => {
        const timer = setTimeout(() => {
          child.kill("SIGKILL");
          resolve();
        }, 5_000);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    rmSync(workDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + COTURN_READY_TIMEOUT_MS;
  try {
    for (const probe of [stunBindingUdp, stunBindingTcp]) {
      for (;;) {
        if (exited) throw new Error(`turnserver exited early (${JSON.stringify(exited)}):\n${log()}`);
        if (await probe(port)) break;
        if (Date.now() > deadline)
          throw new Error(`turnserver did not answer STUN within ${COTURN_READY_TIMEOUT_MS} ms:\n${log()}`);
        await new Promise((r) => setTimeout(r, PROBE_INTERVAL_MS));
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const version = /Version (Coturn-[^\s]+)/.exec(log())?.[1] ?? "unknown";
  return { port, version, log, stop };
}

function bindingRequest() {
  const id = randomBytes(12);
  const msg = Buffer.alloc(20);
  msg.writeUInt16BE(0x0001, 0); // Binding request
  msg.writeUInt16BE(0, 2); // no attributes
  msg.writeUInt32BE(STUN_MAGIC_COOKIE, 4);
  id.copy(msg, 8);
  return { msg, id };
}

/** True when `reply` is a Binding success response to transaction `id`. */
function isBindingSuccess(reply, id) {
  return reply.length >= 20 && reply.readUInt16BE(0) === 0x0101 && reply.subarray(8, 20).equals(id);
}

function stunBindingUdp(port) {
  return new Promise((resolve) => {
    const { msg, id } = bindingRequest();
    const sock = createSocket("udp4");
    const done = (ok) => {
      clearTimeout(timer);
      sock.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 500);
    sock.on("error", () => done(false));
    sock.on("message", (reply) => done(isBindingSuccess(reply, id)));
    sock.send(msg, port, "127.0.0.1");
  });
}

function stunBindingTcp(port) {
  return new Promise((resolve) => {
    const { msg, id } = bindingRequest();
    const sock = connect({ host: "127.0.0.1", port });
    let received = Buffer.alloc(0);
    const done = (ok) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 500);
    sock.on("error", () => done(false));
    sock.on("connect", () => sock.write(msg));
    sock.on("data", (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 20) done(isBindingSuccess(received, id));
    });
  });
}
