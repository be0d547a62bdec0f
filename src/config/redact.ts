/**
 * A URL as it may be printed: every query value, and a password in its userinfo (`http://user:pass@kratos:4433`, for
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
  // Query values too, whatever their names: clients read options from them (ioredis takes
  // `?password=`), and which of them are secret is not ours to know.
  if (u.password === '' && u.search === '') return url;
  if (u.password !== '') u.password = '***';
  if (u.search !== '') {
    const names = [...u.searchParams.keys()];
    u.search = '';
    for (const name of names) u.searchParams.append(name, '***');
  }
  return u.href;
}
