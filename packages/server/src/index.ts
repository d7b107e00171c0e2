export { type Clock, systemClock } from "./clock.ts";
export { type Daemon, type DaemonOptions, runDaemon } from "./daemon.ts";
export { type BuildOptions, build } from "./http/build.ts";
export { listenUnix } from "./http/listen.ts";
export { openStore, type Store } from "./store/db.ts";
