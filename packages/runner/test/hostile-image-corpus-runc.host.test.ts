// The hostile-image corpus (hostile-image-corpus.ts) on runc.
import { hostileImageCorpus } from "./hostile-image-corpus.ts";

hostileImageCorpus("runc");
