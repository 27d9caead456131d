// The embedded backend's change bus: in this process only. Another process on the same data
// directory (the CLI beside a server) is noticed through SQLite's data_version instead.

import { EventEmitter } from 'node:events';
import type { ChangeBus, ChangeTopic } from '../ports.js';

export class LocalChangeBus implements ChangeBus {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  async publish(topic: ChangeTopic, message: string): Promise<void> {
    // A subscriber's failure is its own: the publisher's write has happened.
    for (const h of this.emitter.listeners(topic) as ((m: string) => void)[])
      try {
        h(message);
      } catch {
        /* the subscriber reports its own errors */
      }
  }

  subscribe(topic: ChangeTopic, handler: (message: string) => void): () => void {
    this.emitter.on(topic, handler);
    return () => this.emitter.off(topic, handler);
  }
}
