// fetchFeature against the real Engine: a local Feature comes out of a running environment (and
// one that leads out of the repository, by path or by symlink, is refused), an OCI Feature is
// pulled from a real docker-registry it was pushed to with the registry HTTP API, and a tarball
// comes from an HTTP server; each lands in the cache by digest, and a second fetch reuses it.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import type net from "node:net";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { isWarrenError, type ProgressEvent } from "@warren/protocol";
import { startRegistry, type TestRegistry } from "@warren/testing/registry";
import { cachedFeature } from "../src/build/features-cache.ts";
import { fetchFeatureImpl } from "../src/build/features-fetch.ts";
import { FEATURE_LAYER_TYPE } from "../src/build/features-remote.ts";
import { type FeaturesFixture, featureFiles, featuresFixture, featuresReady } from "./features-fixture.ts";

const skip = !featuresReady && process.env["CI"] !== "true" ? "needs root, crun and busybox-static" : false;

let fx: FeaturesFixture;
let reg: TestRegistry | undefined;
let tarballServer: http.Server | undefined;
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "warren-features-src-"));

/** A tar (optionally gzip'd) of a folder holding `files`, made with the host's tar. */
function archive(files: Record<string, string>, gzip: boolean): Buffer {
  const dir = fs.mkdtempSync(path.join(scratch, "f-"));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text, { mode: 0o755 });
  }
  return execFileSync("tar", [gzip ? "-czf" : "-cf", "-", "-C", dir, "."]);
}

const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

/** Pushes an OCI artifact the way `devcontainer features publish` lays it out, over the registry API. */
async function pushFeature(
  host: string,
  repo: string,
  tag: string,
  layer: Buffer,
  layerType = FEATURE_LAYER_TYPE,
): Promise<string> {
  const put = async (blob: Buffer) => {
    const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: "POST" });
    assert.equal(start.status, 202, await start.text());
    const loc = new URL(start.headers.get("location")!, `http://${host}`);
    loc.searchParams.set("digest", sha(blob));
    const done = await fetch(loc, {
      method: "PUT",
      body: blob,
      headers: { "content-type": "application/octet-stream" },
    });
    assert.equal(done.status, 201, await done.text());
  };
  const config = Buffer.from("{}");
  await put(config);
  await put(layer);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.devcontainers", digest: sha(config), size: config.length },
    layers: [
      {
        mediaType: layerType,
        digest: sha(layer),
        size: layer.length,
        annotations: { "org.opencontainers.image.title": "devcontainer-feature-hello.tgz" },
      },
    ],
  });
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, {
    method: "PUT",
    body: manifest,
    headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
  });
  assert.equal(res.status, 201, await res.text());
  return sha(layer);
}

describe("fetchFeature on the Engine", { skip }, () => {
  before(async () => {
    fx = await featuresFixture({ registryAllow: "127.0.0.1" });
  });
  after(async () => {
    await reg?.stop();
    if (tarballServer) await new Promise((r) => tarballServer!.close(r));
    await fx?.cleanup();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  const req = (source: string) => ({
    envId: fx.envId,
    source,
    configDir: `${fx.repoRoot}/.devcontainer`,
    repoRoot: fx.repoRoot,
  });

  test("a local Feature is read out of the environment into the cache, by a stable digest", async () => {
    const files = featureFiles("hello", { options: { greeting: { type: "string", default: "hi" } } });
    await fx.writeRepo(
      Object.fromEntries(Object.entries(files).map(([k, v]) => [`.devcontainer/hello/${k}`, v])),
    );
    const events: ProgressEvent[] = [];
    const got = await fetchFeatureImpl(fx.engine.ctx, req("./hello"), (e) => events.push(e));
    assert.equal(got.id, "hello");
    assert.equal(got.source, "./hello");
    assert.deepEqual(got.metadata["options"], { greeting: { type: "string", default: "hi" } });
    assert.match(got.digest, /^sha256:[a-f0-9]{64}$/);
    const entry = await cachedFeature(fx.engine.ctx, got.digest);
    assert.equal(fs.readFileSync(path.join(entry!.contentDir, "install.sh"), "utf8"), files["install.sh"]);
    assert.ok(events.some((e) => e.phase === "feature"));
    // The same files give the same digest (the cache and the build key depend on it).
    const again = await fetchFeatureImpl(fx.engine.ctx, req("./hello/"), () => {});
    assert.equal(again.digest, got.digest);
    // A change in the folder is a new digest.
    await fx.writeRepo({ ".devcontainer/hello/install.sh": `${files["install.sh"]}# changed\n` });
    const changed = await fetchFeatureImpl(fx.engine.ctx, req("./hello"), () => {});
    assert.notEqual(changed.digest, got.digest);
  });

  test("a local Feature that leads out of the repository, or is not a Feature, is refused", async () => {
    const refused = async (source: string, what: RegExp) => {
      await assert.rejects(
        fetchFeatureImpl(fx.engine.ctx, req(source), () => {}),
        (e: unknown) => isWarrenError(e) && e.code === "INVALID_ARGUMENT" && what.test(e.message),
        source,
      );
    };
    await refused("../../../etc", /outside the repository/);
    // A symlink inside the repository pointing out of it is followed only inside the environment, and refused.
    await fx.writeRepo(featureFilesAt("/tmp/outside", "outside"));
    const ln = await fx.sh(`ln -s /tmp/outside ${fx.repoRoot}/.devcontainer/escape`);
    assert.equal(ln.code, 0, ln.stderr);
    await refused("./escape", /leads to \/tmp\/outside outside the repository/);
    await refused("./missing", /there is no folder/);
    await fx.writeRepo({ ".devcontainer/nojson/install.sh": "#!/bin/sh\n" });
    await refused("./nojson", /no devcontainer-feature\.json/);
    await fx.writeRepo({ ".devcontainer/noinstall/devcontainer-feature.json": '{"id":"noinstall"}' });
    await refused("./noinstall", /no install\.sh/);
    await fx.writeRepo(featureFilesAt(`${fx.repoRoot}/.devcontainer/dind`, "docker-in-docker"));
    await refused("./dind", /automations\.yaml/);
  });

  function featureFilesAt(dir: string, id: string): Record<string, string> {
    // writeRepo writes relative to the repository; an absolute dir is reached with ../ hops.
    const rel = path.posix.relative(fx.repoRoot, dir);
    return Object.fromEntries(Object.entries(featureFiles(id)).map(([k, v]) => [`${rel}/${k}`, v]));
  }

  test("an OCI Feature is pulled from a registry through the guarded client and cached by its layer digest", async () => {
    reg = await startRegistry();
    const layer = archive(featureFiles("ocihello", { containerEnv: { OCI_HELLO: "yes" } }), false);
    const digest = await pushFeature(reg.host, "features/ocihello", "1", layer);
    const got = await fetchFeatureImpl(fx.engine.ctx, req(`${reg.host}/features/ocihello:1`), () => {});
    assert.equal(got.id, "ocihello");
    assert.equal(got.digest, digest);
    assert.deepEqual(got.metadata["containerEnv"], { OCI_HELLO: "yes" });
    // Cached: a second fetch asks for the manifest only, never the blob again.
    const events: ProgressEvent[] = [];
    await fetchFeatureImpl(fx.engine.ctx, req(`${reg.host}/features/ocihello:1`), (e) => events.push(e));
    assert.ok(
      events.some((e) => /cached/.test(e.message)),
      JSON.stringify(events),
    );
    // An image is not a Feature.
    await pushFeature(reg.host, "features/image", "1", layer, "application/vnd.oci.image.layer.v1.tar");
    await assert.rejects(
      fetchFeatureImpl(fx.engine.ctx, req(`${reg.host}/features/image:1`), () => {}),
      (e: unknown) => isWarrenError(e) && /is not a devcontainer Feature/.test(e.message),
    );
    await assert.rejects(
      fetchFeatureImpl(fx.engine.ctx, req(`${reg.host}/features/nothere:1`), () => {}),
      (e: unknown) => isWarrenError(e) && e.code === "IMAGE_NOT_FOUND",
    );
  });

  test("without the allow-list, the SSRF guard refuses a Feature registry on loopback", async () => {
    const saved = fx.engine.ctx.cfg.registryAllow;
    fx.engine.ctx.cfg.registryAllow = "";
    try {
      await assert.rejects(
        fetchFeatureImpl(fx.engine.ctx, req("127.0.0.1:1/features/x:1"), () => {}),
        (e: unknown) =>
          isWarrenError(e) && e.code === "REGISTRY_REFUSED" && /WARREN_REGISTRY_ALLOW/.test(e.message),
      );
      await assert.rejects(
        fetchFeatureImpl(fx.engine.ctx, req("https://127.0.0.1:1/x.tgz"), () => {}),
        (e: unknown) => isWarrenError(e) && e.code === "REGISTRY_REFUSED",
      );
    } finally {
      fx.engine.ctx.cfg.registryAllow = saved;
    }
  });

  test("a tarball Feature is downloaded with a size cap and cached by its digest", async () => {
    const tgz = archive(featureFiles("tarhello"), true);
    let hits = 0;
    tarballServer = http.createServer((rq, res) => {
      hits++;
      if (rq.url === "/hello.tgz") res.writeHead(200, { "content-length": tgz.length }).end(tgz);
      else res.writeHead(404).end("no");
    });
    await new Promise<void>((r) => tarballServer!.listen(0, "127.0.0.1", r));
    const port = (tarballServer.address() as net.AddressInfo).port;
    const got = await fetchFeatureImpl(fx.engine.ctx, req(`http://127.0.0.1:${port}/hello.tgz`), () => {});
    assert.equal(got.id, "tarhello");
    assert.equal(got.digest, sha(tgz));
    assert.equal(hits, 1);
    await assert.rejects(
      fetchFeatureImpl(fx.engine.ctx, req(`http://127.0.0.1:${port}/missing.tgz`), () => {}),
      (e: unknown) => isWarrenError(e) && /answered/.test(e.message),
    );
  });
});
