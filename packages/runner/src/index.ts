export { defaultConfig, type RunnerConfig } from "./host/config.ts";
export { Engine } from "./engine/engine.ts";
export { createRunner } from "./engine/runner.ts";
export { FAILPOINTS, failpoint, type Failpoint } from "./host/failpoint.ts";
