// JSON over HTTP to the chat API; every failure becomes an ApiError with the service's error code.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function postJson(path, body, { token = null } = {}) {
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, { method: "POST", headers, body: JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, "network", String(err));
  }
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    // A proxy's HTML error page still deserves the status-based message below.
  }
  if (!response.ok) {
    const error = (payload && payload.error) || {};
    throw new ApiError(response.status, error.code || "http_" + response.status, error.message || response.statusText);
  }
  return payload;
}
