// Structured logs: one JSON object per line with stable keys. Callers pass ids and outcomes only;
// secrets are never handed to this function.

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export function log(event: string, fields: LogFields = {}): void {
  console.log(JSON.stringify({ time: new Date().toISOString(), event, ...fields }));
}
