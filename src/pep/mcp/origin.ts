// DNS-rebinding protection for the HTTP gateway: a request is served only when its Host names
// this gateway, and its Origin (sent by browsers) is one of the allowed hosts too. A web page
// whose name an attacker rebinds to 127.0.0.1 reaches the socket, but its requests carry the
// attacker's name in Host and Origin, and are refused before anything else is looked at.

const LOOPBACK = ['localhost', '127.0.0.1', '[::1]'];

/** The hostnames (no port) the gateway answers to: loopback names, the bound host, and extras. */
export function allowedHostnames(listenHost: string, extra: string[] = []): Set<string> {
  const bound = listenHost.includes(':') ? `[${listenHost}]` : listenHost;
  const names = [...LOOPBACK, ...extra.map((h) => h.toLowerCase())];
  // A wildcard bind has no name of its own: the operator lists the names clients use.
  if (bound !== '0.0.0.0' && bound !== '[::]') names.push(bound.toLowerCase());
  return new Set(names);
}

/** The hostname of a Host header value (`name[:port]`), lower-cased; undefined if malformed. */
function hostnameOf(host: string): string | undefined {
  // Only an authority: no user info, path or other URL part smuggled in to fool the parse.
  if (!host || /[\s/?#@\\]/.test(host)) return undefined;
  try {
    return new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

/** Why the request must be refused (403), or undefined when Host and Origin are acceptable. */
export function rebindingRefusal(
  headers: { host?: string | undefined; origin?: string | undefined },
  allowed: Set<string>,
): string | undefined {
  const host = headers.host === undefined ? undefined : hostnameOf(headers.host);
  if (!host || !allowed.has(host))
    return `Host "${headers.host ?? ''}" is not a name of this gateway (add it with --allowed-host)`;
  if (headers.origin === undefined) return undefined;
  let origin: string;
  try {
    origin = new URL(headers.origin).hostname.toLowerCase();
  } catch {
    return `Origin "${headers.origin}" is not a URL`;
  }
  if (!allowed.has(origin))
    return `Origin "${headers.origin}" is not allowed (add its host with --allowed-host)`;
  return undefined;
}
