// What the token and topology commands use, in one module so that identity-commands.ts can
// load it when one of them runs rather than when the command tree is built.

export { Engine } from '../core/engine.js';
export { formatLocated } from '../core/source-location.js';
export { parseScope } from '../core/token-scope.js';
export { ExchangeError, exchangeToken } from '../identity/exchange.js';
export { createTokenKey, loadTokenKeys } from '../identity/token-keys.js';
export { TokenError, TokenService } from '../identity/tokens.js';
export { loadPolicyDir } from '../policy/load.js';
export { Revocations } from '../store/cache/revocations.js';
export { openStores } from '../store/open.js';
export { formatEntity, reach } from '../topology/reach.js';
