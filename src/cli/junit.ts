// `cordon policy test --junit FILE`: the results as JUnit XML, the format CI systems read
// (one testsuite per test file, a failure element with the problems of each failed case).

export interface CaseOutcome {
  file: string;
  name: string;
  passed: boolean;
  problems: string[];
}

const escape = (s: string) =>
  s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    // XML 1.0 cannot carry most control characters, even escaped.
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');

export function junitXml(dir: string, results: CaseOutcome[]): string {
  const files = new Map<string, CaseOutcome[]>();
  for (const r of results) files.set(r.file, [...(files.get(r.file) ?? []), r]);
  const failures = results.filter((r) => !r.passed).length;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${escape(`cordon policy test ${dir}`)}" tests="${results.length}" failures="${failures}">`,
  ];
  for (const [file, cases] of files) {
    const failed = cases.filter((c) => !c.passed).length;
    lines.push(`  <testsuite name="${escape(file)}" tests="${cases.length}" failures="${failed}">`);
    for (const c of cases) {
      const open = `    <testcase classname="${escape(file)}" name="${escape(c.name)}"`;
      if (c.passed) lines.push(`${open}/>`);
      else {
        const first = c.problems[0] ?? 'failed';
        lines.push(
          `${open}>`,
          `      <failure message="${escape(first)}">${escape(c.problems.join('\n'))}</failure>`,
          '    </testcase>',
        );
      }
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}
