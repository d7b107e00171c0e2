// The tests see the server through its declaration files, which do not carry @fastify/websocket's
// augmentation of fastify's types (injectWS, route `websocket`); this brings it into the test program.
import "@fastify/websocket";
