// Turns character offsets reported by Cedar into the `file:line:col message` form editors jump to.

export interface LocatedError {
  file: string;
  line?: number;
  col?: number;
  message: string;
}

export function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, col: end - lineStart + 1 };
}

export function formatLocated(e: LocatedError): string {
  const where = e.line === undefined ? e.file : `${e.file}:${e.line}:${e.col ?? 1}`;
  return `${where} ${e.message}`;
}

/** Cedar's DetailedError, flattened with its help text and related errors. */
export interface CedarDetailedError {
  message: string;
  help?: string | null;
  sourceLocations?: { start: number; end: number; label?: string | null }[];
  related?: CedarDetailedError[];
}

export function locateCedarError(file: string, text: string, e: CedarDetailedError): LocatedError {
  const loc = e.sourceLocations?.[0];
  const parts = [e.message];
  if (loc?.label) parts.push(`(${loc.label})`);
  if (e.help) parts.push(`help: ${e.help}`);
  for (const r of e.related ?? []) parts.push(`; ${r.message}`);
  const message = parts.join(' ');
  if (!loc) return { file, message };
  return { file, ...lineCol(text, loc.start), message };
}
