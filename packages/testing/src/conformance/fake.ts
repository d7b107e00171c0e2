// The fake runner as a conformance subject, directly or behind the wire: the same FakeRunner
// instance backs the subject either way, so its listeners and images are set on it.
import { randomBytes } from "node:crypto";
import type { RunnerApi } from "@warren/protocol";
import { DEFAULT_IMAGE } from "@warren/protocol";
import type { FakeRunner } from "../fake-runner.ts";
import type { BuildSubject } from "./build.ts";
import type { ExecSubject } from "./exec.ts";
import type { ImagesSubject } from "./images.ts";
import type { StreamsSubject } from "./streams.ts";
import { specMaker } from "./subject.ts";

export type FakeSubject = ExecSubject & ImagesSubject & StreamsSubject & BuildSubject & { api: RunnerApi };

/** A subject over `fake`, calling it through `api` (the fake itself, or its RemoteRunner). */
export function fakeSubject(fake: FakeRunner, api: RunnerApi = fake): FakeSubject {
  let slot = 0;
  let imports = 0;
  const specs = specMaker({
    tag: randomBytes(3).toString("hex"),
    image: DEFAULT_IMAGE,
    runtime: "crun",
    nextSlot: () => slot++,
  });
  return {
    api,
    runtime: "crun",
    image: DEFAULT_IMAGE,
    envSpec: specs.envSpec,
    exitWith: (code) => ["exit", String(code)],
    async importable() {
      imports++;
      return { path: `/fake/layouts/${imports}`, ref: `conformance/imported:${imports}` };
    },
    // The fake's builds read no files: the request alone decides its result.
    async writeFiles() {},
    async listen(id, port) {
      fake.listeners.set(`${id}:${port}`, (sock) => sock.pipe(sock));
    },
    async cleanup() {
      await specs.removeAll(api);
    },
  };
}
