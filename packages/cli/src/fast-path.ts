// The plain forms of the commands users type all day, and scripts call in loops (plain-forms.ts),
// as the bundle runs them: the launcher runs this (dist/plain.js) for them, and main.js for
// everything else, every flag and every mistake included, so help, errors and exit statuses stay
// main.ts's. It runs their command directly, without commander and every other command's
// definition (main.ts, about a third of a `warren ls`'s start-up).
import { cliVersion } from "./cli-version.ts";
import { type PlainForm, plainForm } from "./plain-forms.ts";

async function runPlain(form: PlainForm): Promise<void> {
  if (form.command === "version") {
    // What commander's .version() prints and how main.ts exits after it.
    process.stdout.write(`warren ${cliVersion()}\n`);
    process.exit(0);
  }
  // As main.ts: `warren ls | head` closes stdout early; that is not an error.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
  const { run } = await import("./run.ts");
  if (form.command === "ls") {
    await run(async () => (await import("./commands/ls.ts")).lsCommand(form.opts));
  } else {
    const { name, cmd } = form;
    await run(async (ctx) => (await import("./commands/exec.ts")).execCommand(name, cmd, {}, ctx));
  }
}

const form = plainForm(process.argv.slice(2));
if (!form) throw new Error(`not a plain form of a warren command: ${process.argv.slice(2).join(" ")}`);
await runPlain(form);
