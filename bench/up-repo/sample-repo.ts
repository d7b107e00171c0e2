// The sample repository both tools bring up: a Dockerfile FROM an image in the bench's local
// registry, one local Feature with an option (its install.sh writes the option's value and it
// contributes a containerEnv), a postCreateCommand; and a second, image-only configuration.
// Each tool's environment is checked for all of it, so neither side is timed doing less.

export const IMAGE_CONFIG = ".devcontainer/image/devcontainer.json";

export function sampleRepoFiles(baseImage: string): Record<string, string> {
  return {
    "README.md": "A sample repository for bench/up-repo.\n",
    ".devcontainer/devcontainer.json": `${JSON.stringify(
      {
        name: "bench-up-repo",
        build: { dockerfile: "Dockerfile", args: { GREETING: "hello" } },
        features: { "./features/marker": { flavour: "mint" } },
        postCreateCommand: "echo ready > /tmp/bench-ready",
      },
      null,
      2,
    )}\n`,
    ".devcontainer/Dockerfile": `FROM ${baseImage}\nARG GREETING=hi\nRUN echo "$GREETING" > /etc/bench-greeting\n`,
    ".devcontainer/features/marker/devcontainer-feature.json": `${JSON.stringify(
      {
        id: "marker",
        version: "1.0.0",
        name: "Marker",
        options: { flavour: { type: "string", default: "plain" } },
        containerEnv: { MARKER_HOME: "/opt/marker" },
      },
      null,
      2,
    )}\n`,
    ".devcontainer/features/marker/install.sh":
      '#!/bin/sh\nset -e\nmkdir -p /opt/marker\necho "$FLAVOUR" > /opt/marker/flavour\n',
    [IMAGE_CONFIG]: `${JSON.stringify(
      { name: "bench-up-repo-image", image: baseImage, postCreateCommand: "echo ready > /tmp/bench-ready" },
      null,
      2,
    )}\n`,
  };
}

/** A shell check that an environment made from the Dockerfile configuration has everything. */
export const DOCKERFILE_CHECK =
  'test "$(cat /etc/bench-greeting)" = hello && test "$(cat /opt/marker/flavour)" = mint && ' +
  'test "$MARKER_HOME" = /opt/marker && test -f /tmp/bench-ready';
/** The same for the image-only configuration. */
export const IMAGE_CHECK = "test -f /tmp/bench-ready";
