/**
 * A URL as it may be printed: a password in its userinfo (`http://user:pass@kratos:4433`, for
 * a Kratos behind basic auth) becomes `***`. For log lines and the start-up banner, which
 * end up in terminals and log pipelines that credentials must not reach.
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url;
  }
  if (u.password === '') return url;
  u.password = '***';
  return u.href;
}
