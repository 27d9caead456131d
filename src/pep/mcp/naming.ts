// Names the client sees for upstream tools, prompts and resources. With one upstream the
// original names; with several, `<server>__<name>`. Lookup is an exact table: a name that only
// looks like an exposed one (other case, Unicode look-alikes) is not found, and an upstream name
// that differs from another by such tricks is a distinct Tool entity, authorized on its own.

export const SEPARATOR = '__';

export interface Named {
  server: string;
  name: string;
}

export class NameTable {
  private readonly byExposed = new Map<string, Named>();

  constructor(private readonly prefixed: boolean) {}

  exposedName(n: Named): string {
    return this.prefixed ? `${n.server}${SEPARATOR}${n.name}` : n.name;
  }

  /** Registers a name; a collision (two upstreams, one exposed name) is refused. */
  add(n: Named): string {
    const exposed = this.exposedName(n);
    const prior = this.byExposed.get(exposed);
    if (prior && (prior.server !== n.server || prior.name !== n.name)) {
      throw new Error(
        `"${exposed}" would name both ${prior.server}/${prior.name} and ${n.server}/${n.name}`,
      );
    }
    this.byExposed.set(exposed, n);
    return exposed;
  }

  resolve(exposed: string): Named | undefined {
    return this.byExposed.get(exposed);
  }

  clearServer(server: string): void {
    for (const [k, v] of this.byExposed) if (v.server === server) this.byExposed.delete(k);
  }
}
