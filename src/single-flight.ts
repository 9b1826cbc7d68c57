// Concurrent work for the same thing shares one run, per isolate: the first caller starts it and the
// others, arriving while it runs, wait for the same result. A run belongs to the request that started it;
// if that request is cancelled its run may never settle, so joiners wait for a bounded time, and a run
// older than that bound is no longer joined: the next caller starts afresh.

interface Flight {
  run: Promise<unknown>;
  startedAt: number;
}

const flights = new Map<string, Flight>();

/**
 * The result of the run in flight under `key` if one started within `maxAgeMs`, else of `work`, started
 * now. `onTimeout` is thrown to a joiner whose run has not settled within `maxAgeMs` of its start.
 */
export function shareFlight<T>(
  key: string,
  maxAgeMs: number,
  work: () => Promise<T>,
  onTimeout: () => Error,
): Promise<T> {
  const flight = flights.get(key);
  const now = Date.now();
  if (flight && now - flight.startedAt < maxAgeMs) {
    return bounded(flight.run as Promise<T>, flight.startedAt + maxAgeMs - now, onTimeout);
  }
  const run = work().finally(() => {
    if (flights.get(key)?.run === run) flights.delete(key);
  });
  flights.set(key, { run, startedAt: now });
  return run;
}

/** `run`'s result, or `onTimeout` thrown when it has not settled within `ms` (run itself goes on). */
export function bounded<T>(run: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), Math.max(0, ms));
  });
  return Promise.race([run, deadline]).finally(() => clearTimeout(timer));
}
