/** The typical identity of the memory measurements: email and name, both mapped to identity headers. */
export const TYPICAL_IDENTITY_HEADERS = { 'X-User-Email': 'identity.traits.email', 'X-User-Name': 'identity.traits.name' };
