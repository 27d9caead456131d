// Policies: the set that is serving (its version and policies), and a playground that edits a
// copy in the browser: validate it (errors located to file, line and column, one click away),
// run its tests, and run what-if against recorded traffic. Nothing here changes what serves:
// the server compiles the copy in memory; committing goes through the policy repository.
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  api,
  type Located,
  type PolicyFile,
  type TestRun,
  type Validation,
  type WhatIf,
} from '../lib/api.js';
import { href } from '../lib/route.js';
import { ErrorLine, Section, useLoad, Head } from '../components/bits.js';

/** Offset in `text` of 1-based line and column. */
function offsetOf(text: string, line: number, column: number): number {
  let at = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf('\n', at);
    if (nl < 0) return text.length;
    at = nl + 1;
  }
  return Math.min(text.length, at + Math.max(0, column - 1));
}

export function Policies() {
  const { value: set, error } = useLoad(() => api.policies(), []);
  const [files, setFiles] = useState<PolicyFile[]>([]);
  const [open, setOpen] = useState<string>();
  const [busy, setBusy] = useState<string>();
  const [problem, setProblem] = useState<string>();
  const [validation, setValidation] = useState<Validation>();
  const [tests, setTests] = useState<TestRun>();
  const [whatif, setWhatif] = useState<WhatIf>();
  const [since, setSince] = useState('7d');
  const [cursor, setCursor] = useState('1:1');
  const editor = useRef<HTMLTextAreaElement>(null);

  const reset = () => {
    if (!set) return;
    setFiles(set.files.map((f) => ({ ...f })));
    setOpen(set.files.find((f) => f.file.endsWith('.cedar'))?.file ?? set.files[0]?.file);
    setValidation(undefined);
    setTests(undefined);
    setWhatif(undefined);
  };
  useEffect(reset, [set]);

  const current = files.find((f) => f.file === open);
  const edit = (text: string) =>
    setFiles((fs) => fs.map((f) => (f.file === open ? { ...f, text } : f)));

  const run = async <T,>(what: string, call: () => Promise<T>, keep: (v: T) => void) => {
    setBusy(what);
    setProblem(undefined);
    try {
      keep(await call());
    } catch (e) {
      setProblem((e as Error).message);
    } finally {
      setBusy(undefined);
    }
  };

  const jump = (l: Located) => {
    setOpen(l.file);
    // After the file's text is in the editor: put the cursor where the error is.
    requestAnimationFrame(() => {
      const ta = editor.current;
      if (!ta) return;
      const at = offsetOf(ta.value, l.line, l.column);
      ta.focus();
      ta.setSelectionRange(at, Math.min(ta.value.length, at + 1));
      const lineHeight = parseFloat(getComputedStyle(ta).lineHeight) || 18;
      ta.scrollTop = Math.max(0, (l.line - 3) * lineHeight);
      trackCursor();
    });
  };

  const trackCursor = () => {
    const ta = editor.current;
    if (!ta) return;
    const before = ta.value.slice(0, ta.selectionStart);
    const line = before.split('\n').length;
    setCursor(`${line}:${before.length - before.lastIndexOf('\n')}`);
  };

  const changed = set ? files.filter((f, i) => f.text !== set.files[i]?.text).length : 0;

  return (
    <>
      <h1 tabIndex={-1}>Policies</h1>
      <ErrorLine error={error} />
      {set && (
        <Section title="Serving">
          <p>
            Version <code>{set.version}</code> · {set.policies.length} policies in{' '}
            {set.files.length} files
          </p>
          {set.reloadError && (
            <p class="error" role="alert">
              The policy directory holds a broken edit; the last good set keeps serving:{' '}
              {set.reloadError}
            </p>
          )}
          <details>
            <summary>The policies</summary>
            <ul class="columns">
              {set.policies.map((p) => (
                <li key={p.id}>
                  <a href={href.policy(p.id)}>{p.id}</a>{' '}
                  <span class="meta">
                    {p.effect}
                    {p.shadow ? ' (shadow)' : ''} · {p.file}:{p.line}
                  </span>
                </li>
              ))}
            </ul>
          </details>
        </Section>
      )}
      {set && (
        <Section title="Playground">
          <p class="meta">
            You edit a copy: the server compiles it in memory, and nothing is written or served.
            {changed > 0 && ` ${changed} file(s) changed.`}{' '}
            <button type="button" class="link" onClick={reset}>
              Discard changes
            </button>
          </p>
          <div class="playground">
            <div>
              <label for="pg-file">File</label>
              <select id="pg-file" value={open} onChange={(e) => setOpen(e.currentTarget.value)}>
                {files.map((f) => (
                  <option key={f.file} value={f.file}>
                    {f.file}
                  </option>
                ))}
              </select>
              <label for="pg-editor">
                Text of {open} <span class="meta">(line:column {cursor})</span>
              </label>
              <textarea
                id="pg-editor"
                ref={editor}
                class="editor"
                spellcheck={false}
                value={current?.text ?? ''}
                onInput={(e) => (edit(e.currentTarget.value), trackCursor())}
                onKeyUp={trackCursor}
                onClick={trackCursor}
                aria-describedby="pg-results"
              />
              <div class="buttons">
                <button
                  type="button"
                  disabled={!!busy}
                  onClick={() => void run('validate', () => api.validate(files), setValidation)}
                >
                  {busy === 'validate' ? 'Validating…' : 'Validate'}
                </button>
                <button
                  type="button"
                  disabled={!!busy}
                  onClick={() => void run('test', () => api.test(files), setTests)}
                >
                  {busy === 'test' ? 'Running tests…' : 'Run tests'}
                </button>
                <label class="inline" for="pg-since">
                  Recorded since
                </label>
                <input
                  id="pg-since"
                  class="short"
                  value={since}
                  onInput={(e) => setSince(e.currentTarget.value)}
                />
                <button
                  type="button"
                  disabled={!!busy}
                  onClick={() =>
                    void run(
                      'whatif',
                      () => api.whatif(files, since.trim() || undefined),
                      setWhatif,
                    )
                  }
                >
                  {busy === 'whatif' ? 'Replaying…' : 'What-if'}
                </button>
              </div>
            </div>
            <div id="pg-results" aria-live="polite">
              <ErrorLine error={problem} />
              {/* The latest kind of run first: what-if follows validating and testing. */}
              {whatif && <WhatIfView w={whatif} />}
              {tests && <TestsView t={tests} jump={jump} />}
              {validation && <ValidationView v={validation} jump={jump} />}
            </div>
          </div>
        </Section>
      )}
    </>
  );
}

function LocatedList({
  items,
  jump,
  kind,
}: {
  items: Located[];
  jump: (l: Located) => void;
  kind: string;
}) {
  return (
    <ul class={kind}>
      {items.map((l, i) => (
        <li key={i}>
          <button type="button" class="link" onClick={() => jump(l)}>
            {l.location}
          </button>{' '}
          {l.message}
        </li>
      ))}
    </ul>
  );
}

function ValidationView({ v, jump }: { v: Validation; jump: (l: Located) => void }) {
  return (
    <div class="result">
      <h3>Validation</h3>
      <p class={v.ok ? 'ok' : 'error'} role="status">
        {v.ok
          ? `Valid: this copy would be version ${v.version ?? '?'}.`
          : `${v.errors.length} error(s): select one to go to it.`}
      </p>
      <LocatedList items={v.errors} jump={jump} kind="errors" />
      {v.warnings.length > 0 && (
        <>
          <h4>Warnings</h4>
          <LocatedList items={v.warnings} jump={jump} kind="warnings" />
        </>
      )}
    </div>
  );
}

function TestsView({ t, jump }: { t: TestRun; jump: (l: Located) => void }) {
  return (
    <div class="result">
      <h3>Tests</h3>
      <p class={t.ok ? 'ok' : 'error'} role="status">
        {t.passed} passed, {t.failed} failed
      </p>
      <LocatedList items={t.errors} jump={jump} kind="errors" />
      <ul>
        {t.results
          .filter((r) => !r.passed)
          .map((r) => (
            <li key={`${r.file}/${r.name}`}>
              ✗ {r.file}: {r.name}:{' '}
              {r.problems?.length
                ? r.problems.join('; ')
                : `expected ${r.expected}, got ${r.decision}`}
            </li>
          ))}
      </ul>
    </div>
  );
}

function WhatIfView({ w }: { w: WhatIf }) {
  return (
    <div class="result">
      <h3>What-if</h3>
      <p role="status">
        {w.changed} of {w.total} recorded decisions would change under this copy.
      </p>
      {w.transitions.map((t) => (
        <details key={t.transition} open>
          <summary>
            {t.transition}: {t.count}
          </summary>
          <table>
            <Head cols={['decision', 'agent', 'action', 'resource', 'policies now']} />
            <tbody>
              {t.examples.map((e) => (
                <tr key={e.id}>
                  <td>
                    <a href={href.decision(e.id)}>{e.id.slice(-8)}</a>
                  </td>
                  <td>{e.agent ?? '—'}</td>
                  <td>{e.action}</td>
                  <td>
                    {typeof e.resource === 'string'
                      ? e.resource
                      : `${e.resource.type}::"${e.resource.id}"`}
                  </td>
                  <td>{e.policies.join(', ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      ))}
    </div>
  );
}
