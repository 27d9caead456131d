// The child process of isolated-compile.ts: policy sources (JSON) on stdin, their analysis
// (JSON) on stdout. Started with --no-turbo-inlining, which is this process's own setting.

import { analyzePolicySources, type PolicySources } from '../core/compile.js';

const chunks: Buffer[] = [];
for await (const c of process.stdin) chunks.push(c as Buffer);
const src = JSON.parse(Buffer.concat(chunks).toString()) as PolicySources;
process.stdout.write(JSON.stringify(analyzePolicySources(src)));
