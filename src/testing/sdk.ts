// Policies for the SDK's tests and bench: the shipped examples plus a CRM lookup tool whose
// results have PII redacted and whose decisions may be cached for 30 s (@cache_ttl).

import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXAMPLE_POLICIES, tempDir } from './fixtures.js';

export async function sdkPolicies(): Promise<string> {
  const dir = await tempDir('cordon-sdk-policies-');
  await cp(EXAMPLE_POLICIES, dir, { recursive: true });
  const entities = JSON.parse(await readFile(join(dir, 'entities.json'), 'utf8')) as unknown[];
  entities.push({
    uid: { type: 'Tool', id: 'crm/lookup' },
    attrs: { irreversible: false, readOnly: true, destructive: false },
    parents: [],
  });
  await writeFile(join(dir, 'entities.json'), JSON.stringify(entities));
  await writeFile(
    join(dir, 'sdk.cedar'),
    `@id("support-bot-looks-up-customers")
@redact("pii")
@cache_ttl("30")
permit (
  principal == Agent::"support-bot",
  action == Action::"invokeTool",
  resource == Tool::"crm/lookup"
);

@id("support-bot-uses-helpdesk-tools")
permit (
  principal == Agent::"support-bot",
  action == Action::"invokeTool",
  resource in McpServer::"helpdesk"
);
`,
  );
  return dir;
}
