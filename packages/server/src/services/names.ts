import { randomInt } from "node:crypto";
import { NAME_RE, WarrenError } from "@warren/protocol";

const ADJECTIVES = [
  "amber",
  "brave",
  "calm",
  "clever",
  "crisp",
  "eager",
  "fuzzy",
  "gentle",
  "happy",
  "jolly",
  "keen",
  "lively",
  "mellow",
  "nimble",
  "quiet",
  "rapid",
  "shiny",
  "steady",
  "sunny",
  "witty",
];
const NOUNS = [
  "badger",
  "beaver",
  "falcon",
  "ferret",
  "gecko",
  "heron",
  "koala",
  "lynx",
  "marten",
  "otter",
  "panda",
  "puffin",
  "rabbit",
  "raven",
  "robin",
  "stoat",
  "tapir",
  "walrus",
  "weasel",
  "wombat",
];

const ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789";

/** Twelve random lowercase letters and digits: the id every host object's name derives from. */
export function newEnvId(): string {
  let id = "";
  for (let i = 0; i < 12; i++) id += ALNUM[randomInt(ALNUM.length)];
  return id;
}

/** adjective-noun-4hex, e.g. `brave-otter-3f9a`; always matches NAME_RE. */
export function generateName(): string {
  const pick = (xs: string[]) => xs[randomInt(xs.length)]!;
  const hex = randomInt(0x10000).toString(16).padStart(4, "0");
  return `${pick(ADJECTIVES)}-${pick(NOUNS)}-${hex}`;
}

export function validateName(name: string, what = "name"): void {
  if (!NAME_RE.test(name)) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `invalid ${what} "${name}": use 1 to 40 lowercase letters, digits and dashes, starting and ending with a letter or digit`,
      { field: what },
    );
  }
}

/**
 * A name for a NEW environment: NAME_RE without `--`, which separates the parts of a port URL's
 * host label (`8080--dev--acme.localhost`, ingress/port-host.ts). Names made before this rule keep
 * working; their ports are reached through the id form.
 */
export function validateNewEnvName(name: string): void {
  validateName(name);
  if (name.includes("--")) {
    throw new WarrenError(
      "INVALID_ARGUMENT",
      `invalid name "${name}": "--" is reserved for port URLs (PORT--ENV--ORG); use single dashes`,
      { field: "name" },
    );
  }
}
