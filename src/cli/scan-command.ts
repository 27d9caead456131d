// `cordon scan [--json] [FILE|-]`: the content inspector on a file or stdin, as decisions see
// it. Findings are printed with their positions and types, never the matched text.

import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UserError } from './errors.js';

async function readAll(file: string | undefined): Promise<string> {
  if (file && file !== '-') {
    try {
      return await readFile(file, 'utf8');
    } catch (e) {
      throw new UserError(`cannot read ${file}: ${(e as Error).message}`);
    }
  }
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** 1-based line and column of a UTF-16 offset. */
function position(text: string, offset: number): string {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return `${line}:${offset - start + 1}`;
}

export function registerScanCommand(program: Command, exit: (code: number) => void): void {
  program
    .command('scan')
    .description('inspect a file (or stdin) for secrets, PII and prompt injection')
    .argument('[file]', 'the file to scan; - or nothing for stdin')
    .option('--json', 'print {"findings":[{detector,type,start,end,score}]}')
    .action(async (file: string | undefined, o: { json?: boolean }) => {
      const text = await readAll(file);
      const { Inspector } = await import('../inspect/inspector.js');
      const { findings, facts } = await new Inspector().inspect(text);
      if (o.json) {
        const out = findings.map(({ detector, type, start, end, score }) => ({
          detector,
          type,
          start,
          end,
          score: Math.round(score * 100) / 100,
        }));
        process.stdout.write(`${JSON.stringify({ findings: out })}\n`);
      } else {
        for (const f of findings)
          process.stdout.write(
            `${position(text, f.start)}\t${f.detector}\t${f.type}\t${f.score.toFixed(2)}\t(${f.end - f.start} chars)\n`,
          );
        process.stdout.write(
          `${findings.length} finding${findings.length === 1 ? '' : 's'}; context.content ${JSON.stringify(facts)}\n`,
        );
      }
      exit(findings.length > 0 ? 1 : 0);
    });
}
