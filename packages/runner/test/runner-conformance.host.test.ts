// The runner capability suites against the real Engine on crun, called directly (the setup and
// cleanup are in runner-conformance-engine.ts; behind the wire: runner-conformance-wire.host.test.ts).
import { engineConformance } from "./runner-conformance-engine.ts";

engineConformance("direct");
