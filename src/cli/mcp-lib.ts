// What the mcp commands use, in one module so that mcp-commands.ts can load it when one of
// them runs rather than when the command tree is built.

export { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
export { pino } from 'pino';
export { parseConfig } from '../config/config.js';
export { parse as parseYaml } from 'yaml';
export { answerMalformedMessages, GatewaySession } from '../mcp/gateway.js';
export { bearerAuthenticator } from '../mcp/bearer.js';
export { createMcpHttpServer } from '../mcp/http.js';
export { limitsFromConfig } from '../server/http-limits.js';
export { RequestIds } from '../mcp/request-ids.js';
export { parseMcpServers, wrapMcpServers } from '../mcp/config.js';
export { openPdp } from '../server/pdp.js';
export { serveApi } from '../server/start.js';
export { ToolPins, writePins } from '../mcp/pins.js';
export { descriptionRefusal } from '../mcp/tool-descriptions.js';
export { Upstream } from '../mcp/upstream.js';
