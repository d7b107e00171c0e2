// The hostile-image corpus (hostile-image-corpus.ts) on crun.
import { hostileImageCorpus } from "./hostile-image-corpus.ts";

hostileImageCorpus("crun");
