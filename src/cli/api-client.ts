// How CLI commands call a running PDP's HTTP API: with a bearer credential, by default the local
// admin credential `cordon serve` keeps in its data directory, so local use needs no setup.

import type { Command } from 'commander';
import { readAdminCredential } from '../identity/credentials.js';

export class ApiCliError extends Error {}

export const DEFAULT_URL = process.env.CORDON_URL ?? 'http://127.0.0.1:7070';
export const DEFAULT_DATA = './.cordon';

export interface ApiTarget {
  url: string;
  /** An explicit bearer (a person's identity provider token); else CORDON_CREDENTIAL, else the admin credential in `data`. */
  token?: string | undefined;
  data: string;
}

async function bearerFor(t: ApiTarget): Promise<string> {
  const given = t.token ?? process.env.CORDON_CREDENTIAL;
  if (given) return given;
  let admin: string | undefined;
  try {
    admin = await readAdminCredential(t.data);
  } catch (e) {
    throw new ApiCliError((e as Error).message);
  }
  if (!admin)
    throw new ApiCliError(
      `no credential: ${t.data} has no admin credential (cordon serve creates it there); give --data, --token or CORDON_CREDENTIAL`,
    );
  return admin;
}

export async function callApi(
  t: ApiTarget,
  path: string,
  init: RequestInit = {},
): Promise<unknown> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${await bearerFor(t)}`);
  let res: Response;
  try {
    res = await fetch(new URL(path, t.url), { ...init, headers });
  } catch (e) {
    throw new ApiCliError(`cannot reach ${t.url}: ${(e as Error).message}`);
  }
  const body = (await res.json().catch(() => ({}))) as { error?: string };
  if (!res.ok) throw new ApiCliError(body.error ?? `HTTP ${res.status}`);
  return body;
}

/** --url, --data, --token and --json, as every client command of a running PDP takes them. */
export function apiOptions(c: Command, tokenEnv: string): Command {
  return c
    .option('--url <url>', 'the PDP (or set CORDON_URL)', DEFAULT_URL)
    .option('--data <dir>', "the PDP's data directory: its admin credential is used", DEFAULT_DATA)
    .option('--token <jwt>', `your identity provider's token instead (or set ${tokenEnv})`)
    .option('--json', 'print JSON');
}
