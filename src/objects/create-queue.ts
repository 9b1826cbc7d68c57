// One create at a time for the whole account. Serializing is what lets a create know which keys existed
// before it: while it runs, no other turnvend create can add one. Waiting is bounded in length and in time,
// since each waiter holds a Worker request open.
import { ACCOUNT_STATE_RETRY_AFTER_SECONDS } from "../constants";
import { Failure } from "../errors";

export class CreateQueue {
  private busy = false;
  private readonly waiters: (() => void)[] = [];

  constructor(
    private readonly maxWaiting: number,
    private readonly maxWaitMs: number,
  ) {}

  /** Runs `work` when every create before it has finished; refuses with 503 when the line is too long or too slow. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.busy) await this.waitForTurn();
    else this.busy = true;
    try {
      return await work();
    } finally {
      // The next waiter inherits `busy`, so nobody arriving meanwhile can jump the line.
      const next = this.waiters.shift();
      if (next) next();
      else this.busy = false;
    }
  }

  private waitForTurn(): Promise<void> {
    if (this.waiters.length >= this.maxWaiting) return Promise.reject(tooBusy());
    return new Promise<void>((resolve, reject) => {
      const turn = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const at = this.waiters.indexOf(turn);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(tooBusy());
      }, this.maxWaitMs);
      this.waiters.push(turn);
    });
  }
}

function tooBusy(): Failure {
  return new Failure(
    "account_state_unavailable",
    "turnvend is busy creating other keys for this account; try again shortly",
    {
      retryAfterSeconds: ACCOUNT_STATE_RETRY_AFTER_SECONDS,
    },
  );
}
