// Small pieces the pages share: outcome badges, times, JSON, the live-stream status line, and
// a hook that loads one API answer with its error.
import type { ComponentChildren } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import type { StreamState } from '../lib/stream.js';

const OUTCOME_LABEL: Record<string, string> = {
  allow: 'allow',
  deny: 'deny',
  require_approval: 'approval',
};

export function Outcome({ value }: { value: string }) {
  return <span class={`badge ${value}`}>{OUTCOME_LABEL[value] ?? value}</span>;
}

// One formatter each: toLocaleTimeString() builds a new one per call, which a list redrawn ten
// times a second would pay for every row.
const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  dateStyle: 'medium',
  timeStyle: 'medium',
});

export function Time({ iso, full }: { iso?: string; full?: boolean }) {
  if (!iso) return <span>—</span>;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return <span>{iso}</span>;
  return (
    <time dateTime={iso} title={iso}>
      {(full ? dateTimeFormat : timeFormat).format(d)}
    </time>
  );
}

export function Json({ value, label }: { value: unknown; label?: string }) {
  return (
    <pre class="json" aria-label={label} tabIndex={0}>
      {JSON.stringify(value, null, 2)}
    </pre>
  );
}

export function ErrorLine({ error }: { error?: string }) {
  return error ? (
    <p class="error" role="alert">
      {error}
    </p>
  ) : null;
}

/** Says whether the live stream is live, and when it was lost and is being retried. */
export function StreamStatus({ state, what }: { state: StreamState; what: string }) {
  let text: string;
  let cls = 'stream';
  switch (state.kind) {
    case 'connecting':
      text = `Connecting to the ${what}…`;
      break;
    case 'live':
      text = `Live: ${what} since ${timeFormat.format(state.since)}`;
      cls += ' live';
      break;
    case 'reconnecting':
      text = `Connection lost at ${timeFormat.format(state.lostAt)} (${state.why}): reconnecting (attempt ${state.attempt}, in ${Math.round(state.retryIn / 100) / 10} s)…`;
      cls += ' lost';
      break;
    case 'closed':
      text = `The ${what} stopped: ${state.reason}`;
      cls += ' lost';
      break;
  }
  return (
    <p class={cls} role="status" aria-live="polite">
      {text}
    </p>
  );
}

export function Section({ title, children }: { title: string; children: ComponentChildren }) {
  return (
    <section aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

/** One API answer: the value, the error message, and a way to load it again. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [value, setValue] = useState<T>();
  const [error, setError] = useState<string>();
  const run = useCallback(load, deps);
  const reload = useCallback(() => {
    run().then(
      (v) => {
        setValue(v);
        setError(undefined);
      },
      (e: Error) => setError(e.message),
    );
  }, [run]);
  useEffect(reload, [reload]);
  return { value, error, reload };
}

/** A table's column headings. */
export function Head({ cols }: { cols: string[] }) {
  return (
    <thead>
      <tr>
        {cols.map((c) => (
          <th scope="col" key={c}>
            {c}
          </th>
        ))}
      </tr>
    </thead>
  );
}
