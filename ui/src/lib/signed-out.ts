// Whether the session is gone: asked after a live stream fails, because EventSource does not
// tell a 401 from a dropped connection. A 401 here also brings the sign-in page back (http.ts).
import { api } from './api.js';
import { ApiError } from './http.js';

export async function whenSignedOutNow(): Promise<boolean> {
  try {
    await api.session();
    return false;
  } catch (e) {
    return e instanceof ApiError && e.status === 401;
  }
}
