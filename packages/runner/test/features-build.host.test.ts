// Features installed on an image with buildah under a real environment's ids and network: two
// local Features (one with options and a dependency on the other, ordered by the devcontainer
// package's orderFeatures as the control plane does) and an OCI Feature pulled from a real
// docker-registry. Marker files written by each install.sh show the order, the option values,
// the users and the containerEnv of earlier Features; the built image's config has the
// Features' containerEnv and the devcontainer.metadata label; a failing install names itself.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { featureOptions, orderFeatures } from "@warren/devcontainer";
import {
  type FeatureInstall,
  type FetchedFeature,
  isWarrenError,
  type ProgressEvent,
} from "@warren/protocol";
import { startRegistry, type TestRegistry } from "@warren/testing/registry";
import { buildFeaturesImpl } from "../src/build/features-build.ts";
import { fetchFeatureImpl } from "../src/build/features-fetch.ts";
import { FEATURE_LAYER_TYPE } from "../src/build/features-remote.ts";
import { type FeaturesFixture, featuresFixture, featuresReady } from "./features-fixture.ts";

const buildah = (() => {
  try {
    execFileSync("buildah", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();
const skip =
  !(featuresReady && buildah) && process.env["CI"] !== "true"
    ? "needs root, crun, busybox-static and buildah"
    : false;

let fx: FeaturesFixture;
let reg: TestRegistry | undefined;

/** An install.sh that records its turn, its options, the users and what earlier Features set. */
const recorder = (id: string, vars: string[]) =>
  `#!/bin/sh\nset -e\nmkdir -p /markers\nn=$(ls /markers | wc -l | tr -d ' ')\n` +
  `{ echo "order=$n"; ${vars.map((v) => `echo "${v}=$${v}"`).join("; ")}; } > /markers/${id}\n`;

const USERS = ["_REMOTE_USER", "_REMOTE_USER_HOME", "_CONTAINER_USER", "_CONTAINER_USER_HOME"];

const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

async function pushOciFeature(host: string, repo: string, files: Record<string, string>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "warren-oci-feature-"));
  try {
    for (const [name, text] of Object.entries(files))
      fs.writeFileSync(path.join(dir, name), text, { mode: 0o755 });
    const layer = execFileSync("tar", ["-cf", "-", "-C", dir, "."]);
    const config = Buffer.from("{}");
    for (const blob of [config, layer]) {
      const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: "POST" });
      const loc = new URL(start.headers.get("location")!, `http://${host}`);
      loc.searchParams.set("digest", sha(blob));
      const put = await fetch(loc, { method: "PUT", body: blob });
      assert.equal(put.status, 201, await put.text());
    }
    const manifest = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.devcontainers", digest: sha(config), size: config.length },
      layers: [{ mediaType: FEATURE_LAYER_TYPE, digest: sha(layer), size: layer.length }],
    };
    const res = await fetch(`http://${host}/v2/${repo}/manifests/1`, {
      method: "PUT",
      body: JSON.stringify(manifest),
      headers: { "content-type": manifest.mediaType },
    });
    assert.equal(res.status, 201, await res.text());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A file of the built image, read on the host from the topmost store layer that has it. */
async function imageFile(ref: string, rel: string): Promise<string | undefined> {
  const rec = await fx.engine.ctx.images.readRecord(ref);
  for (const diffId of [...rec.layers].reverse()) {
    const p = path.join(fx.engine.ctx.images.layerDir(diffId), rel);
    if (fs.existsSync(p)) return fs.readFileSync(p, "utf8");
  }
  return undefined;
}

describe("Features installed with buildah", { skip }, () => {
  before(async () => {
    fx = await featuresFixture({ registryAllow: "127.0.0.1" });
    reg = await startRegistry();
  });
  after(async () => {
    await reg?.stop();
    await fx?.cleanup();
  });

  const fetchOne = (source: string) =>
    fetchFeatureImpl(
      fx.engine.ctx,
      { envId: fx.envId, source, configDir: `${fx.repoRoot}/.devcontainer`, repoRoot: fx.repoRoot },
      () => {},
    );

  test("local Features with options and a dependency, and an OCI Feature, install in order", async () => {
    const json = (o: object) => JSON.stringify(o);
    await fx.writeRepo({
      ".devcontainer/base-tool/devcontainer-feature.json": json({
        id: "base-tool",
        version: "1.0.0",
        containerEnv: { BASE_TOOL_HOME: "/opt/base-tool", PATH: "/opt/base-tool/bin:$" + "{PATH}" },
      }),
      ".devcontainer/base-tool/install.sh": recorder("base-tool", [...USERS, "BASE_TOOL_HOME"]),
      ".devcontainer/greeter/devcontainer-feature.json": json({
        id: "greeter",
        version: "2.1.0",
        options: {
          greeting: { type: "string", default: "hello" },
          loud: { type: "boolean", default: false },
          "max-count": { type: "string", default: "3" },
        },
        dependsOn: { "./base-tool": {} },
        containerEnv: { GREETER: "on" },
      }),
      ".devcontainer/greeter/install.sh": recorder("greeter", [
        "GREETING",
        "LOUD",
        "MAX_COUNT",
        "BASE_TOOL_HOME",
        "_REMOTE_USER",
      ]),
    });
    await pushOciFeature(reg!.host, "features/ocihello", {
      "devcontainer-feature.json": json({ id: "ocihello", installsAfter: ["./greeter"] }),
      "install.sh": recorder("ocihello", ["GREETER"]),
    });
    const oci = `${reg!.host}/features/ocihello:1`;
    // As devcontainer.json lists them; the dependency is listed last, the OCI one first.
    const given: Record<string, Record<string, string | boolean>> = {
      [oci]: {},
      "./greeter": { greeting: "hi 'there' $HOME", loud: true },
      "./base-tool": {},
    };
    const fetched = new Map<string, FetchedFeature>();
    for (const source of Object.keys(given)) fetched.set(source, await fetchOne(source));
    const order = orderFeatures(
      [...fetched.values()].map((f) => ({ source: f.source, id: f.id, metadata: f.metadata })),
    );
    assert.deepEqual(order, ["./base-tool", "./greeter", oci]);
    const installs: FeatureInstall[] = order.map((source) => {
      const f = fetched.get(source)!;
      return { source, id: f.id, digest: f.digest, options: featureOptions(f.metadata, given[source]) };
    });

    const events: ProgressEvent[] = [];
    const tag = "warren-build/features-test:1";
    const t0 = Date.now();
    const built = await buildFeaturesImpl(
      fx.engine.ctx,
      { envId: fx.envId, baseImage: fx.image, features: installs, remoteUser: "user", tag },
      (e) => {
        events.push(e);
        if (process.env["FEATURES_TRACE"]) console.log(`# ${Date.now() - t0} ${e.message.slice(0, 120)}`);
      },
    );
    console.log(`# Features build: ${Date.now() - t0} ms`);
    assert.equal(built.ref, tag);

    const marker = async (id: string) => {
      const text = await imageFile(tag, `markers/${id}`);
      assert.ok(text, `install.sh of ${id} left no marker`);
      return Object.fromEntries(
        text
          .trim()
          .split("\n")
          .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      );
    };
    assert.deepEqual(await marker("base-tool"), {
      order: "0",
      _REMOTE_USER: "user",
      _REMOTE_USER_HOME: "/tmp",
      _CONTAINER_USER: "root",
      _CONTAINER_USER_HOME: "/root",
      BASE_TOOL_HOME: "/opt/base-tool",
    });
    assert.deepEqual(await marker("greeter"), {
      order: "1",
      GREETING: "hi 'there' $HOME",
      LOUD: "true",
      MAX_COUNT: "3",
      BASE_TOOL_HOME: "/opt/base-tool",
      _REMOTE_USER: "user",
    });
    assert.deepEqual(await marker("ocihello"), { order: "2", GREETER: "on" });
    // The Features' folders are gone from the image; only their results stay.
    assert.equal(await imageFile(tag, "tmp/dev-container-features/1-greeter/install.sh"), undefined);

    const img = await fx.engine.ctx.images.get(tag);
    const env = Object.fromEntries(
      img.config.env.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
    );
    assert.equal(env["BASE_TOOL_HOME"], "/opt/base-tool");
    assert.equal(env["GREETER"], "on");
    assert.match(
      env["PATH"] ?? "",
      /^\/opt\/base-tool\/bin:.+/,
      "a Feature's PATH reference expanded to the base's PATH",
    );
    const label = JSON.parse(img.config.labels?.["devcontainer.metadata"] ?? "null") as { id?: string }[];
    assert.deepEqual(
      label.map((e) => e.id),
      ["./base-tool", "./greeter", oci],
    );
    assert.ok(
      events.some((e) => /Feature {7}: greeter/.test(e.message)),
      "install output streams as progress",
    );
  });

  test("a failing install.sh fails the build and names the Feature", async () => {
    await fx.writeRepo({
      ".devcontainer/broken/devcontainer-feature.json": JSON.stringify({ id: "broken", name: "Broken One" }),
      ".devcontainer/broken/install.sh": "#!/bin/sh\necho about to fail\nexit 3\n",
    });
    const f = await fetchOne("./broken");
    await assert.rejects(
      buildFeaturesImpl(
        fx.engine.ctx,
        {
          envId: fx.envId,
          baseImage: fx.image,
          features: [{ source: "./broken", id: f.id, digest: f.digest, options: {} }],
          tag: "warren-build/features-broken:1",
        },
        () => {},
      ),
      (e: unknown) => isWarrenError(e) && /Feature "Broken One" \(broken\) failed to install/.test(e.message),
    );
    assert.equal(await fx.engine.ctx.images.has("warren-build/features-broken:1"), false);
  });
});
