// The console's frame: who is signed in, the navigation between the five pages, and the page
// the URL names. Signing in happens here too (a sign-in link's token, or an identity provider
// token); a 401 from any call brings the sign-in page back.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type Session } from './lib/api.js';
import { setCsrf, whenSignedOut } from './lib/http.js';
import { useRoute, type Route } from './lib/route.js';
import { SignIn, takeSignInToken } from './pages/sign-in.js';
import { Decisions } from './pages/decisions.js';
import { DecisionView } from './pages/decision.js';
import { PolicyText } from './pages/policy-text.js';
import { Approvals } from './pages/approvals.js';
import { Agents } from './pages/agents.js';
import { AgentView } from './pages/agent.js';
import { Policies } from './pages/policies.js';
import { Audit } from './pages/audit.js';

const NAV: { page: Route['page']; label: string; href: string; also: Route['page'][] }[] = [
  { page: 'decisions', label: 'Decisions', href: '#/decisions', also: ['decision'] },
  { page: 'approvals', label: 'Approvals', href: '#/approvals', also: [] },
  { page: 'agents', label: 'Agents', href: '#/agents', also: ['agent'] },
  { page: 'policies', label: 'Policies', href: '#/policies', also: ['policy'] },
  { page: 'audit', label: 'Audit', href: '#/audit', also: [] },
];

type Auth =
  { state: 'checking' } | { state: 'out'; message?: string } | { state: 'in'; session: Session };

export function App() {
  const [auth, setAuth] = useState<Auth>({ state: 'checking' });
  const route = useRoute();
  const main = useRef<HTMLElement>(null);

  const signedIn = (session: Session) => {
    setCsrf(session.csrf);
    setAuth({ state: 'in', session });
  };

  useEffect(() => {
    whenSignedOut(() => {
      setCsrf(undefined);
      setAuth({ state: 'out', message: 'Your session ended: sign in again.' });
    });
    const token = takeSignInToken();
    const start = token ? api.signIn({ signInToken: token }) : api.session();
    start.then(signedIn, (e: Error) =>
      setAuth({ state: 'out', message: token ? `Sign-in failed: ${e.message}` : undefined }),
    );
  }, []);

  // A new page takes the focus to its heading, so keyboard and screen reader users land on it.
  useEffect(() => {
    main.current?.querySelector('h1')?.focus();
  }, [route]);

  if (auth.state === 'checking') return <p class="loading">Loading…</p>;
  if (auth.state === 'out') return <SignIn message={auth.message} onSignedIn={signedIn} />;

  const signOut = async () => {
    try {
      await api.signOut();
    } finally {
      setCsrf(undefined);
      setAuth({ state: 'out', message: 'Signed out.' });
    }
  };

  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), main.current?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Cordon</span>
        <nav aria-label="Console">
          <ul>
            {NAV.map((n) => {
              const current = route.page === n.page || n.also.includes(route.page);
              return (
                <li key={n.page}>
                  <a href={n.href} aria-current={current ? 'page' : undefined}>
                    {n.label}
                  </a>
                </li>
              );
            })}
          </ul>
        </nav>
        <span class="who">
          Signed in as <strong>{auth.session.user}</strong>
        </span>
        <button type="button" class="link" onClick={() => void signOut()}>
          Sign out
        </button>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <Page route={route} session={auth.session} />
      </main>
    </>
  );
}

function Page({ route, session }: { route: Route; session: Session }) {
  switch (route.page) {
    case 'decisions':
      return <Decisions />;
    case 'decision':
      return <DecisionView id={route.id} />;
    case 'policy':
      return <PolicyText id={route.id} version={route.version} />;
    case 'approvals':
      return <Approvals user={session.user} />;
    case 'agents':
      return <Agents />;
    case 'agent':
      return <AgentView id={route.id} />;
    case 'policies':
      return <Policies />;
    case 'audit':
      return <Audit />;
  }
}
