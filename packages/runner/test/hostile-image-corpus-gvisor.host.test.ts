// The hostile-image corpus (hostile-image-corpus.ts) on gvisor.
import { hostileImageCorpus } from "./hostile-image-corpus.ts";

hostileImageCorpus("gvisor");
