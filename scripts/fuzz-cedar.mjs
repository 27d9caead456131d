// npm run fuzz:cedar -- --cases N [--seed S]: the compiled Cedar evaluator against cedar-wasm
// on N generated requests (see src/core/compiled/differential.ts). Prints the count, the rate,
// the generator's feature coverage, and any disagreement as fast-check shrunk it.
import { runDifferential, formatCoverage } from '../dist/core/compiled/differential.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const cases = arg('cases', 100_000);
const seed = arg('seed', Date.now() % 2 ** 31);
console.log(`fuzz:cedar: ${cases} cases, seed ${seed}`);
const r = runDifferential(cases, seed);
console.log(formatCoverage(r.cov));
console.log(
  `${r.cov.cases} cases in ${(r.ms / 1000).toFixed(1)} s: ${Math.round(r.cov.cases / (r.ms / 1000))} cases/s`,
);
if (r.failure) {
  console.log(`\nDISAGREEMENT (seed ${r.failure.seed}), shrunk:`);
  console.log(JSON.stringify(r.failure.mismatch, null, 2));
  console.log(r.failure.message);
  process.exit(1);
}
console.log('no disagreement');
