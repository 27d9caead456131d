// Audit: the signed checkpoints, verifying the whole log with progress (the server recomputes
// every leaf and checks every checkpoint, as `cordon audit verify` does), and export.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { errorMessage, sessionEnded } from '../lib/http.js';
import { EventStreamParser } from '../lib/stream.js';
import { ErrorLine, Section, Time, useLoad, Head } from '../components/bits.js';

interface Progress {
  records: number;
  total: number;
}
interface Done {
  ok: boolean;
  records: number;
  checkpoints: number;
  signedSize: number;
  problem?: { index?: number; message: string };
}

export function Audit() {
  const { value: cps, error } = useLoad(() => api.checkpoints(), []);
  const [progress, setProgress] = useState<Progress>();
  const [done, setDone] = useState<Done>();
  const [verifyError, setVerifyError] = useState<string>();
  const [running, setRunning] = useState(false);
  const [since, setSince] = useState('');
  const running$ = useRef<AbortController>();

  useEffect(() => () => running$.current?.abort(), []);

  // One verification is one run: it is not resumed after a lost connection, it is started again.
  const verify = async () => {
    running$.current?.abort();
    const abort = (running$.current = new AbortController());
    setDone(undefined);
    setVerifyError(undefined);
    setProgress({ records: 0, total: 0 });
    setRunning(true);
    try {
      const res = await fetch(api.verifyUrl(), {
        credentials: 'same-origin',
        headers: { accept: 'text/event-stream' },
        signal: abort.signal,
      });
      if (res.status === 401) return sessionEnded();
      if (!res.ok || !res.body) {
        const body: unknown = await res.json().catch(() => undefined);
        setVerifyError(errorMessage(res.status, body));
        return;
      }
      let finished = false;
      const parser = new EventStreamParser((event, data) => {
        if (event === 'progress') setProgress(JSON.parse(data) as Progress);
        if (event === 'done') {
          finished = true;
          setDone(JSON.parse(data) as Done);
        }
      });
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.push(value);
      }
      if (!finished) setVerifyError('The verification stopped before it finished: start it again.');
    } catch (e) {
      if (!abort.signal.aborted)
        setVerifyError(
          `The verification stopped before it finished (${(e as Error).message}): start it again.`,
        );
    } finally {
      setRunning(false);
    }
  };

  return (
    <>
      <h1 tabIndex={-1}>Audit</h1>
      <ErrorLine error={error} />
      <Section title="Verify the log">
        <p>
          Recomputes every record's leaf, rebuilds the Merkle tree and checks every checkpoint's
          signature and consistency on the server, with the server's own key. To check against a key
          kept elsewhere, run <code>cordon audit verify --key</code>, or check one decision's proof
          in this browser from its page.
        </p>
        <button type="button" onClick={() => void verify()} disabled={running}>
          {running ? 'Verifying…' : 'Verify'}
        </button>
        {progress && (
          <p>
            <label for="verify-progress">Records checked</label>{' '}
            <progress
              id="verify-progress"
              max={progress.total || 1}
              value={done ? progress.total || 1 : progress.records}
            />{' '}
            {progress.records.toLocaleString()} of {progress.total.toLocaleString()}
          </p>
        )}
        {done && (
          <p class={done.ok ? 'ok verdict' : 'error verdict'} role="status">
            {done.ok
              ? `Intact: ${done.records.toLocaleString()} records, ${done.checkpoints} checkpoints, signed up to ${done.signedSize}.`
              : `Not intact${done.problem?.index !== undefined ? ` at record ${done.problem.index}` : ''}: ${done.problem?.message ?? 'unknown problem'}`}
          </p>
        )}
        <ErrorLine error={verifyError} />
      </Section>
      <Section title="Export">
        <label for="export-since">Since (optional: 24h, 7d or an ISO time)</label>
        <input
          id="export-since"
          class="short"
          value={since}
          onInput={(e) => setSince(e.currentTarget.value)}
        />{' '}
        <a class="button" href={api.exportUrl('jsonl', since.trim() || undefined)} download>
          Export JSON lines
        </a>{' '}
        <a class="button" href={api.exportUrl('ocsf', since.trim() || undefined)} download>
          Export OCSF
        </a>
      </Section>
      <Section title="Checkpoints">
        {cps && (
          <>
            <p>
              Verifier key: <code>{cps.verifierKey}</code>
            </p>
            <table>
              <Head cols={['size', 'signed', 'note']} />
              <tbody>
                {cps.checkpoints.map((c) => (
                  <tr key={`${c.size}-${c.time}`}>
                    <td>{c.size.toLocaleString()}</td>
                    <td>
                      <Time iso={c.time} full />
                    </td>
                    <td>
                      <details>
                        <summary>signed note</summary>
                        <pre class="code">{c.note}</pre>
                      </details>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </Section>
    </>
  );
}
