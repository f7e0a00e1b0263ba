// The server's HTTP API, same origin as the page. Every request carries the
// token when one is entered: the admin token also grants inference, and an
// open server ignores it.
import type { ModelMetadata, Overview, Preprocessing } from './types';
import type { BinaryRequest } from './infer-request';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type RepositoryAction = 'load' | 'unload' | 'pin' | 'unpin';

// The server's own words ({"error": "..."}) when it gave some.
async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  let message = text.trim();
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') message = parsed.error;
  } catch {
    // not JSON: keep the text
  }
  return new ApiError(message || `${response.status} ${response.statusText}`.trim(), response.status);
}

export class Api {
  constructor(private readonly token: () => string) {}

  private async request(path: string, init: RequestInit = {}, timeoutMs = 0): Promise<unknown> {
    const headers = new Headers(init.headers);
    const token = this.token();
    if (token) headers.set('Authorization', `Bearer ${token}`);
    const signal = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : null;
    const response = await fetch(path, { ...init, headers, signal, cache: 'no-store' });
    if (!response.ok) throw await errorOf(response);
    const text = await response.text();
    return text ? JSON.parse(text) : {};
  }

  overview(): Promise<Overview> {
    return this.request('/polaris/overview', {}, 5000) as Promise<Overview>;
  }

  preprocessing(model: string): Promise<Preprocessing> {
    return this.request(`/polaris/models/${encodeURIComponent(model)}/preprocessing`) as Promise<Preprocessing>;
  }

  metadata(model: string): Promise<ModelMetadata> {
    return this.request(`/v2/models/${encodeURIComponent(model)}`) as Promise<ModelMetadata>;
  }

  inferJson(model: string, body: string): Promise<unknown> {
    return this.request(`/v2/models/${encodeURIComponent(model)}/infer`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body,
    });
  }

  inferBinary(model: string, request: BinaryRequest): Promise<unknown> {
    return this.request(`/v2/models/${encodeURIComponent(model)}/infer`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/octet-stream',
        'Inference-Header-Content-Length': String(request.headerLength),
      },
      body: request.body,
    });
  }

  repository(model: string, action: RepositoryAction): Promise<unknown> {
    return this.request(`/v2/repository/models/${encodeURIComponent(model)}/${action}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
  }
}
