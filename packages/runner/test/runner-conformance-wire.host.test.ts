// The runner capability suites against the real Engine on crun behind the wire: the Engine dials an
// in-process `warren server` over the real /api/runner/v1/connect link and the suites call the
// control plane's end of it (setup and cleanup in runner-conformance-engine.ts).
import { engineConformance } from "./runner-conformance-engine.ts";

engineConformance("wire");
