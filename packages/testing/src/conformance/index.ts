// One conformance suite per runner capability (protocol runner.ts), and the subjects they run on.
export { type BuildSubject, buildConformance } from "./build.ts";
export { type ExecSubject, execConformance } from "./exec.ts";
export { type FakeSubject, fakeSubject } from "./fake.ts";
export { type ImagesSubject, imagesConformance } from "./images.ts";
export { lifecycleConformance } from "./lifecycle.ts";
export { statsConformance } from "./stats.ts";
export { type StreamsSubject, streamsConformance } from "./streams.ts";
export { type RunnerSubject, rejectsWithCode, runExec, SMALL, specMaker, unknownId } from "./subject.ts";
export { overTheWire, type WireLink } from "./wire.ts";
