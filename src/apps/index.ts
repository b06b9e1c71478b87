/**
 * Applications that run on simulated hosts: a Linux-like TCP stack, the pod's HTTP
 * responder and a curl-like client, over the narrow HostTransport a host implements.
 */
export * from './curl.js';
export * from './http-responder.js';
export * from './http1.js';
export * from './segment-codec.js';
export * from './tcp-connection.js';
export * from './tcp-stack.js';
export * from './transport.js';
export * from './udp-echo.js';
export * from './udp-stack.js';
