/** `X_Kratos_Foo` and `x-kratos-foo` are the same header to many upstream frameworks. */
export function normalizeHeaderName(name: string): string {
  const lower = name.toLowerCase();
  return lower.includes('_') ? lower.replaceAll('_', '-') : lower;
}
