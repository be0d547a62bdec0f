/** The forward-auth decision API's writer lives with the other transports: src/gateway/transport/decision.ts. */
export { createDecisionHandler } from '../gateway/transport/decision.js';
