// How many failure reports one decision takes (POST /v1/decisions/:id/failure). An allowed call
// fails once; a decision the remote SDK cached (@cache_ttl) may stand for a few calls. Without a
// cap, a caller allowed one action could append events to the log without end: with one, the
// events are bounded by the decisions the caller can obtain, each already a record of its own.
// Counted per node, in memory (the count is a bound, not a record: the log holds the events).

/** Failure reports recorded for one decision; the next is refused (429). */
export const FAILURES_PER_DECISION = 10;
/** Decisions whose count is kept; the oldest counted is dropped past this. */
export const FAILURE_COUNTS_KEPT = 10_000;

export class FailureReports {
  /** decision id → reports taken; insertion order is the order dropped in. */
  private readonly taken = new Map<string, number>();

  constructor(
    readonly perDecision = FAILURES_PER_DECISION,
    private readonly kept = FAILURE_COUNTS_KEPT,
  ) {}

  /**
   * Takes one report for `decisionId` when it has room, false when it is full. Synchronous, so
   * concurrent reports for one decision cannot both take the last place.
   */
  take(decisionId: string): boolean {
    const n = this.taken.get(decisionId) ?? 0;
    if (n >= this.perDecision) return false;
    this.taken.set(decisionId, n + 1);
    if (n === 0 && this.taken.size > this.kept) {
      // Dropping a count lets that decision be reported on again, but only once `kept` other
      // decisions have been: the events stay a small multiple of the decisions reported on.
      const oldest = this.taken.keys().next().value as string;
      this.taken.delete(oldest);
    }
    return true;
  }
}
