// Client-side routes live in the URL fragment (#/decisions/…): the server serves one page, a
// reload or a shared link opens the same view, and the browser's back button works. The
// fragment is never sent to the server, which is also why a sign-in token travels in it.
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'decisions' }
  | { page: 'decision'; id: string }
  | { page: 'policy'; id: string; version?: string }
  | { page: 'approvals' }
  | { page: 'agents' }
  | { page: 'agent'; id: string }
  | { page: 'policies' }
  | { page: 'audit' };

export function parseRoute(hash: string): Route {
  const [path = '', q = ''] = hash.replace(/^#\/?/u, '').split('?');
  const parts = path.split('/').map((p) => decodeURIComponent(p));
  const params = new URLSearchParams(q);
  switch (parts[0]) {
    case 'decisions':
      return parts[1] ? { page: 'decision', id: parts[1] } : { page: 'decisions' };
    case 'policy':
      return parts[1]
        ? { page: 'policy', id: parts[1], version: params.get('version') ?? undefined }
        : { page: 'policies' };
    case 'approvals':
      return { page: 'approvals' };
    case 'agents':
      return parts[1] ? { page: 'agent', id: parts[1] } : { page: 'agents' };
    case 'policies':
      return { page: 'policies' };
    case 'audit':
      return { page: 'audit' };
    default:
      return { page: 'decisions' };
  }
}

export const href = {
  decision: (id: string) => `#/decisions/${encodeURIComponent(id)}`,
  agent: (id: string) => `#/agents/${encodeURIComponent(id)}`,
  policy: (id: string, version?: string) =>
    `#/policy/${encodeURIComponent(id)}${version ? `?version=${encodeURIComponent(version)}` : ''}`,
};

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = () => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
