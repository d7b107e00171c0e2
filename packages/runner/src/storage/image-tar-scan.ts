// A streaming reader of tar headers that vets every entry BEFORE GNU tar sees the bytes that
// complete its header. GNU tar does the actual extraction (ownership, xattrs, devices, sparse
// files); this only decides whether an entry is safe to hand over and notes OCI whiteouts.
// It is a basic safety net (absolute paths, `..`, writing through an in-layer symlink), not the
// full hostile-layer hardening.
import { WarrenError } from "@warren/protocol";

const BLOCK = 512;
/** PAX and GNU long-name records are small; anything bigger is an attack or garbage. */
const MAX_META_BYTES = 1024 * 1024;
const KNOWN_TYPES = new Set(["0", "1", "2", "3", "4", "5", "6", "7", "S", "x", "g", "L", "K"]);

export interface TarEntry {
  /** Normalized relative path ("" for the layer root). */
  path: string;
  type: string;
  linkTarget: string;
}

type State =
  | { kind: "header" }
  | { kind: "skip"; remaining: number }
  | { kind: "meta"; type: string; remaining: number; padding: number; parts: Buffer[] }
  | { kind: "sparse-ext" }
  | { kind: "ended" };

export class TarScanner {
  /** Relative paths of `.wh.*` entries, in archive order. */
  readonly whiteouts: string[] = [];
  /** Byte offset just past the end-of-archive marker, once seen. */
  endOffset: number | null = null;
  private readonly symlinks = new Set<string>();
  private readonly header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  private offset = 0;
  private state: State = { kind: "header" };
  private afterSparse: State = { kind: "header" };
  private pax: Record<string, string> = {};
  private longName: string | null = null;
  private longLink: string | null = null;
  private readonly what: string;

  constructor(what: string) {
    this.what = what;
  }

  /** Feeds the next bytes of the uncompressed stream; throws on an entry that must not be extracted. */
  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length && this.state.kind !== "ended") {
      const st = this.state;
      if (st.kind === "skip") {
        const n = Math.min(st.remaining, chunk.length - pos);
        st.remaining -= n;
        pos += n;
        if (st.remaining === 0) this.state = { kind: "header" };
        continue;
      }
      if (st.kind === "meta") {
        const n = Math.min(st.remaining, chunk.length - pos);
        st.parts.push(chunk.subarray(pos, pos + n));
        st.remaining -= n;
        pos += n;
        if (st.remaining === 0) {
          this.finishMeta(st.type, Buffer.concat(st.parts));
          this.state = st.padding > 0 ? { kind: "skip", remaining: st.padding } : { kind: "header" };
        }
        continue;
      }
      const n = Math.min(BLOCK - this.headerFill, chunk.length - pos);
      chunk.copy(this.header, this.headerFill, pos, pos + n);
      this.headerFill += n;
      pos += n;
      if (this.headerFill < BLOCK) continue;
      this.headerFill = 0;
      const blockStart = this.offset + pos - BLOCK;
      if (st.kind === "sparse-ext") {
        // Old GNU sparse maps continue in extra header blocks, flagged at byte 504.
        if (this.header[504] === 0) this.state = this.afterSparse;
        continue;
      }
      this.onHeader(blockStart);
    }
    this.offset += chunk.length;
  }

  private onHeader(blockStart: number): void {
    const h = this.header;
    if (h.every((b) => b === 0)) {
      // GNU tar stops at the first zero block (a second one is the normal trailer).
      this.endOffset = blockStart + 2 * BLOCK;
      this.state = { kind: "ended" };
      return;
    }
    verifyChecksum(h, this.what);
    const type = h[156] === 0 ? "0" : String.fromCharCode(h[156]!);
    // Unknown types (volume labels, multi-volume parts...) could make GNU tar and this scanner
    // disagree about where the next header is; no image needs them.
    if (!KNOWN_TYPES.has(type)) this.fail(`an entry has unsupported tar type "${type}"`);
    const headerSize = parseNumber(h.subarray(124, 136), this.what);
    const size = type !== "x" && type !== "g" && this.pax["size"] ? Number(this.pax["size"]) : headerSize;
    if (!Number.isSafeInteger(size) || size < 0) this.fail(`an entry has an invalid size`);
    const padded = Math.ceil(size / BLOCK) * BLOCK;

    if (type === "x" || type === "g" || type === "L" || type === "K") {
      if (size > MAX_META_BYTES) this.fail(`a ${type} header of ${size} bytes is too large`);
      if (size === 0) this.finishMeta(type, Buffer.alloc(0));
      this.state =
        size === 0
          ? { kind: "header" }
          : { kind: "meta", type, remaining: size, padding: padded - size, parts: [] };
      return;
    }

    const rawName = this.pax["path"] ?? this.longName ?? ustarName(h);
    const rawLink = this.pax["linkpath"] ?? this.longLink ?? cString(h.subarray(157, 257));
    this.pax = {};
    this.longName = null;
    this.longLink = null;
    this.checkEntry({ path: this.safePath(rawName), type, linkTarget: rawLink });

    const isDataless =
      type === "1" || type === "2" || type === "3" || type === "4" || type === "5" || type === "6";
    if (isDataless && size !== 0)
      this.fail(`entry "${rawName}" of type ${type} claims ${size} bytes of data`);
    const dataBytes = isDataless ? 0 : padded;
    if (type === "S" && h[482] !== 0) {
      this.afterSparse = { kind: "skip", remaining: dataBytes };
      this.state = { kind: "sparse-ext" };
      return;
    }
    this.state = dataBytes > 0 ? { kind: "skip", remaining: dataBytes } : { kind: "header" };
  }

  private finishMeta(type: string, data: Buffer): void {
    if (type === "x") this.pax = parsePax(data, this.what);
    else if (type === "L") this.longName = cString(data);
    else if (type === "K") this.longLink = cString(data);
    // Global ("g") headers are ignored, as GNU tar mostly does.
  }

  private checkEntry(e: TarEntry): void {
    this.assertNotThroughSymlink(e.path, e.path);
    if (e.type === "1") {
      // Linking to an in-layer symlink itself is harmless (link(2) does not follow it);
      // reaching the target through one is not.
      this.assertNotThroughSymlink(this.safePath(e.linkTarget), e.path);
    }
    if (e.type === "2") this.symlinks.add(e.path);
    else this.symlinks.delete(e.path);
    const base = e.path.slice(e.path.lastIndexOf("/") + 1);
    if (base.startsWith(".wh.")) {
      const name = base.slice(4);
      if (name === "" || name === "." || name === "..") this.fail(`whiteout entry "${e.path}" names no file`);
      this.whiteouts.push(e.path);
    }
  }

  /** Normalizes `./a//b/` to `a/b`; refuses absolute paths and `..` components. */
  private safePath(raw: string): string {
    if (raw.startsWith("/")) this.fail(`entry "${raw}" has an absolute path`);
    const parts = raw.split("/").filter((p) => p !== "" && p !== ".");
    if (parts.includes("..")) this.fail(`entry "${raw}" has a ".." component`);
    return parts.join("/");
  }

  private assertNotThroughSymlink(p: string, entry: string): void {
    let i = p.indexOf("/");
    while (i !== -1) {
      if (this.symlinks.has(p.slice(0, i))) {
        this.fail(`entry "${entry}" would be written through the symlink "${p.slice(0, i)}"`);
      }
      i = p.indexOf("/", i + 1);
    }
  }

  private fail(why: string): never {
    throw new WarrenError("IMAGE_CORRUPT", `${this.what}: ${why}; refusing to unpack it`);
  }
}

function cString(b: Buffer): string {
  const end = b.indexOf(0);
  return b.subarray(0, end === -1 ? b.length : end).toString("utf8");
}

function ustarName(h: Buffer): string {
  const name = cString(h.subarray(0, 100));
  // Only POSIX ustar ("ustar\0") has a prefix field; GNU format keeps other data there.
  const posix = h.subarray(257, 263).toString("latin1") === "ustar\0";
  const prefix = posix ? cString(h.subarray(345, 500)) : "";
  return prefix ? `${prefix}/${name}` : name;
}

function parseNumber(field: Buffer, what: string): number {
  if (field[0]! & 0x80) {
    // GNU base-256 for values that do not fit in octal.
    let v = BigInt(field[0]! & 0x7f);
    for (let i = 1; i < field.length; i++) v = (v << 8n) | BigInt(field[i]!);
    return Number(v);
  }
  const s = cString(field).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s))
    throw new WarrenError("IMAGE_CORRUPT", `${what}: a tar header has a malformed number`);
  return Number.parseInt(s, 8);
}

function verifyChecksum(h: Buffer, what: string): void {
  const stored = parseNumber(h.subarray(148, 156), what);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  if (sum !== stored) throw new WarrenError("IMAGE_CORRUPT", `${what}: a tar header checksum is wrong`);
}

function parsePax(data: Buffer, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    const len = space === -1 ? Number.NaN : Number(data.subarray(pos, space).toString("latin1"));
    if (!Number.isSafeInteger(len) || len <= 0 || pos + len > data.length) {
      throw new WarrenError("IMAGE_CORRUPT", `${what}: a PAX header record is malformed`);
    }
    const rec = data.subarray(space + 1, pos + len - 1).toString("utf8");
    const eq = rec.indexOf("=");
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    pos += len;
  }
  return out;
}
