/** The server-rendered self-service UI; mounted by the gateway at its `ui.prefix`. */
export { createSelfServiceUi, type SelfServiceUiOptions } from './router.js';
