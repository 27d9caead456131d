// Sign-in: with the one-use link `cordon serve` prints (or `POST /v1/console/sign-in-tokens`
// makes), or with a token from the organization's identity provider. Neither the admin
// credential nor any token is kept by the page: the server answers with a session cookie the
// page cannot read, and a CSRF token that lives in memory only.
import { useState } from 'preact/hooks';
import { api, type Session } from '../lib/api.js';

/** The sign-in token in `#signInToken=…`, removed from the address bar and history. */
export function takeSignInToken(): string | undefined {
  const m = /(?:^#|&)signInToken=([^&]+)/u.exec(location.hash);
  if (!m) return undefined;
  history.replaceState(null, '', `${location.pathname}${location.search}#/decisions`);
  return decodeURIComponent(m[1]!);
}

/** A pasted sign-in link or bare token: the token. */
function tokenOf(text: string): string {
  const t = text.trim();
  const m = /signInToken=([^&\s]+)/u.exec(t);
  return m ? decodeURIComponent(m[1]!) : t;
}

export function SignIn({
  message,
  onSignedIn,
}: {
  message?: string;
  onSignedIn: (s: Session) => void;
}) {
  const [link, setLink] = useState('');
  const [jwt, setJwt] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    if (!link.trim() && !jwt.trim()) {
      setError('Paste a sign-in link or an identity provider token.');
      return;
    }
    setBusy(true);
    try {
      onSignedIn(
        await api.signIn(link.trim() ? { signInToken: tokenOf(link) } : { idToken: jwt.trim() }),
      );
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="sign-in" id="main">
      <h1>Sign in to the Cordon console</h1>
      {message && (
        <p class="notice" role="status">
          {message}
        </p>
      )}
      <form onSubmit={(e) => void submit(e)} aria-describedby="sign-in-help">
        <p id="sign-in-help">
          Use the one-time sign-in link <code>cordon serve</code> prints at start (or that{' '}
          <code>POST /v1/console/sign-in-tokens</code> makes), or a token from your identity
          provider. What you may see and do is decided by the server's Cedar policies.
        </p>
        <label for="link">Sign-in link or token</label>
        <input
          id="link"
          name="link"
          autoComplete="off"
          value={link}
          onInput={(e) => setLink(e.currentTarget.value)}
        />
        <label for="jwt">Or an identity provider token (JWT)</label>
        <textarea
          id="jwt"
          name="jwt"
          rows={3}
          autoComplete="off"
          value={jwt}
          onInput={(e) => setJwt(e.currentTarget.value)}
        />
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
