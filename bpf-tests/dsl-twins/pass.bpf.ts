import { xdp, XdpAction } from '../../src/dsl/index.js';
export const pass = xdp(() => XdpAction.PASS);
