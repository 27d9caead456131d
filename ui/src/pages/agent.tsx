// One agent: its recent actions, risk over time, baseline (what it normally does) and isolation
// state, with the buttons to restrict, isolate and release it. They call the routes the CLI
// calls (`cordon isolate`, `cordon release`: POST /v1/isolation, /v1/isolation/release), and the
// server decides (Cedar action `isolate` on the Agent) and records it.
import { useState } from 'preact/hooks';
import { api, type IsolationState } from '../lib/api.js';
import { href } from '../lib/route.js';
import { ErrorLine, Json, Outcome, Section, Time, useLoad, Head } from '../components/bits.js';
import { RiskChart } from '../components/risk-chart.js';

export function isolationText(states: IsolationState[]): string {
  return states
    .map((s) => {
      const m = s.measures;
      const what = [
        m.full && 'full isolation',
        m.readOnly && 'read-only',
        m.egress === 'none' && 'no egress',
        m.egress === 'baseline' && 'egress limited to baseline',
        m.noDelegation && 'no delegation',
        m.revokedTools?.length && `tools revoked: ${m.revokedTools.join(', ')}`,
      ].filter(Boolean);
      const scope = s.session ? ` (session ${s.session})` : s.user ? ` (user ${s.user})` : '';
      return `${what.join(', ')}${scope} by ${s.by}: ${s.reason}`;
    })
    .join('; ');
}

const MEASURES = {
  'revoke-tools': { label: 'Restrict: revoke tools', measures: {} },
  'no-egress': { label: 'Restrict: cut network egress', measures: { egress: 'none' } },
  'read-only': { label: 'Restrict: read-only', measures: { readOnly: true } },
  full: { label: 'Isolate: stop everything the agent does', measures: { full: true } },
} as const;

export function AgentView({ id }: { id: string }) {
  const { value: a, error, reload } = useLoad(() => api.agent(id, '24h', 24), [id]);
  return (
    <>
      <h1 tabIndex={-1}>Agent {id}</h1>
      <ErrorLine error={error} />
      {a && (
        <>
          <p class="meta">
            {a.listed ? 'Listed in entities.json' : 'Not listed in entities.json'}
            {a.attrs && Object.keys(a.attrs).length > 0 && ` · ${JSON.stringify(a.attrs)}`}
          </p>
          <Section title="Isolation">
            <p id="isolation-state" role="status">
              {a.isolation.length ? isolationText(a.isolation) : 'Not isolated.'}
            </p>
            <IsolationForm agent={id} isolated={a.isolation.length > 0} onDone={reload} />
          </Section>
          <div class="cols">
            <Section title="Risk over time">
              <RiskChart buckets={a.risk} />
            </Section>
            <Section title="Baseline">
              {a.baseline ? (
                <>
                  <p>
                    Mode <strong>{a.baseline.mode?.mode ?? '—'}</strong>
                    {a.baseline.observations !== undefined &&
                      ` · ${a.baseline.observations} observations`}
                    {a.baseline.since && (
                      <>
                        {' '}
                        since <Time iso={a.baseline.since} full />
                      </>
                    )}
                  </p>
                  {a.baseline.dimensions && (
                    <details>
                      <summary>What it normally does</summary>
                      <Json value={a.baseline.dimensions} label="Baseline dimensions" />
                    </details>
                  )}
                </>
              ) : (
                <p>No baseline (not kept, or not yours to read).</p>
              )}
            </Section>
          </div>
          <Section title="Recent actions">
            {a.recent.length === 0 ? (
              <p>None in the last 24 hours.</p>
            ) : (
              <table>
                <Head cols={['time', 'outcome', 'action', 'resource', 'policies']} />
                <tbody>
                  {a.recent.map((d) => (
                    <tr key={d.id}>
                      <td>
                        <a href={href.decision(d.id)}>
                          <Time iso={d.time} />
                        </a>
                      </td>
                      <td>
                        <Outcome value={d.decision} />
                      </td>
                      <td>{d.action}</td>
                      <td>{d.resource.id}</td>
                      <td>{d.policies.join(', ')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Section>
        </>
      )}
    </>
  );
}

function IsolationForm({
  agent,
  isolated,
  onDone,
}: {
  agent: string;
  isolated: boolean;
  onDone: () => void;
}) {
  const [measure, setMeasure] = useState<keyof typeof MEASURES>('no-egress');
  const [tools, setTools] = useState('');
  const [reason, setReason] = useState('');
  const [until, setUntil] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const act = async (what: 'apply' | 'release') => {
    setError(undefined);
    if (!reason.trim()) {
      setError('Give a reason: it is recorded in the audit log with your name.');
      return;
    }
    const revoked = tools
      .split(/[\s,]+/u)
      .map((t) => t.trim())
      .filter(Boolean);
    if (what === 'apply' && measure === 'revoke-tools' && revoked.length === 0) {
      setError('Name the tools to revoke: server/tool, or server/* for a whole server.');
      return;
    }
    setBusy(true);
    try {
      if (what === 'apply')
        await api.isolate({
          agent,
          measures:
            measure === 'revoke-tools' ? { revokedTools: revoked } : MEASURES[measure].measures,
          reason: reason.trim(),
          ...(until.trim() ? { until: until.trim() } : {}),
        });
      else await api.release(agent, reason.trim());
      setReason('');
      onDone();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="isolate" onSubmit={(e) => (e.preventDefault(), void act('apply'))}>
      <fieldset>
        <legend>Measure</legend>
        {Object.entries(MEASURES).map(([k, m]) => (
          <label key={k} class="inline">
            <input
              type="radio"
              name="measure"
              value={k}
              checked={measure === k}
              onChange={() => setMeasure(k as keyof typeof MEASURES)}
            />{' '}
            {m.label}
          </label>
        ))}
      </fieldset>
      {measure === 'revoke-tools' && (
        <>
          <label for="iso-tools">Tools to revoke (server/tool or server/*, comma separated)</label>
          <input id="iso-tools" value={tools} onInput={(e) => setTools(e.currentTarget.value)} />
        </>
      )}
      <label for="iso-reason">Reason (recorded)</label>
      <input id="iso-reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} />
      <label for="iso-until">Until (optional: 30m, 24h, 7d or an ISO time)</label>
      <input id="iso-until" value={until} onInput={(e) => setUntil(e.currentTarget.value)} />
      <div class="buttons">
        <button type="submit" class="danger" disabled={busy}>
          {measure === 'full' ? 'Isolate' : 'Restrict'}
        </button>
        <button type="button" disabled={busy || !isolated} onClick={() => void act('release')}>
          Release
        </button>
      </div>
      <ErrorLine error={error} />
    </form>
  );
}
