// warren dashboard [--open] [--json]: a one-time sign-in link for the web dashboard (the control
// plane makes it: a single-use code for the dashboard's host, valid for 60 s). Redeeming it sets
// the session cookie and lands on the dashboard with no code left in the address bar. The link
// carries a code, never a token; it is printed, or opened with --open where there is a browser.
import { spawn } from "node:child_process";
import { WarrenError } from "@warren/protocol";
import { connect } from "../connect.ts";
import { printJson } from "../format.ts";
import { hasBrowser } from "./port-open.ts";

export async function dashboardCommand(opts: { open?: boolean; json?: boolean }) {
  const client = await connect();
  if (!client.dashboardLink)
    throw new WarrenError("INVALID_ARGUMENT", "this client cannot ask for a dashboard link");
  const link = await client.dashboardLink();
  if (opts.json) {
    printJson(link);
    return 0;
  }
  if (opts.open && hasBrowser()) {
    spawn("xdg-open", [link.url], { stdio: "ignore", detached: true }).unref();
    process.stderr.write(
      "warren: opened the dashboard in your browser; if it did not open, run without --open\n",
    );
    return 0;
  }
  process.stdout.write(`${link.url}\n`);
  process.stderr.write(
    `warren: open this link within a minute; it works once${opts.open ? " (no browser found to open it)" : ""}\n`,
  );
  return 0;
}
