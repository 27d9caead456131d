// Errors in each provider's own format, so the official SDKs raise their usual exceptions
// (openai: PermissionDeniedError for 403; anthropic: PermissionDeniedError, and so on).

export type Api = 'openai' | 'anthropic';

const OPENAI_TYPE: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_denied',
  404: 'not_found_error',
  413: 'invalid_request_error',
  502: 'upstream_error',
  504: 'timeout',
};
const ANTHROPIC_TYPE: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  502: 'api_error',
  504: 'timeout_error',
};

export function errorBody(api: Api, status: number, message: string, code?: string): unknown {
  if (api === 'anthropic')
    return { type: 'error', error: { type: ANTHROPIC_TYPE[status] ?? 'api_error', message } };
  return {
    error: { message, type: OPENAI_TYPE[status] ?? 'api_error', param: null, code: code ?? null },
  };
}

/** The same error as a stream event, for a stream that already started. */
export function errorEvent(api: Api, message: string): { event?: string; data: string } {
  return api === 'anthropic'
    ? { event: 'error', data: JSON.stringify(errorBody('anthropic', 502, message)) }
    : { data: JSON.stringify(errorBody('openai', 502, message)) };
}
