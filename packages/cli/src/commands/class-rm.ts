// warren class rm NAME
import { connect } from "../connect.ts";

export async function classRmCommand(name: string) {
  const client = await connect();
  await client.deleteClass(name);
  process.stdout.write(`${name}\n`);
  return 0;
}
