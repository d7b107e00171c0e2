// The runner capability suites against the fake runner, called directly and behind the wire (a
// FakeRunner dialled in to an in-process `warren server`): the fake must keep the contract the
// real Engine keeps (runner/test/runner-conformance.host.test.ts), so tests built on it stay honest.
import {
  buildConformance,
  execConformance,
  fakeSubject,
  imagesConformance,
  lifecycleConformance,
  overTheWire,
  statsConformance,
  streamsConformance,
} from "../src/conformance/index.ts";
import { FakeRunner } from "../src/fake-runner.ts";

const direct = async () => fakeSubject(new FakeRunner());

/** A fresh fake behind a fresh link for each suite; cleanup closes the link and the server. */
const wired = async () => {
  const fake = new FakeRunner();
  const link = await overTheWire(fake);
  const s = fakeSubject(fake, link.remote);
  return {
    ...s,
    async cleanup() {
      await s.cleanup();
      await link.close();
    },
  };
};

for (const [name, make] of [
  ["fake", direct],
  ["fake behind the wire", wired],
] as const) {
  lifecycleConformance(name, make);
  execConformance(name, make);
  imagesConformance(name, make);
  streamsConformance(name, make);
  statsConformance(name, make);
  buildConformance(name, make);
}
