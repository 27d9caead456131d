// Decisions: every decision as it is made (server-sent events from the audit log), filtered by
// agent, user, action, outcome or policy on the server. Events arrive in batches of one per
// animation frame and the list renders only the rows in view, so a thousand decisions a second
// do not freeze the page; the newest 20,000 are kept.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, type DecisionFilter, type DecisionSummary } from '../lib/api.js';
import { sessionEnded } from '../lib/http.js';
import { subscribe, type StreamState } from '../lib/stream.js';
import { href } from '../lib/route.js';
import { Outcome, StreamStatus, Time } from '../components/bits.js';
import { VirtualList } from '../components/virtual-list.js';

const KEEP = 20_000;
const ROW = 34;

const FIELDS: { key: keyof DecisionFilter; label: string }[] = [
  { key: 'agent', label: 'Agent' },
  { key: 'user', label: 'User' },
  { key: 'action', label: 'Action' },
  { key: 'policy', label: 'Policy' },
];

/** The filter in the address (#/decisions?agent=…), so a filtered view can be shared. */
function filterFromHash(): DecisionFilter {
  const q = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const f: DecisionFilter = {};
  for (const k of ['agent', 'user', 'action', 'outcome', 'policy'] as const) {
    const v = q.get(k);
    if (v) f[k] = v;
  }
  return f;
}

export function Decisions() {
  const [filter, setFilter] = useState<DecisionFilter>(filterFromHash);
  const [draft, setDraft] = useState<DecisionFilter>(filter);
  const [rows, setRows] = useState<DecisionSummary[]>([]);
  const [added, setAdded] = useState(0);
  const [state, setState] = useState<StreamState>({ kind: 'connecting' });
  const [rate, setRate] = useState(0);
  const counted = useRef(0);

  useEffect(() => {
    setRows([]);
    const stop = subscribe<DecisionSummary>({
      url: api.decisionStreamUrl(filter),
      event: 'decision',
      onState: setState,
      onUnauthorized: sessionEnded,
      onBatch: (batch) => {
        counted.current += batch.length;
        batch.reverse(); // newest first
        setRows((prev) => {
          const next = batch.length >= KEEP ? batch.slice(0, KEEP) : batch.concat(prev);
          if (next.length > KEEP) next.length = KEEP;
          return next;
        });
        setAdded((n) => n + batch.length);
      },
    });
    return stop;
  }, [filter]);

  useEffect(() => {
    const t = setInterval(() => {
      setRate(counted.current);
      counted.current = 0;
    }, 1000);
    return () => clearInterval(t);
  }, []);

  const apply = (e: Event) => {
    e.preventDefault();
    const clean: DecisionFilter = {};
    for (const [k, v] of Object.entries(draft))
      if (v?.trim()) clean[k as keyof DecisionFilter] = v.trim();
    const q = new URLSearchParams(clean as Record<string, string>).toString();
    history.replaceState(null, '', `#/decisions${q ? `?${q}` : ''}`);
    setFilter(clean);
  };

  const header = useMemo(
    () => (
      <div class="drow head" aria-hidden="true">
        <span>time</span>
        <span>outcome</span>
        <span>agent</span>
        <span>user</span>
        <span>action</span>
        <span>resource</span>
        <span>policies</span>
        <span>risk</span>
      </div>
    ),
    [],
  );

  return (
    <>
      <h1 tabIndex={-1}>Decisions</h1>
      <StreamStatus state={state} what="decision stream" />
      <form class="filters" onSubmit={apply} aria-label="Filter decisions">
        {FIELDS.map((f) => (
          <label key={f.key}>
            {f.label}
            <input
              name={f.key}
              value={draft[f.key] ?? ''}
              onInput={(e) => setDraft({ ...draft, [f.key]: e.currentTarget.value })}
            />
          </label>
        ))}
        <label>
          Outcome
          <select
            name="outcome"
            value={draft.outcome ?? ''}
            onChange={(e) => setDraft({ ...draft, outcome: e.currentTarget.value })}
          >
            <option value="">any</option>
            <option value="allow">allow</option>
            <option value="deny">deny</option>
            <option value="require_approval">require approval</option>
          </select>
        </label>
        <button type="submit">Apply filters</button>
      </form>
      <p class="meta" aria-live="off">
        {rows.length.toLocaleString()} shown{rows.length === KEEP ? ' (the newest kept)' : ''} ·{' '}
        {rate.toLocaleString()} per second
      </p>
      {header}
      <VirtualList
        items={rows}
        added={added}
        rowHeight={ROW}
        label="Decisions, newest first"
        empty="No decisions yet: they appear here as they are made."
        row={(d) => (
          <a class="drow" href={href.decision(d.id)} data-outcome={d.decision}>
            <Time iso={d.time} />
            <Outcome value={d.decision} />
            <span>{d.agent ?? '—'}</span>
            <span>{d.user ?? '—'}</span>
            <span>{d.action}</span>
            <span title={`${d.resource.type}::"${d.resource.id}"`}>{d.resource.id}</span>
            <span>{d.policies.join(', ') || '—'}</span>
            <span>{d.risk ? `${d.risk.score} ${d.risk.level}` : '—'}</span>
          </a>
        )}
      />
    </>
  );
}
