// The text of one policy, as it was in the version that decided (reasons link here).
import { api } from '../lib/api.js';
import { ErrorLine, useLoad } from '../components/bits.js';

export function PolicyText({ id, version }: { id: string; version?: string }) {
  const { value: p, error } = useLoad(() => api.policySource(id, version), [id, version]);
  return (
    <>
      <h1 tabIndex={-1}>Policy {id}</h1>
      <ErrorLine error={error} />
      {p && (
        <>
          <p class="meta">
            {p.effect}
            {p.shadow ? ' (shadow)' : ''} · {p.file}:{p.line}:{p.column} · version{' '}
            <code>{p.version}</code>
          </p>
          <pre class="code" tabIndex={0} aria-label={`Text of policy ${id}`}>
            {p.text}
          </pre>
        </>
      )}
    </>
  );
}
