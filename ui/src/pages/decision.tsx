// One decision: the request as recorded, the reasons (each a link to the policy text of the
// version that decided), obligations, risk signals, the session chain it belongs to, and its
// inclusion proof checked here in the browser against the signed checkpoint.
import { useState } from 'preact/hooks';
import { api, type DecisionSummary } from '../lib/api.js';
import { checkInclusion, type ProofResult } from '../lib/proof.js';
import { href } from '../lib/route.js';
import { ErrorLine, Json, Outcome, Section, Time, useLoad, Head } from '../components/bits.js';

export function DecisionView({ id }: { id: string }) {
  const { value: d, error } = useLoad(() => api.decision(id), [id]);
  if (error)
    return (
      <>
        <h1 tabIndex={-1}>Decision {id}</h1>
        <ErrorLine error={error} />
      </>
    );
  if (!d) return <p class="loading">Loading…</p>;
  const r = d.record;
  const signals = r.facts.risk?.signals ?? [];
  return (
    <>
      <h1 tabIndex={-1}>
        Decision <Outcome value={r.decision} />
      </h1>
      <p class="meta">
        <code>{r.id}</code> · <Time iso={r.time} full /> · log index {r.seq} · from {r.pep}
      </p>
      <div class="cols">
        <Section title="Request">
          <dl class="kv">
            <dt>Agent</dt>
            <dd>{r.agent ? <a href={href.agent(r.agent)}>{r.agent}</a> : '—'}</dd>
            <dt>User</dt>
            <dd>{r.user ?? '—'}</dd>
            <dt>Action</dt>
            <dd>{r.action}</dd>
            <dt>Resource</dt>
            <dd>
              <code>
                {r.resource.type}::"{r.resource.id}"
              </code>
            </dd>
            <dt>Session</dt>
            <dd>{r.session ?? '—'}</dd>
            <dt>Policy version</dt>
            <dd>
              <code>{r.policyVersion}</code>
            </dd>
          </dl>
          {r.input !== undefined ? (
            <Json value={r.input} label="Input" />
          ) : r.inputDigest ? (
            <p class="meta">
              Input not recorded (digest <code>{r.inputDigest}</code>): the configuration keeps only
              digests.
            </p>
          ) : null}
          {r.context && Object.keys(r.context).length > 0 && (
            <Json value={r.context} label="Context" />
          )}
        </Section>
        <Section title="Reasons">
          {r.reasons.length === 0 ? (
            <p>No policy determined this decision.</p>
          ) : (
            <ul class="reasons">
              {r.reasons.map((re, i) => (
                <li key={i}>
                  <span class={`effect ${re.effect}`}>{re.effect}</span>{' '}
                  {re.policy.startsWith('cordon/') ? (
                    <code>{re.policy}</code>
                  ) : (
                    <a href={href.policy(re.policy, r.policyVersion)}>{re.policy}</a>
                  )}
                  {re.principal && <span class="meta"> (for the {re.principal})</span>}
                  {d.policies
                    .filter((p) => p.id === re.policy)
                    .map((p) => (
                      <span key={p.id} class="meta">
                        {' '}
                        {p.file}:{p.line}
                      </span>
                    ))}
                </li>
              ))}
            </ul>
          )}
          {r.errors?.length ? (
            <>
              <h3>Policy errors</h3>
              <ul>
                {r.errors.map((e, i) => (
                  <li key={i}>
                    {e.policy}: {e.message}
                  </li>
                ))}
              </ul>
            </>
          ) : null}
          <h3>Obligations</h3>
          {r.obligations.length ? <Json value={r.obligations} label="Obligations" /> : <p>None.</p>}
          {r.approval && (
            <p>
              Approval <code>{r.approval.id}</code>: {r.approval.status}
              {r.approval.by && ` by ${r.approval.by}`}
            </p>
          )}
        </Section>
        <Section title="Risk">
          <p>
            Score {r.facts.risk?.score ?? 0} ({r.facts.risk?.level ?? 'low'})
          </p>
          {signals.length > 0 ? (
            <table>
              <caption class="sr-only">Risk signals</caption>
              <Head cols={['signal', 'strength', 'weight', 'detail']} />
              <tbody>
                {signals.map((s) => (
                  <tr key={s.name}>
                    <td>{s.name}</td>
                    <td>{s.value.toFixed(2)}</td>
                    <td>{s.weight}</td>
                    <td>{s.detail ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p>No signal raised the score.</p>
          )}
        </Section>
      </div>
      <Section title="Session chain">
        <Chain current={r.id} parent={d.parent} children={d.children} session={d.session} />
      </Section>
      <ProofCheck id={r.id} record={r} />
    </>
  );
}

function SummaryLink({ s, current }: { s: DecisionSummary; current?: boolean }) {
  return (
    <>
      <Time iso={s.time} /> <Outcome value={s.decision} />{' '}
      {current ? (
        <strong aria-current="true">
          {s.action} {s.resource.id} (this decision)
        </strong>
      ) : (
        <a href={href.decision(s.id)}>
          {s.action} {s.resource.id}
        </a>
      )}
    </>
  );
}

function Chain(p: {
  current: string;
  parent: DecisionSummary | null;
  children: DecisionSummary[];
  session: { id: string; decisions: DecisionSummary[] } | null;
}) {
  return (
    <>
      {p.parent && (
        <p>
          Led to by: <SummaryLink s={p.parent} />
        </p>
      )}
      {p.children.length > 0 && (
        <>
          <p>Led to:</p>
          <ul>
            {p.children.map((c) => (
              <li key={c.id}>
                <SummaryLink s={c} />
              </li>
            ))}
          </ul>
        </>
      )}
      {p.session ? (
        <>
          <p>
            Session <code>{p.session.id}</code>, {p.session.decisions.length} records:
          </p>
          <ol class="chain">
            {p.session.decisions.map((s) => (
              <li key={s.id}>
                <SummaryLink s={s} current={s.id === p.current} />
              </li>
            ))}
          </ol>
        </>
      ) : (
        !p.parent && p.children.length === 0 && <p>Not part of a session.</p>
      )}
    </>
  );
}

const PINNED = 'cordon.pinnedVerifierKey';

function ProofCheck({ id, record }: { id: string; record: unknown }) {
  const [key, setKey] = useState(() => localStorage.getItem(PINNED) ?? '');
  const [serverKey, setServerKey] = useState<string>();
  const [result, setResult] = useState<ProofResult>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const check = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setResult(undefined);
    try {
      const proof = await api.proof(id);
      setServerKey(proof.key.verifierKey);
      if (!key.trim()) {
        setError(
          'Paste the verifier key you trust (DATA/keys/audit.vkey, kept apart from the server) first; the server offers its own below.',
        );
        return;
      }
      localStorage.setItem(PINNED, key.trim());
      setResult(await checkInclusion(proof, record, key));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Section title="Inclusion proof">
      <form onSubmit={(e) => void check(e)} class="proof">
        <label for="vkey">Trusted verifier key</label>
        <input
          id="vkey"
          value={key}
          placeholder="audit+1a2b3c4d+AbC…"
          onInput={(e) => setKey(e.currentTarget.value)}
          aria-describedby="vkey-help"
          autoComplete="off"
          spellcheck={false}
        />
        <p id="vkey-help" class="meta">
          Checked here with WebCrypto: the checkpoint's Ed25519 signature under this key, the
          record's SHA-256 leaf, and the RFC 9162 audit path to the signed root. A key taken from
          the server proves only that the server agrees with itself.
        </p>
        <button type="submit" disabled={busy}>
          {busy ? 'Checking…' : 'Check proof'}
        </button>
        {serverKey && serverKey !== key.trim() && (
          <p class="meta">
            The server's key: <code>{serverKey}</code>{' '}
            <button type="button" class="link" onClick={() => setKey(serverKey)}>
              Use it
            </button>
          </p>
        )}
      </form>
      <ErrorLine error={error} />
      {result && (
        <div class={`verdict ${result.ok ? 'ok' : 'bad'}`} role="status">
          <p>
            <strong>
              {result.ok
                ? 'Proof verified: this record is in the signed log.'
                : `Proof failed: ${result.reason}`}
            </strong>
          </p>
          <ol>
            {result.steps.map((s) => (
              <li key={s.step}>
                <span aria-hidden="true">{s.ok ? '✓' : '✗'}</span> {s.step}: {s.detail}
              </li>
            ))}
          </ol>
        </div>
      )}
    </Section>
  );
}
