// Audit: the signed checkpoints, verifying the whole log with progress (the server recomputes
// every leaf and checks every checkpoint, as `cordon audit verify` does), and export.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from '../lib/api.js';
import { whenSignedOutNow } from '../lib/signed-out.js';
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
  const source = useRef<EventSource>();

  useEffect(() => () => source.current?.close(), []);

  const verify = () => {
    source.current?.close();
    setDone(undefined);
    setVerifyError(undefined);
    setProgress({ records: 0, total: 0 });
    setRunning(true);
    // One verification is one run: it is not resumed after a lost connection, it is started again.
    const es = new EventSource(api.verifyUrl(), { withCredentials: true });
    source.current = es;
    es.addEventListener('progress', (e) =>
      setProgress(JSON.parse((e as MessageEvent<string>).data) as Progress),
    );
    es.addEventListener('done', (e) => {
      setDone(JSON.parse((e as MessageEvent<string>).data) as Done);
      setRunning(false);
      es.close();
    });
    es.onerror = () => {
      es.close();
      setRunning(false);
      void whenSignedOutNow().then((out) =>
        setVerifyError(
          out
            ? 'Signed out.'
            : 'The verification stopped before it finished (connection lost, refused, or another verification is running): start it again.',
        ),
      );
    };
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
        <button type="button" onClick={verify} disabled={running}>
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
