// node:fs as Node 22 has it, for the MCP conformance suite on Node 20: Node 20's fs has no
// globSync, so the `glob` package's takes its place (see conformance-hooks.ts).

export * from 'node:fs';
export { default } from 'node:fs';
export { globSync } from 'glob';
