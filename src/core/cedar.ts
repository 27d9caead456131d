// The one place that loads the official Cedar engine (WebAssembly build for Node). Loading it
// compiles a 4 MB WebAssembly module, a large part of a short command's start-up, while a
// policy set from the compile cache whose policies all compile never calls it: so it is
// loaded on the first use of any of its functions, not on import. The Node build is CommonJS,
// so `require` returns the same instance an `import` would.

import { createRequire } from 'node:module';

type CedarWasm = typeof import('@cedar-policy/cedar-wasm/nodejs');

let loaded: CedarWasm | undefined;

/** Whether cedar-wasm has been loaded in this process (for tests of what a command loads). */
export const cedarLoaded = (): boolean => loaded !== undefined;

function load(): CedarWasm {
  loaded ??= createRequire(import.meta.url)('@cedar-policy/cedar-wasm/nodejs') as CedarWasm;
  return loaded;
}

/** cedar-wasm's API; the module is loaded when one of its members is first read. */
export const cedar: CedarWasm = new Proxy({} as CedarWasm, {
  get: (_, name) => Reflect.get(load(), name) as unknown,
  has: (_, name) => Reflect.has(load(), name),
});

export type {
  AuthorizationAnswer,
  DetailedError,
  Expr,
  PatternElem,
  PolicyJson,
  EntityUidJson,
} from '@cedar-policy/cedar-wasm/nodejs';
