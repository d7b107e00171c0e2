// Create an environment from an image or from a repository (its devcontainer.json is used when it
// has one), with a class from the organisation's classes.
import { useEffect, useState } from "preact/hooks";
import { api, errorMessage, type RequestBody, type Schemas, unwrap } from "../api.ts";
import { DEFAULT_IMAGE, ensureImage } from "../images.ts";
import { navigate } from "../router.ts";

type Source = "image" | "repo";
type CreateBody = RequestBody<"/api/v1/environments", "post">;

export function CreateEnvironment() {
  const [classes, setClasses] = useState<Schemas["ClassSpec"][]>([]);
  const [source, setSource] = useState<Source>("image");
  const [name, setName] = useState("");
  const [image, setImage] = useState(DEFAULT_IMAGE);
  const [repo, setRepo] = useState("");
  const [branch, setBranch] = useState("");
  const [devcontainerPath, setDevcontainerPath] = useState("");
  const [className, setClassName] = useState("");
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<string>();

  useEffect(() => {
    unwrap(api.GET("/api/v1/classes")).then(
      (r) => {
        const items = (r as { items: Schemas["ClassSpec"][] }).items;
        setClasses(items);
        setClassName((c) => c || (items.find((k) => k.name === "standard") ?? items[0])?.name || "");
      },
      (err: unknown) => setError(errorMessage(err)),
    );
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    const body: CreateBody = {};
    if (name.trim()) body.name = name.trim();
    if (className) body.className = className;
    if (source === "image") body.image = image.trim() || DEFAULT_IMAGE;
    else {
      body.repo = { url: repo.trim() };
      if (branch.trim()) body.repo.branch = branch.trim();
      if (devcontainerPath.trim()) body.repo.devcontainerPath = devcontainerPath.trim();
    }
    try {
      setBusy("Preparing the image…");
      await ensureImage(source === "image" ? body.image : undefined, (t) => setBusy(t));
      setBusy("Creating…");
      const env = await unwrap(api.POST("/api/v1/environments", { body }));
      navigate(`/env/${encodeURIComponent(env.name)}`);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <>
      <h1>New environment</h1>
      <form class="form" onSubmit={(e) => void submit(e)}>
        <fieldset>
          <legend>Start from</legend>
          <label class="inline">
            <input
              type="radio"
              name="source"
              checked={source === "image"}
              onChange={() => setSource("image")}
            />
            An image
          </label>
          <label class="inline">
            <input
              type="radio"
              name="source"
              checked={source === "repo"}
              onChange={() => setSource("repo")}
            />
            A repository (uses its devcontainer.json)
          </label>
        </fieldset>
        {source === "image" ? (
          <div class="field">
            <label for="image">Image</label>
            <input id="image" value={image} onInput={(e) => setImage(e.currentTarget.value)} required />
          </div>
        ) : (
          <>
            <div class="field">
              <label for="repo">Repository URL</label>
              <input
                id="repo"
                type="url"
                placeholder="https://github.com/owner/project"
                value={repo}
                onInput={(e) => setRepo(e.currentTarget.value)}
                required
              />
            </div>
            <div class="field">
              <label for="branch">Branch (optional)</label>
              <input id="branch" value={branch} onInput={(e) => setBranch(e.currentTarget.value)} />
            </div>
            <div class="field">
              <label for="devcontainer">devcontainer.json path (optional)</label>
              <input
                id="devcontainer"
                placeholder=".devcontainer/devcontainer.json"
                value={devcontainerPath}
                onInput={(e) => setDevcontainerPath(e.currentTarget.value)}
              />
            </div>
          </>
        )}
        <div class="field">
          <label for="name">Name (optional)</label>
          <input
            id="name"
            pattern="[a-z0-9]([a-z0-9-]*[a-z0-9])?"
            title="lower-case letters, digits and dashes"
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="class">Class</label>
          <select id="class" value={className} onChange={(e) => setClassName(e.currentTarget.value)}>
            {classes.map((c) => (
              <option key={c.name} value={c.name}>
                {c.name} ({c.cpus} CPU, {Math.round(c.memoryBytes / 2 ** 30)} GiB memory,{" "}
                {Math.round(c.diskBytes / 2 ** 30)} GiB disk)
              </option>
            ))}
          </select>
        </div>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        {busy && <p role="status">{busy}</p>}
        <button type="submit" disabled={busy !== undefined}>
          Create
        </button>
      </form>
    </>
  );
}
