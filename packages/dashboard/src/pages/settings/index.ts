// The settings pages every signed-in user has; the app shell puts them in its nav and router.
import type { JSX } from "preact";
import { SecretsPage } from "./secrets.tsx";
import { SshKeysPage } from "./ssh-keys.tsx";
import { TokensPage } from "./tokens.tsx";

export interface PageRoute {
  path: string;
  title: string;
  component: () => JSX.Element;
}

export const SETTINGS_ROUTES: PageRoute[] = [
  { path: "/settings/ssh-keys", title: "SSH keys", component: SshKeysPage },
  { path: "/settings/tokens", title: "API tokens", component: TokensPage },
  { path: "/settings/secrets", title: "Secrets", component: SecretsPage },
];
