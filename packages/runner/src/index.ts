export { Engine } from "./engine/engine.ts";
export { createRunner } from "./engine/runner.ts";
export { defaultConfig, type RunnerConfig } from "./host/config.ts";
export { FAILPOINTS, type Failpoint, failpoint } from "./host/failpoint.ts";
