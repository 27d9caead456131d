// `--engine compiled|wasm` on the commands that decide: which Cedar evaluator decides.

import { Option } from 'commander';

export const engineOption = (): Option =>
  new Option('--engine <engine>', 'Cedar evaluator: compiled (cedar-wasm fallback) or wasm')
    .choices(['compiled', 'wasm'])
    .default('compiled');
