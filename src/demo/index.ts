/** The quickstart demo upstream (the gateway imports this module lazily, only when the demo is enabled). */
export { startDemoUpstream, handleDemoRequest, type DemoUpstream, type DemoUpstreamOptions } from './demo-app.js';
