// Numbered, forward-only migrations. Append a new file; never edit one that has shipped.
import { init } from "./001_init.ts";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [init];
