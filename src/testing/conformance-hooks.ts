// Module hooks that hand the MCP conformance suite conformance-fs.js for `fs`, so the published
// package runs unchanged on Node 20 (it imports fs.globSync, new in Node 22).

interface ResolveContext {
  parentURL?: string;
}
type NextResolve = (specifier: string, context: ResolveContext) => Promise<unknown>;

export async function resolve(
  specifier: string,
  context: ResolveContext,
  next: NextResolve,
): Promise<unknown> {
  if (
    (specifier === 'fs' || specifier === 'node:fs') &&
    context.parentURL?.includes('/@modelcontextprotocol/conformance/')
  )
    return { url: new URL('./conformance-fs.js', import.meta.url).href, shortCircuit: true };
  return next(specifier, context);
}
