// Tells the console's streams that the audit log may have grown. It costs the decision path one
// function call: an after-effect (run once the record is durable) that sets a flag; waiting
// streams are woken at most every 100 ms, and then read the log themselves at their own pace.
// Records this node did not decide (other cluster nodes, isolation events) are picked up by the
// streams' periodic look (every second), so nothing depends on the wake-up being seen.

import type { AfterEffect, DecisionService } from '../../../decision/service.js';

export class LogFeed {
  private waiters: (() => void)[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly coalesceMs = 100,
    private readonly pollMs = 1000,
  ) {}

  /** Subscribes to a decision service: each final decision wakes the waiting streams. */
  attach(decisions: DecisionService): void {
    const effect: AfterEffect = { name: 'console-feed', decided: () => this.notify() };
    decisions.afterEffects.push(effect);
  }

  /** Something was appended: wake the waiters soon (coalesced). */
  notify(): void {
    if (this.timer || this.waiters.length === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    }, this.coalesceMs);
    this.timer.unref();
  }

  /** Resolves after the next append (coalesced), or after the poll interval at the latest. */
  next(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve();
      };
      const timer = setTimeout(done, this.pollMs);
      timer.unref();
      this.waiters.push(done);
    });
  }
}
