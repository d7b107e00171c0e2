export interface PrebuildsTable {
  id: string;
  org_id: string;
  /** Who asked for it: scheduled and webhook runs act as them. */
  owner_id: string;
  /** Normalized (protocol project.ts). */
  repo: string;
  url: string;
  /** "" for the remote's default branch. */
  branch: string;
  devcontainer_path: string | null;
  state: "pending" | "building" | "ready" | "failed";
  message: string | null;
  /** The prebuild environment while a run is under way. */
  env_id: string | null;
  /** The runner holding the template. */
  runner_id: string | null;
  template_key: string | null;
  config_digest: string | null;
  commit_sha: string | null;
  image: string | null;
  /** JSON: what an environment made from it starts with (prebuild-match.ts PrebuiltSetup). */
  setup: string | null;
  every_s: number | null;
  next_run_at: string | null;
  built_at: string | null;
  created_at: string;
  updated_at: string;
}
export interface PrebuildsSchema {
  prebuilds: PrebuildsTable;
}
