// Captures what the Worker writes to the console: the service and the tests share one isolate.
import { vi } from "vitest";

export type LogLine = Record<string, unknown> & { event?: string };

/** Starts capturing every console method. `raw` holds each call's arguments joined; `json` the parsed lines. */
export function captureConsole() {
  const methods = ["log", "info", "warn", "error", "debug"] as const;
  const raw: string[] = [];
  const spies = methods.map((m) =>
    vi.spyOn(console, m).mockImplementation((...args: unknown[]) => {
      raw.push(args.map((a) => (typeof a === "string" ? a : safeStringify(a))).join(" "));
    }),
  );
  return {
    raw,
    json(): LogLine[] {
      return raw.flatMap((line) => {
        try {
          const parsed: unknown = JSON.parse(line);
          return typeof parsed === "object" && parsed !== null ? [parsed as LogLine] : [];
        } catch {
          return [];
        }
      });
    },
    restore() {
      for (const s of spies) s.mockRestore();
    },
  };
}

function safeStringify(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}\n${value.stack ?? ""}`;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
