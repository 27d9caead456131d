// The one place that imports the official Cedar engine (WebAssembly build for Node).
export * as cedar from '@cedar-policy/cedar-wasm/nodejs';
export type {
  AuthorizationAnswer,
  DetailedError,
  Expr,
  PatternElem,
  PolicyJson,
  EntityUidJson,
} from '@cedar-policy/cedar-wasm/nodejs';
