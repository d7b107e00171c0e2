// Row shape for users' developer identity (migration 026).

export interface UserGitTable {
  user_id: string;
  git_name: string | null;
  git_email: string | null;
  /** A git URL (protocol checkGitUrl), without credentials. */
  dotfiles: string | null;
  updated_at: string;
}

export interface UserGitSchema {
  user_git: UserGitTable;
}
