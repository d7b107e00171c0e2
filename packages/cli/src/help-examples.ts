// Examples at the end of every command's --help, kept apart from main.ts so that file stays about
// parsing. Keyed by the command's path ("class create"); a test checks every command has some.
import type { Command } from "commander";

export const EXAMPLES: Record<string, string[]> = {
  "": ["warren up --name dev", "warren exec dev -- uname -a", "warren ls"],
  up: [
    "warren up --name dev                       # create (or start) dev and open a shell in it",
    "warren up --name ci --memory 4g -- make test",
    "warren up --name svc --detach --json       # create it and print it, for scripts",
    "warren up --name demo --idle-timeout never  # never stopped for idleness",
    "warren up --repo https://github.com/acme/shop.git  # clone, devcontainer.json, build, hooks",
    "warren up --repo . --name shop             # this checkout's origin and branch",
  ],
  user: ["warren user set --git-name Ada --git-email ada@example.com", "warren user show"],
  "user set": [
    "warren user set --git-name Ada --git-email ada@example.com",
    "warren user set --dotfiles https://github.com/ada/dotfiles.git",
  ],
  "user show": ["warren user show", "warren user show --json"],
  dashboard: [
    "warren dashboard                           # print a one-time sign-in link (60 s, one use)",
    "warren dashboard --open                    # open it in the browser",
  ],
  prebuild: [
    "warren prebuild --repo https://github.com/acme/shop.git --branch main",
    "warren prebuild --repo https://github.com/acme/shop.git --every 6h  # and again every 6 hours",
  ],
  pool: ["warren pool set warren/debian:bookworm --class default --min 2 --max 5", "warren pool ls"],
  "pool set": [
    "warren pool set warren/debian:bookworm --min 2 --max 5",
    "warren pool set registry.example.com/dev:1 --class large --min 0 --max 8 --schedule 08:00-18:00=4",
  ],
  "pool ls": ["warren pool ls", "warren pool ls --json"],
  "pool rm": [
    "warren pool rm warren/debian:bookworm",
    "warren pool rm registry.example.com/dev:1 --class large",
  ],
  "prebuild ls": ["warren prebuild ls", "warren prebuild ls --json"],
  "prebuild rm": [
    "warren prebuild rm https://github.com/acme/shop.git --branch main",
    "warren prebuild rm pb_0123abcd",
  ],
  rebuild: ["warren rebuild shop                    # after changing devcontainer.json"],
  hook: ["warren hook run shop postCreateCommand"],
  "hook run": ["warren hook run shop postCreateCommand", "warren hook run shop postStartCommand --json"],
  exec: ["warren exec dev -- ls -la", "warren exec -t dev -- top", "printf 'data' | warren exec dev -- cat"],
  shell: ["warren shell dev"],
  "port-forward": [
    "warren port-forward dev 8080               # localhost:8080 -> port 8080 in dev",
    "warren port-forward dev 9000:80 :5432      # 9000 -> 80, and a free local port -> 5432",
    "warren port-forward dev 3000 --address 0.0.0.0 --json",
  ],
  ls: ["warren ls", "warren ls --json", "warren ls --watch"],
  start: ["warren start dev", "warren start dev web db"],
  stop: ["warren stop dev", "warren stop --time 0 dev web"],
  rm: ["warren rm dev", "warren rm -f dev web"],
  logs: ["warren logs dev", "warren logs -f -n 20 dev", "warren logs --json dev"],
  inspect: ["warren inspect dev", "warren inspect --json dev"],
  set: [
    "warren set dev --cpus 4",
    "warren set dev --memory 8g --pids 2048",
    "warren set dev --idle-timeout 2h",
  ],
  stats: ["warren stats", "warren stats dev --watch", "warren stats --json"],
  usage: [
    "warren usage                              # this month so far, by user",
    "warren usage --since 7d --by project",
    "warren usage --since 2025-01-01 --until 2025-02-01 --by class --csv",
  ],
  top: ["warren top", "warren top --sort mem", "warren top --once --json"],
  class: ["warren class ls", "warren class create big --cpus 8 --memory 16g --disk 100g"],
  "class ls": ["warren class ls", "warren class ls --json"],
  "class create": [
    "warren class create big --cpus 8 --memory 16g --disk 100g",
    "warren class create sealed --cpus 1 --memory 1g --disk 5g --runtime gvisor --egress none",
    "warren class create eu --cpus 2 --memory 4g --disk 20g --require-label zone=eu --memory-overcommit 1.25",
    "warren class create ci --cpus 4 --memory 8g --disk 50g --disk-overcommit 1 --write-bps 100M --write-iops 2000",
    "warren class create build --cpus 1 --memory 4g --disk 20g --cpu-burst 4",
  ],
  "class rm": ["warren class rm big"],
  image: ["warren image ls", "warren image pull docker.io/library/alpine:3.20"],
  "image import": ["warren image import ./layout --ref me/tools:1", "warren image import image.tar"],
  "image pull": ["warren image pull docker.io/library/alpine:3.20", "warren image pull ghcr.io/org/app:1.2"],
  "image ls": ["warren image ls", "warren image ls --json"],
  "image rm": ["warren image rm me/tools:1"],
  "image prune": ["warren image prune", "warren image prune --json"],
  dns: ["warren dns stats"],
  "dns stats": ["warren dns stats", "warren dns stats --json"],
  registry: ["warren registry login ghcr.io -u me", "warren registry ls"],
  "registry login": [
    "warren registry login ghcr.io -u me",
    'echo "$TOKEN" | warren registry login ghcr.io -u me --password-stdin',
  ],
  "registry logout": ["warren registry logout ghcr.io"],
  "registry ls": ["warren registry ls", "warren registry ls --json"],
  admin: ["sudo warren admin fingerprint", "sudo warren admin token create --name laptop"],
  "admin token": ["sudo warren admin token create --name laptop"],
  "admin token create": [
    "sudo warren admin token create --name laptop",
    "sudo warren admin token create --expires-days 7 --json",
  ],
  "admin fingerprint": ["sudo warren admin fingerprint", "sudo warren admin fingerprint --json"],
  "admin rotate-key": ["sudo warren admin rotate-key"],
  "admin runner-token": ["warren admin runner-token create --name host-2"],
  "admin runner-token create": [
    "warren admin runner-token create --name host-2",
    "warren admin runner-token create --name host-2 --json",
  ],
  login: [
    "warren login https://warren.example.com:7443 --fingerprint SHA256 --token-stdin < token.txt",
    "warren login https://10.0.0.5:7443 --fingerprint SHA256 --name lab",
  ],
  context: ["warren context ls", "warren context use local"],
  "context ls": ["warren context ls", "warren context ls --json"],
  "context use": ["warren context use lab", "warren context use local"],
  "context rm": ["warren context rm lab"],
  token: ["warren token ls", "warren token revoke tok_0123"],
  "token ls": ["warren token ls", "warren token ls --json"],
  "token revoke": ["warren token revoke tok_0123"],
  audit: ["warren audit ls --since 1d"],
  fleet: ["warren fleet ls", "warren fleet cordon host-2", "warren fleet drain host-2"],
  "fleet ls": ["warren fleet ls", "warren fleet ls --json"],
  "fleet cordon": ["warren fleet cordon host-2                 # no new environments on host-2"],
  "fleet uncordon": ["warren fleet uncordon host-2"],
  "fleet drain": [
    "warren fleet drain host-2                  # cordon it and stop its running environments",
    "warren fleet drain host-2 --json",
  ],
  "audit ls": [
    "warren audit ls --since 2h",
    "warren audit ls --action environment.create --since 2026-01-31T00:00:00Z --json",
  ],
  quota: ["warren quota get", "warren quota set --cpus 64 --memory 256g"],
  "quota get": ["warren quota get", "warren quota get --json"],
  "quota set": [
    "warren quota set --cpus 64 --memory 256g",
    "warren quota set --user-max-running unlimited",
    "warren quota set --max-idle-timeout 8h       # no environment stays up unused longer",
    "warren quota set --public-ports allow         # let members make ports public",
  ],
  secret: ["warren secret set API_KEY --env", "warren secret ls"],
  "secret set": [
    "warren secret set API_KEY --env                     # typed without echo",
    "warren secret set tls.key --file --value-stdin < tls.key",
  ],
  "secret ls": ["warren secret ls", "warren secret ls --json"],
  "secret rm": ["warren secret rm API_KEY", "warren secret rm DB_URL --scope org"],
  port: ["warren port ls dev", "warren port set dev 3000 --visibility org"],
  devcontainer: ["warren devcontainer read-config"],
  "devcontainer read-config": [
    "warren devcontainer read-config                     # the current directory's devcontainer.json",
    "warren devcontainer read-config ~/src/shop --json",
    "warren devcontainer read-config https://github.com/o/r.git --devcontainer .devcontainer/python/devcontainer.json",
  ],
  "port ls": ["warren port ls dev", "warren port ls dev --json"],
  "port set": [
    "warren port set dev 3000 --visibility org      # share with your organisation",
    "warren port set dev 8080 --visibility public   # anyone, where the organisation allows it",
    "warren port set dev 3000 --visibility private",
  ],
  "port open": ["warren port open dev 3000", "warren port open dev 3000 --print"],
  service: ["warren service ls dev", "warren service restart dev web"],
  "service ls": ["warren service ls dev", "warren service ls dev --json"],
  "service start": ["warren service start dev web"],
  "service stop": ["warren service stop dev web"],
  "service restart": ["warren service restart dev web --json"],
  "service logs": ["warren service logs dev web", "warren service logs dev db -n 50"],
  task: ["warren task ls dev", "warren task run dev seed"],
  "task ls": ["warren task ls dev", "warren task ls dev --json"],
  "task run": ["warren task run dev seed", "warren task run dev migrate --json"],
  "task logs": ["warren task logs dev seed", "warren task logs dev seed -n 20"],
  "ssh-key": ["warren ssh-key add", "warren ssh-key ls"],
  "ssh-key add": [
    "warren ssh-key add                                  # ~/.ssh/id_ed25519.pub",
    "warren ssh-key add ~/.ssh/work.pub --name work-laptop",
    "ssh-add -L | head -1 | warren ssh-key add -",
  ],
  "ssh-key ls": ["warren ssh-key ls", "warren ssh-key ls --all --json"],
  "ssh-key rm": ["warren ssh-key rm ssk_0123456789abcdef"],
  ssh: [
    "warren ssh dev                              # a login shell",
    "warren ssh dev -- make test                 # its exit status passes through",
    "warren ssh -A -L 8080:localhost:8080 dev    # your agent inside; its port 8080 on yours",
  ],
  "ssh-config": [
    "warren ssh-config --write                   # then: ssh dev.warren, scp, rsync, VS Code",
    "warren ssh-config",
    "warren ssh-config --write --ssh-config ~/.ssh/warren.conf -i ~/.ssh/id_ed25519",
  ],
  server: ["warren server --listen 0.0.0.0:7443", "warren server --db postgres://warren@db/warren"],
  runner: [
    "warren runner --server https://cp:7443 --fingerprint SHA256 --token-file /etc/warren/runner-token",
    "warren runner --server https://cp:7443 --fingerprint SHA256 --token-file /etc/warren/runner-token --name host-2 --label zone=eu",
    "warren runner --server https://cp:7443 --fingerprint SHA256 --token-file /etc/warren/runner-token-b --name b --root /var/lib/warren-b --run /run/warren-b --prefix warrenb",
  ],
  whoami: ["warren whoami", "warren whoami --json"],
  daemon: ["sudo warren daemon", "sudo warren daemon --listen 0.0.0.0:7443"],
  version: ["warren version", "warren version --json", "warren --version"],
};

/** The path of a command under the program: "" for the program itself, "class create". */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** Adds each command's examples after its help; commands without an entry are left as they are. */
export function addExamples(program: Command): void {
  const visit = (cmd: Command) => {
    const lines = EXAMPLES[commandPath(cmd)];
    if (lines) cmd.addHelpText("after", `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`);
    for (const sub of cmd.commands) visit(sub);
  };
  visit(program);
}
