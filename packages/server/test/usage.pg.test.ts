// Usage accounting (usage-suite.ts) on a real PostgreSQL that this file starts: migration 029's
// trigger function and the report's sums in PostgreSQL's dialect.
import { after, before } from "node:test";
import { type PgCluster, startPgCluster } from "@warren/testing/pg-cluster";
import { openStoreUrl } from "../src/store/pg-store.ts";
import type { StoreBackend } from "./store-suite.ts";
import { usageSuite } from "./usage-suite.ts";

let cluster: PgCluster | undefined;
before(async () => {
  cluster = await startPgCluster();
});
after(async () => {
  await cluster?.stop();
});

const unused = async (): Promise<never> => {
  throw new Error("not used by the usage suite");
};
const postgres: StoreBackend = {
  name: "postgresql",
  async fresh() {
    const c = cluster!;
    const name = await c.createDatabase({ migrated: true });
    return {
      open: () => openStoreUrl(c.url(name)),
      migrate: unused,
      exec: unused,
      query: unused,
      cleanup: () => c.dropDatabase(name),
    };
  },
};

usageSuite(postgres);
