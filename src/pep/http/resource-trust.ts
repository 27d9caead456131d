// Which HTTP callers may state a resource's set membership (`parents`): the enforcement points
// the configuration names per resource type (`resources.trustedPeps`). Anyone else's parents
// are dropped by the engine, so set membership comes from entities.json or from a PEP that
// synthesizes the resource and is known to do so honestly.

import type { FastifyRequest } from 'fastify';

/** resource type → names of the PEP credentials trusted to state its parents. */
export type TrustedPeps = Record<string, string[]>;

/** The enforcement point's name when the caller authenticated as one (`req.caller`). */
function pepName(req: FastifyRequest): string | undefined {
  const caller = (req as { caller?: { kind?: string; name?: string } }).caller;
  return caller?.kind === 'pep' ? caller.name : undefined;
}

/** The hook `buildApp({ trustedFor })` takes: the types this request's caller is trusted for. */
export function trustedForRequest(peps: TrustedPeps): (req: FastifyRequest) => string[] {
  const byPep = new Map<string, string[]>();
  for (const [type, names] of Object.entries(peps))
    for (const n of names) byPep.set(n, [...(byPep.get(n) ?? []), type]);
  return (req) => {
    const name = pepName(req);
    return name === undefined ? [] : (byPep.get(name) ?? []);
  };
}
