// Agents: those entities.json lists and those seen in the last day, with what they did and
// whether they are isolated.
import { api } from '../lib/api.js';
import { href } from '../lib/route.js';
import { ErrorLine, Time, useLoad, Head } from '../components/bits.js';
import { isolationText } from './agent.js';

export function Agents() {
  const { value, error, reload } = useLoad(() => api.agents('24h'), []);
  return (
    <>
      <h1 tabIndex={-1}>Agents</h1>
      <p class="meta">
        The last 24 hours.{' '}
        <button type="button" class="link" onClick={reload}>
          Refresh
        </button>
      </p>
      <ErrorLine error={error} />
      {value && (
        <table>
          <Head
            cols={['agent', 'last seen', 'allowed', 'denied', 'approval', 'max risk', 'isolation']}
          />
          <tbody>
            {value.agents.map((a) => (
              <tr key={a.id}>
                <th scope="row">
                  <a href={href.agent(a.id)}>{a.id}</a>
                  {!a.listed && <span class="meta"> (not listed)</span>}
                </th>
                <td>
                  <Time iso={a.lastSeen} full />
                </td>
                <td>{a.counts.allow}</td>
                <td>{a.counts.deny}</td>
                <td>{a.counts.require_approval}</td>
                <td>{a.maxRisk ?? '—'}</td>
                <td>{a.isolation.length ? isolationText(a.isolation) : 'none'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
