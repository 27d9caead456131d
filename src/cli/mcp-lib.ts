// What the mcp commands use, in one module so that mcp-commands.ts can load it when one of
// them runs rather than when the command tree is built.

export { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
export { pino } from 'pino';
export { parseConfig } from '../config/config.js';
export { parse as parseYaml } from 'yaml';
export { answerMalformedMessages, GatewaySession } from '../pep/mcp/gateway.js';
export { bearerAuthenticator } from '../pep/mcp/bearer.js';
export { createMcpHttpServer } from '../pep/mcp/http.js';
export { limitsFromConfig } from '../pep/http/http-limits.js';
export { RequestIds } from '../pep/mcp/request-ids.js';
export { parseMcpServers, wrapMcpServers } from '../pep/mcp/config.js';
export { openPdp } from '../runtime/pdp.js';
export { serveApi } from '../runtime/start.js';
export { ToolPins, writePins } from '../pep/mcp/pins.js';
export { descriptionRefusal } from '../pep/mcp/tool-descriptions.js';
export { Upstream } from '../pep/mcp/upstream.js';
