// `node --import .../conformance-loader.js`: registers conformance-hooks.js (Node 20 support
// for the MCP conformance suite).

import { register } from 'node:module';

register('./conformance-hooks.js', import.meta.url);
