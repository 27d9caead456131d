// The cgroup v2 group an agent runs in: where the unified hierarchy is mounted (it may sit
// beside v1 controllers, as at /sys/fs/cgroup/unified), a group per launch, removal after.

import { readFileSync } from 'node:fs';
import { mkdir, rmdir } from 'node:fs/promises';
import { join } from 'node:path';

/** The mount point of the cgroup v2 hierarchy, from /proc/self/mountinfo. */
export function findCgroup2Mount(mountinfo?: string): string | undefined {
  let text = mountinfo;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/mountinfo', 'utf8');
    } catch {
      return undefined;
    }
  }
  for (const line of text.split('\n')) {
    // id parent major:minor root mountpoint options ... - fstype source superoptions
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    if (right.split(' ')[0] !== 'cgroup2') continue;
    const mountpoint = left.split(' ')[4];
    if (mountpoint) return mountpoint.replace(/\\040/g, ' ');
  }
  return undefined;
}

export async function createAgentGroup(mount: string, name: string): Promise<string> {
  const parent = join(mount, 'cordon');
  await mkdir(parent, { recursive: true });
  const dir = join(parent, name);
  await mkdir(dir);
  return dir;
}

/** Removes the group once its processes are gone; a group with leftovers stays (and says so). */
export async function removeAgentGroup(dir: string): Promise<boolean> {
  for (let i = 0; i < 20; i++) {
    try {
      await rmdir(dir);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return false;
}
