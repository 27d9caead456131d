// Approvals inbox: the pending requests, live (server-sent events), each with exactly what an
// approval would allow (the bound action, resource and arguments) and when it expires, answered
// with a note. The server decides whether this person may answer (Cedar action `approve`); a
// refusal is shown as the server words it.
import { useEffect, useState } from 'preact/hooks';
import { api, type Approval } from '../lib/api.js';
import { sessionEnded } from '../lib/http.js';
import { subscribe, type StreamState } from '../lib/stream.js';
import { href } from '../lib/route.js';
import { ErrorLine, Json, StreamStatus, Time, Head } from '../components/bits.js';

type Lists = { pending: Approval[]; recent: Approval[] };

export function Approvals({ user }: { user: string }) {
  const [lists, setLists] = useState<Lists>();
  const [state, setState] = useState<StreamState>({ kind: 'connecting' });
  const [now, setNow] = useState(Date.now());
  // The card leaves the inbox as soon as the stream says it was answered: the answer is told here.
  const [answered, setAnswered] = useState<string>();

  useEffect(
    () =>
      subscribe<Lists>({
        url: api.approvalsStreamUrl(),
        event: 'approvals',
        onState: setState,
        onUnauthorized: sessionEnded,
        onBatch: (b) => setLists(b[b.length - 1]), // each event is the whole list
      }),
    [],
  );
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);

  return (
    <>
      <h1 tabIndex={-1}>Approvals</h1>
      <StreamStatus state={state} what="approval inbox" />
      {answered && (
        <p class="notice" role="status">
          {answered}
        </p>
      )}
      <h2>Pending{lists ? ` (${lists.pending.length})` : ''}</h2>
      {lists?.pending.length === 0 && <p>Nothing waits for an answer.</p>}
      <ul class="cards">
        {lists?.pending.map((a) => (
          <li key={a.id}>
            <Pending a={a} now={now} user={user} onAnswered={setAnswered} />
          </li>
        ))}
      </ul>
      <h2>Recently answered</h2>
      {lists && lists.recent.length === 0 && <p>None.</p>}
      {lists && lists.recent.length > 0 && (
        <table>
          <Head cols={['status', 'agent', 'user', 'action', 'resource', 'by', 'note', 'when']} />
          <tbody>
            {lists.recent.map((a) => (
              <tr key={a.id}>
                <td>
                  <span class={`badge ${a.status}`}>{a.status}</span>
                </td>
                <td>{a.agent}</td>
                <td>{a.user ?? '—'}</td>
                <td>{a.request.action}</td>
                <td>{a.request.resource.id}</td>
                <td>{a.approver ?? '—'}</td>
                <td>{a.note ?? ''}</td>
                <td>
                  <Time iso={a.decidedAt ?? a.expiresAt} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function remaining(ms: number): string {
  if (ms <= 0) return 'expired';
  const s = Math.floor(ms / 1000);
  const m = Math.floor(s / 60);
  return m > 0 ? `${m} min ${s % 60} s left` : `${s} s left`;
}

function Pending({
  a,
  now,
  user,
  onAnswered,
}: {
  a: Approval;
  now: number;
  user: string;
  onAnswered: (what: string) => void;
}) {
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [done, setDone] = useState<string>();
  const left = Date.parse(a.expiresAt) - now;
  const answer = async (verb: 'approve' | 'deny') => {
    setBusy(true);
    setError(undefined);
    try {
      await api.answer(a.id, verb, note.trim());
      const what = verb === 'approve' ? 'Approved' : 'Denied';
      setDone(what);
      onAnswered(
        `${what} by ${user}: ${a.agent}${a.user ? ` for ${a.user}` : ''}, ${a.request.action} ${a.request.resource.type}::"${a.request.resource.id}".`,
      );
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const titleId = `appr-${a.id}`;
  return (
    <article aria-labelledby={titleId} class="card">
      <h3 id={titleId}>
        {a.agent}
        {a.user ? ` for ${a.user}` : ''}: {a.request.action}{' '}
        <code>
          {a.request.resource.type}::"{a.request.resource.id}"
        </code>
      </h3>
      <p class="meta">
        Asked <Time iso={a.createdAt} /> · expires <Time iso={a.expiresAt} /> (
        <span class={left < 60_000 ? 'warn' : ''}>{remaining(left)}</span>) · gated by{' '}
        {[...new Set(a.reasons.map((r) => r.policy))].join(', ')} ·{' '}
        <a href={href.decision(a.decisionId)}>decision</a>
      </p>
      <p>Approving allows exactly this call, with these arguments:</p>
      <Json value={a.request.input ?? {}} label="Bound arguments" />
      {done ? (
        <p role="status">
          {done} by {user}.
        </p>
      ) : (
        <div class="answer">
          <label for={`note-${a.id}`}>Note (recorded with the answer)</label>
          <input id={`note-${a.id}`} value={note} onInput={(e) => setNote(e.currentTarget.value)} />
          <button type="button" disabled={busy || left <= 0} onClick={() => void answer('approve')}>
            Approve
          </button>
          <button
            type="button"
            class="danger"
            disabled={busy || left <= 0}
            onClick={() => void answer('deny')}
          >
            Deny
          </button>
        </div>
      )}
      <ErrorLine error={error} />
    </article>
  );
}
