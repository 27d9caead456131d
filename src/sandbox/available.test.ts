// Whether the kernel sandbox can run: a missing launcher and one that cannot apply Landlock are
// each named, so `cordon demo` prints why its sandbox story was skipped.

import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../testing/fixtures.js';
import { kernelSandboxRefusal } from './available.js';

describe('kernel sandbox availability', () => {
  it('names a launcher that was not built, and what building it needs', () => {
    const why = kernelSandboxRefusal('/nonexistent/cordon-launch');
    assert.match(why ?? '', /\/nonexistent\/cordon-launch is not built \(needs a C compiler/);
  });

  it("reports the launcher's own refusal (what a kernel without Landlock prints)", async () => {
    const fake = join(await tempDir('cordon-available-'), 'cordon-launch');
    await writeFile(fake, '#!/bin/sh\necho "landlock: not supported by this kernel" >&2\nexit 1\n');
    await chmod(fake, 0o755);
    assert.equal(
      kernelSandboxRefusal(fake),
      'Landlock refused: landlock: not supported by this kernel',
    );
  });
});
