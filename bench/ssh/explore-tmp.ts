import { writeFileSync, existsSync } from "node:fs";
import { makeHarness } from "@warren/testing/e2e-harness";
const h = await makeHarness("h7x");
try {
  await h.startDaemon();
  const up = h.cli(["up", "--name", "bx", "--memory", "2g", "--disk", "4g", "--detach"]);
  console.log(up.status, up.stdout, up.stderr);
  writeFileSync("/tmp/h7/env.sh", Object.entries(h.env).filter(([k]) => k.startsWith("WARREN_")).map(([k, v]) => `export ${k}='${v}'`).join("\n") + "\n");
  writeFileSync("/tmp/h7/alive", "");
  while (existsSync("/tmp/h7/alive")) await new Promise((r) => setTimeout(r, 500));
} finally {
  await h.teardown();
  console.log("leftovers", h.leftovers());
}
