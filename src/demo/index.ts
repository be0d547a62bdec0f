/** The quickstart demo upstream (the gateway loads `./app.js` lazily, only when it is enabled). */
export { startDemoUpstream, handleDemoRequest, type DemoUpstream, type DemoUpstreamOptions } from './app.js';
