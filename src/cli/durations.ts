// Durations on the command line: 90s, 15m, 24h, 7d, or plain seconds.

const UNIT = { s: 1, m: 60, h: 3600, d: 86400 } as const;

export function parseDurationSeconds(text: string): number | undefined {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * UNIT[(m[2] || 's') as keyof typeof UNIT];
}
