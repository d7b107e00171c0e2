// devcontainer.json: JSONC to a typed DevcontainerConfig. Every supported property is type-checked;
// a wrong one fails with file:line:column and its JSON path; an unknown one only warns.
import { type Locator, type Node, nodeValue, parseJsoncTree, pathKey } from "./jsonc-tree.ts";
import { mountProblem } from "./mounts.ts";
import {
  any,
  arrayOf,
  bool,
  type Check,
  enumOf,
  int,
  nonEmptyStr,
  objectOf,
  oneOf,
  pattern,
  recordOf,
  str,
} from "./schema.ts";
import type { DevcontainerConfig } from "./types.ts";

const SIZE = /^\d+([tgmk]b)?$/;
const sizeCheck = pattern(SIZE, "a size like 8gb, 512mb or a number of bytes", '"8gb"');

const lifecycleCommand: Check = oneOf(
  [
    { types: ["string"], check: str() },
    { types: ["array"], check: arrayOf(str('"npm"')) },
    {
      types: ["object"],
      check: recordOf(
        oneOf(
          [
            { types: ["string"], check: str() },
            { types: ["array"], check: arrayOf(str()) },
          ],
          "a command string or an array of arguments",
        ),
      ),
    },
  ],
  "a command: a string, an array of arguments, or an object of named commands run in parallel",
  '"npm install", ["npm", "install"] or {"deps": "npm install", "db": "make db"}',
);

const port: Check = oneOf(
  [
    { types: ["number"], check: int(1, 65535, "3000") },
    {
      types: ["string"],
      check: (n, p, cx) => {
        pattern(/^([a-z0-9.-]+):(\d{1,5})$/, "a port or HOST:PORT", '3000 or "localhost:3000"')(n, p, cx);
        const num = Number(String(n.value).split(":").pop());
        if (num < 1 || num > 65535)
          throw cx.loc.error(n.offset, p, `port ${num} is out of range; use 1 to 65535`);
      },
    },
  ],
  "a port number or a HOST:PORT string",
  '3000 or "localhost:3000"',
);

const portAttributes: Check = objectOf(
  {
    label: str('"Web app"'),
    onAutoForward: enumOf(["notify", "openBrowser", "openBrowserOnce", "openPreview", "silent", "ignore"]),
    requireLocalPort: bool,
    elevateIfNeeded: bool,
    protocol: enumOf(["http", "https"]),
  },
  { example: '{"label": "Web app", "onAutoForward": "notify"}' },
);

const mount: Check = oneOf(
  [
    {
      types: ["string"],
      check: (n, p, cx) => {
        const bad = mountProblem(String(n.value));
        if (bad) throw cx.loc.error(n.offset, p, bad);
      },
    },
    {
      types: ["object"],
      check: objectOf(
        {
          type: enumOf(["bind", "volume"]),
          source: str(),
          target: pattern(/^\//, "an absolute path", '"/data"'),
        },
        {
          strict: true,
          required: ["type", "target"],
          example: '{"type": "volume", "source": "data", "target": "/data"}',
        },
      ),
    },
  ],
  "a mount string or object",
  '"source=data,target=/data,type=volume"',
);

const stringList = (example: string) => arrayOf(str(example), `[${example}]`);
const env = (example: string) => recordOf(str(example), `{"NAME": ${example}}`);

/** Properties Warren reads, each with its check. */
export const PROPERTY_CHECKS: Record<string, Check> = {
  $schema: str(),
  name: str('"My project"'),
  image: nonEmptyStr('"mcr.microsoft.com/devcontainers/base:bookworm"'),
  build: objectOf(
    {
      dockerfile: nonEmptyStr('"Dockerfile"'),
      context: str('".."'),
      args: env('"1.2"'),
      target: str('"dev"'),
      options: stringList('"--network=host"'),
      cacheFrom: oneOf(
        [
          { types: ["string"], check: str() },
          { types: ["array"], check: stringList('"ghcr.io/o/cache"') },
        ],
        "an image reference or an array of them",
      ),
    },
    { example: '{"dockerfile": "Dockerfile", "context": ".."}' },
  ),
  dockerFile: nonEmptyStr('"Dockerfile"'),
  context: str('".."'),
  dockerComposeFile: oneOf(
    [
      { types: ["string"], check: str() },
      { types: ["array"], check: stringList('"docker-compose.yml"') },
    ],
    "a file name or an array of them",
  ),
  service: str(),
  runServices: stringList('"db"'),
  workspaceFolder: pattern(/^\//, "an absolute path inside the environment", '"/workspaces/app"'),
  workspaceMount: str(),
  features: recordOf(
    oneOf(
      [
        { types: ["string"], check: str() },
        { types: ["boolean"], check: bool },
        {
          types: ["object"],
          check: recordOf(
            oneOf(
              [
                { types: ["string"], check: str() },
                { types: ["boolean"], check: bool },
              ],
              "an option value (a string or true/false)",
              '"20"',
            ),
          ),
        },
      ],
      "a version string, true, or an object of options",
      '{"version": "20"}',
    ),
    '{"ghcr.io/devcontainers/features/node:1": {"version": "20"}}',
    (key) => (key.trim() === "" ? "a Feature reference must not be empty" : undefined),
  ),
  overrideFeatureInstallOrder: stringList('"ghcr.io/devcontainers/features/node"'),
  forwardPorts: arrayOf(port, "[3000, 5432]"),
  portsAttributes: recordOf(portAttributes, '{"3000": {"label": "Web app"}}'),
  otherPortsAttributes: portAttributes,
  appPort: oneOf(
    [
      { types: ["number"], check: int(1, 65535) },
      { types: ["string"], check: str() },
      {
        types: ["array"],
        check: arrayOf(
          oneOf(
            [
              { types: ["number"], check: int(1, 65535) },
              { types: ["string"], check: str() },
            ],
            "a port",
          ),
        ),
      },
    ],
    "a port, a string or an array of them",
  ),
  containerEnv: env('"value"'),
  remoteEnv: recordOf(
    oneOf(
      [
        { types: ["string"], check: str() },
        { types: ["null"], check: any },
      ],
      "a string, or null to unset it",
      '"value"',
    ),
    '{"NAME": "value"}',
  ),
  containerUser: nonEmptyStr('"vscode"'),
  remoteUser: nonEmptyStr('"vscode"'),
  updateRemoteUserUID: bool,
  userEnvProbe: enumOf(["none", "interactiveShell", "loginShell", "loginInteractiveShell"]),
  overrideCommand: bool,
  shutdownAction: enumOf(["none", "stopContainer", "stopCompose"]),
  init: bool,
  privileged: bool,
  capAdd: stringList('"SYS_PTRACE"'),
  securityOpt: stringList('"seccomp=unconfined"'),
  mounts: arrayOf(mount, '["source=data,target=/data,type=volume"]'),
  runArgs: stringList('"--cap-add=SYS_PTRACE"'),
  hostRequirements: objectOf(
    {
      cpus: int(1, 4096, "4"),
      memory: sizeCheck,
      storage: sizeCheck,
      gpu: oneOf(
        [
          { types: ["boolean"], check: bool },
          { types: ["string"], check: enumOf(["optional"]) },
          {
            types: ["object"],
            check: objectOf({ cores: int(1, 100000), memory: sizeCheck }, { strict: true }),
          },
        ],
        'true, false, "optional" or {"cores": N, "memory": "8gb"}',
      ),
    },
    { example: '{"cpus": 4, "memory": "8gb", "storage": "32gb"}' },
  ),
  customizations: recordOf(any, '{"vscode": {"extensions": []}}'),
  initializeCommand: lifecycleCommand,
  onCreateCommand: lifecycleCommand,
  updateContentCommand: lifecycleCommand,
  postCreateCommand: lifecycleCommand,
  postStartCommand: lifecycleCommand,
  postAttachCommand: lifecycleCommand,
  waitFor: enumOf([
    "initializeCommand",
    "onCreateCommand",
    "updateContentCommand",
    "postCreateCommand",
    "postStartCommand",
  ]),
  secrets: recordOf(any),
};

/** Recognised properties Warren does not act on, with why (a warning each). */
export const IGNORED_PROPERTIES: Record<string, string> = {
  appPort:
    "publishes ports on the host; use forwardPorts (they reach the environment through Warren's port proxy)",
  workspaceMount:
    "the repository is cloned onto the environment's own disk at workspaceFolder, never bind-mounted from a host",
  shutdownAction: "environments stop by `warren stop` or their idle timeout",
  secrets: "recommended secrets are not prompted for; set them with `warren secret`",
  "build.options": "extra `docker build` flags are not passed to the builder",
  "build.cacheFrom": "builds are cached by content; cacheFrom is not used",
};

/** Parses devcontainer.json text. Throws WarrenError(INVALID_ARGUMENT) at the first wrong value. */
export function parseDevcontainer(
  text: string,
  file: string,
): { config: DevcontainerConfig; warnings: string[] } {
  const { tree, loc } = parseJsoncTree(text, file);
  const warnings: string[] = [];
  const cx = { loc, warnings };
  objectOf(PROPERTY_CHECKS, { example: '{"image": "mcr.microsoft.com/devcontainers/base:bookworm"}' })(
    tree,
    "",
    cx,
  );
  checkVariables(tree, "", loc);
  const config = nodeValue(tree) as DevcontainerConfig;
  for (const prop of tree.children ?? []) {
    const [k] = prop.children ?? [];
    const key = String(k?.value);
    const reason = Object.hasOwn(IGNORED_PROPERTIES, key) ? IGNORED_PROPERTIES[key] : undefined;
    if (k && reason) warnings.push(`${loc.where(k.offset)}: ${pathKey("", key)}: ignored: ${reason}`);
  }
  for (const sub of ["options", "cacheFrom"] as const) {
    if (config.build && Object.hasOwn(config.build, sub)) {
      warnings.push(`${file}: build.${sub}: ignored: ${IGNORED_PROPERTIES[`build.${sub}`]}`);
    }
  }
  if (
    config.image !== undefined &&
    (config.build?.dockerfile !== undefined || config.dockerFile !== undefined)
  ) {
    warnings.push(
      `${file}: image: ignored because a Dockerfile is given (build.dockerfile wins, as in the reference)`,
    );
  }
  return { config, warnings };
}

/** ${localEnv}, ${env} and ${containerEnv} need a variable name; say where one is missing. */
function checkVariables(node: Node, path: string, loc: Locator): void {
  if (node.type === "string") {
    for (const m of String(node.value).matchAll(/\$\{(.*?)\}/g)) {
      const [name, arg] = (m[1] ?? "").split(":");
      if ((name === "localEnv" || name === "env" || name === "containerEnv") && !arg) {
        throw loc.error(
          node.offset,
          path,
          `${m[0]} names no variable; write \${${name}:NAME} or \${${name}:NAME:default}`,
        );
      }
    }
    return;
  }
  if (node.type === "array") {
    (node.children ?? []).forEach((c, i) => {
      checkVariables(c, `${path}[${i}]`, loc);
    });
  } else if (node.type === "object") {
    for (const prop of node.children ?? []) {
      const [k, v] = prop.children ?? [];
      if (k && v) checkVariables(v, pathKey(path, String(k.value)), loc);
    }
  }
}
