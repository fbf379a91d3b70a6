// When to restart a crashed server: exponential backoff (1 s, 2 s, 4 s ... 60 s), reset
// once a server has stayed up a minute, giving up after ten quick crashes in a row. Pure:
// the clock is passed in.

export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
  /** A server that ran this long before crashing starts the count again. */
  healthyMs: number;
  /** Quick crashes in a row before giving up. */
  maxAttempts: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = {
  baseMs: 1000,
  maxMs: 60_000,
  healthyMs: 60_000,
  maxAttempts: 10,
};

export class Backoff {
  private attempts = 0;
  private startedAt: number | undefined;

  private readonly options: BackoffOptions;

  constructor(options: BackoffOptions = DEFAULT_BACKOFF) {
    this.options = options;
  }

  /** The server started (or restarted) at `now`. */
  started(now: number): void {
    this.startedAt = now;
  }

  /** The server stopped unexpectedly at `now`: the delay before restarting, or null to give up. */
  crashed(now: number): number | null {
    if (this.startedAt !== undefined && now - this.startedAt >= this.options.healthyMs) {
      this.attempts = 0;
    }
    this.startedAt = undefined;
    this.attempts += 1;
    if (this.attempts > this.options.maxAttempts) {
      return null;
    }
    return Math.min(this.options.baseMs * 2 ** (this.attempts - 1), this.options.maxMs);
  }

  /** Crashes in the current streak. */
  get streak(): number {
    return this.attempts;
  }

  reset(): void {
    this.attempts = 0;
    this.startedAt = undefined;
  }
}
