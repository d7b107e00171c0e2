// Numbered, forward-only migrations. Append a new file; never edit one that has shipped.
import { init } from "./001_init.ts";
import { egress } from "./002_egress.ts";
import { registryCredentials } from "./004_registry_credentials.ts";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [init, egress, registryCredentials];
