// Every process the e2e run starts dies with it, and its temporary files go. The happy path stops each
// process through its own stop function; this guard covers the rest (a crash, a failing hook, Ctrl+C,
// SIGTERM from CI) by killing, by pid, every living descendant of this process (wrangler's workerd and
// Chromium's helpers included) and removing the paths registered with removeOnExit().
import { readdirSync, readFileSync, rmSync } from "node:fs";

const pathsToRemove = new Set();

/** Removes `path` (file or directory) when this process exits, however it exits. */
export function removeOnExit(path) {
  pathsToRemove.add(path);
}

/** Pids of every living descendant of `root`, read from /proc (Linux: CI and the dev container). */
export function descendants(root = process.pid) {
  const parentOf = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // /proc/<pid>/stat: "pid (comm) state ppid ...": comm may hold spaces, so split after the last ")".
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parentOf.set(Number(entry), ppid);
    } catch {
      // The process ended while we looked.
    }
  }
  const found = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift();
    for (const [pid, ppid] of parentOf) {
      if (ppid === parent) {
        found.push(pid);
        queue.push(pid);
      }
    }
  }
  return found;
}

/** True while `pid` exists (and is not a zombie waiting for its parent). */
export function isAlive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Sends `signal` to every descendant, collected first so none escapes by being reparented midway. */
export function killDescendants(signal = "SIGKILL") {
  const pids = descendants();
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
  return pids;
}

/**
 * Runs `stop`, then waits (up to 10 s) for every process started since `started` (descendants() taken before)
 * to exit. Any left are a cleanup bug: killed, and their pids returned for the test to report. A process told
 * to stop may take a moment to exit, so this waits for it to leave, never a fixed sleep.
 */
export async function stopAndCollectLeftovers(started, stop) {
  await stop();
  const stillRunning = () => [...new Set([...started, ...descendants()])].filter(isAlive);
  const deadline = Date.now() + 10_000;
  while (stillRunning().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const left = stillRunning();
  for (const pid of left) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Ended in the meantime.
    }
  }
  return left;
}

let installed = false;

/** Kills leftover processes and removes registered paths when this process exits for any reason. */
export function installExitGuard() {
  if (installed) return;
  installed = true;
  process.on("exit", () => {
    killDescendants("SIGKILL");
    for (const path of pathsToRemove) rmSync(path, { recursive: true, force: true });
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.once(signal, () => {
      killDescendants("SIGKILL");
      process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1));
    });
  }
}
