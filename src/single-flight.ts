// Concurrent work for the same thing shares one run, per isolate: the first caller starts it and the
// others, arriving while it runs, await the same promise. The entry is gone once the run settles, so a
// later caller starts afresh. A joiner that must not wait on another request forever bounds its own wait.

const flights = new Map<string, Promise<unknown>>();

/** The run in flight under `key`, if any. */
export function inFlight<T>(key: string): Promise<T> | undefined {
  return flights.get(key) as Promise<T> | undefined;
}

/** Starts `work` under `key`; callers arriving before it settles get the same promise from `inFlight`. */
export function startFlight<T>(key: string, work: () => Promise<T>): Promise<T> {
  const run = work().finally(() => {
    if (flights.get(key) === run) flights.delete(key);
  });
  flights.set(key, run);
  return run;
}
