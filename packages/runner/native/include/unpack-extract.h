// The extractor of warren-unpack: turns tar entries into files under one root directory fd.
// Runs as root of an unprivileged user namespace. Every path is resolved with openat2
// (RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV), then the
// last component is acted on with *at() calls that never follow it. So `..`, absolute names,
// symlinks and hard links can neither leave the root nor write through an in-layer symlink.
// OCI whiteouts become overlayfs ones (0:0 char devices; opaque dirs are reported to the
// privileged parent, since trusted.* xattrs need host CAP_SYS_ADMIN).
#pragma once
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include "unpack-tar.h"

#ifndef RESOLVE_NO_XDEV
#define RESOLVE_NO_XDEV 0x01
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_NO_SYMLINKS 0x04
#define RESOLVE_IN_ROOT 0x10
#endif
#define R_STRICT (RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)
// Ids outside the mapping would be unmapped anyway; environments would see them as nobody.
#define OVERFLOW_ID 65534

static int skip_devices; // set by main from the command line

struct how {
  uint64_t flags, mode, resolve;
};

static int open_in(int root, const char *p, int flags) {
  struct how h = {.flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW), .mode = 0, .resolve = R_STRICT};
  return (int)syscall(SYS_openat2, root, p[0] ? p : ".", &h, sizeof(h));
}

struct dirmeta {
  char *path;
  unsigned mode;
  struct timespec ts[2];
};

struct xctx {
  int root;
  uint64_t max_bytes, written, ids;
  unsigned long clamped;
  struct dirmeta *dirs;
  size_t ndirs, capdirs;
  char **whiteouts, **opaque;
  size_t nwh, capwh, nopq, capopq;
  int cache_fd;
  char cache_path[MAX_PATH_LEN];
};

static void push_str(char ***list, size_t *n, size_t *cap, const char *s) {
  if (*n == *cap) {
    *cap = *cap ? *cap * 2 : 64;
    *list = realloc(*list, *cap * sizeof(char *));
    if (!*list) die("realloc", "");
  }
  (*list)[(*n)++] = dup_n(s, strlen(s));
}

static void split(const char *path, char *dir, const char **base) {
  const char *slash = strrchr(path, '/');
  size_t n = slash ? (size_t)(slash - path) : 0;
  memcpy(dir, path, n);
  dir[n] = 0;
  *base = slash ? slash + 1 : path;
}

static void invalidate(struct xctx *c) {
  if (c->cache_fd >= 0) close(c->cache_fd);
  c->cache_fd = -1;
}

// Opens `dir` inside the root, creating missing directories (0755, owned by root) the way
// GNU tar does for entries whose parents the archive does not list.
static int open_dir_creating(struct xctx *c, const char *dir, const char *entry) {
  int fd = open_in(c->root, dir, O_PATH | O_DIRECTORY);
  if (fd >= 0 || errno != ENOENT) goto done;
  fd = open_in(c->root, "", O_PATH | O_DIRECTORY);
  char comp[256];
  for (const char *p = dir; *p && fd >= 0;) {
    const char *s = p;
    while (*p && *p != '/') p++;
    memcpy(comp, s, (size_t)(p - s));
    comp[p - s] = 0;
    if (*p == '/') p++;
    int next = open_in(fd, comp, O_PATH | O_DIRECTORY);
    if (next < 0 && errno == ENOENT) {
      if (mkdirat(fd, comp, 0755) && errno != EEXIST) die("mkdir", dir);
      next = open_in(fd, comp, O_PATH | O_DIRECTORY);
    }
    close(fd);
    fd = next;
  }
done:
  if (fd < 0 && (errno == ELOOP || errno == ENOTDIR || errno == EXDEV || errno == ENOENT))
    refuse("entry \"%s\" would be written through a symlink or a non-directory", entry);
  if (fd < 0) die("open", dir);
  return fd;
}

static int parent_of(struct xctx *c, const char *path, const char **base) {
  char dir[MAX_PATH_LEN];
  split(path, dir, base);
  if (c->cache_fd >= 0 && strcmp(c->cache_path, dir) == 0) return c->cache_fd;
  invalidate(c);
  c->cache_fd = open_dir_creating(c, dir, path);
  snprintf(c->cache_path, sizeof(c->cache_path), "%s", dir);
  return c->cache_fd;
}

static void remove_tree(int pfd, const char *name) {
  struct stat st;
  if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW)) {
    if (errno == ENOENT) return;
    die("stat", name);
  }
  if (S_ISDIR(st.st_mode)) {
    int fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) die("open for removal", name);
    struct dirent *de;
    while ((de = readdir(d))) {
      if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) remove_tree(fd, de->d_name);
    }
    closedir(d);
  }
  if (unlinkat(pfd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0)) die("remove", name);
}

static void set_xattrs(int fd, struct entry *e) {
  for (int i = 0; i < e->nxattrs; i++) {
    struct xattr *x = &e->xattrs[i];
    // trusted.overlay.* in a layer would steer overlayfs (redirects, opaque dirs) behind the
    // OCI format's back; whiteouts are the only way a layer may say that.
    if (strncmp(x->name, "trusted.", 8) == 0) continue;
    if (fsetxattr(fd, x->name, x->value, x->len, 0) == 0) continue;
    // A binary silently losing its file capabilities (ping, newuidmap) would break later.
    if (strcmp(x->name, "security.capability") == 0) die("set file capabilities on", e->path);
    // Other xattrs (ACLs on a filesystem without them, SELinux labels) are best effort, as in GNU tar.
  }
}

static void write_data(struct xctx *c, int in, int fd, struct entry *e) {
  char buf[65536];
  uint64_t left = e->size;
  while (left > 0) {
    size_t k = left > sizeof(buf) ? sizeof(buf) : (size_t)left;
    if (c->written + k > c->max_bytes)
      refuse("the layer expands past the cap of %llu bytes (at \"%s\")", (unsigned long long)c->max_bytes, e->path);
    read_exact(in, buf, k);
    for (size_t off = 0; off < k;) {
      ssize_t w = write(fd, buf + off, k - off);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0 && errno == EFBIG) refuse("file \"%s\" is larger than the layer cap", e->path);
      if (w < 0) die("write", e->path);
      off += (size_t)w;
    }
    c->written += k;
    left -= k;
  }
}

static void record_dir(struct xctx *c, struct entry *e) {
  if (c->ndirs == c->capdirs) {
    c->capdirs = c->capdirs ? c->capdirs * 2 : 256;
    c->dirs = realloc(c->dirs, c->capdirs * sizeof(*c->dirs));
    if (!c->dirs) die("realloc", "");
  }
  struct dirmeta *d = &c->dirs[c->ndirs++];
  d->path = dup_n(e->path, strlen(e->path));
  d->mode = (unsigned)e->mode;
  d->ts[0] = d->ts[1] = (struct timespec){.tv_sec = e->mtime, .tv_nsec = e->mtime_nsec};
}

static int handle_whiteout(struct xctx *c, struct entry *e, const char *base) {
  if (strncmp(base, ".wh.", 4) != 0) return 0;
  const char *name = base + 4;
  char dir[MAX_PATH_LEN];
  const char *ignored;
  split(e->path, dir, &ignored);
  parent_of(c, e->path, &ignored); // the directory must exist for its whiteout or opaque marker
  if (strcmp(name, ".wh..opq") == 0) push_str(&c->opaque, &c->nopq, &c->capopq, dir);
  else if (strncmp(name, ".wh.", 4) == 0) {
    // Other .wh..wh.* names are AUFS bookkeeping; the OCI spec says to drop them.
  } else if (!name[0] || !strcmp(name, ".") || !strcmp(name, "..")) {
    refuse("whiteout entry \"%s\" names no file", e->path);
  } else {
    push_str(&c->whiteouts, &c->nwh, &c->capwh, e->path);
  }
  return 1;
}

static void extract_entry(struct xctx *c, int in, struct entry *e) {
  struct timespec ts[2] = {{.tv_sec = e->mtime, .tv_nsec = e->mtime_nsec}};
  ts[1] = ts[0];
  if (e->uid >= c->ids) e->uid = OVERFLOW_ID, c->clamped++;
  if (e->gid >= c->ids) e->gid = OVERFLOW_ID, c->clamped++;
  uint64_t pad = (BLK - e->size % BLK) % BLK;
  if (e->type != '0' && e->type != '5' && e->size) refuse("entry \"%s\" of type %c carries data", e->path, e->type);
  if ((e->type == '3' || e->type == '4') && skip_devices) return;
  if (e->type == '3' || e->type == '4') {
    refuse("entry \"%s\" is a %s device (%llu:%llu); image layers may not carry device nodes", e->path,
           e->type == '3' ? "character" : "block", (unsigned long long)e->devmajor, (unsigned long long)e->devminor);
  }
  if (e->type != '0' && e->type != '1' && e->type != '2' && e->type != '5' && e->type != '6')
    refuse("entry \"%s\" has unsupported tar type '%c'", e->path, e->type);
  if (!e->path[0]) {
    if (e->type != '5') refuse("the layer root entry is not a directory");
    int fd = open_in(c->root, "", O_RDONLY | O_DIRECTORY);
    if (fd < 0 || fchown(fd, (uid_t)e->uid, (gid_t)e->gid)) die("chown", "layer root");
    set_xattrs(fd, e);
    close(fd);
    record_dir(c, e);
    skip_bytes(in, e->size + pad);
    return;
  }
  const char *base;
  int pfd = parent_of(c, e->path, &base);
  if (handle_whiteout(c, e, base)) {
    skip_bytes(in, e->size + pad);
    return;
  }
  struct stat st;
  int exists = fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
  if (exists && !(e->type == '5' && S_ISDIR(st.st_mode))) {
    if (e->type == '1' && strcmp(e->link, e->path) == 0) return; // a link to itself: keep the file
    remove_tree(pfd, base);
    invalidate(c);
    pfd = parent_of(c, e->path, &base);
    exists = 0;
  }
  int fd = -1;
  switch (e->type) {
  case '0':
    fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) die("create", e->path);
    write_data(c, in, fd, e);
    skip_bytes(in, pad);
    break;
  case '5':
    if (!exists && mkdirat(pfd, base, 0700)) die("mkdir", e->path);
    fd = open_in(pfd, base, O_RDONLY | O_DIRECTORY);
    if (fd < 0) die("open", e->path);
    record_dir(c, e);
    break;
  case '1': {
    char tdir[MAX_PATH_LEN];
    const char *tbase;
    split(e->link, tdir, &tbase);
    int tfd = e->link[0] ? open_in(c->root, tdir, O_PATH | O_DIRECTORY) : -1;
    if (tfd < 0 || linkat(tfd, tbase, pfd, base, 0)) {
      if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP || errno == EXDEV || errno == EPERM)
        refuse("hard link \"%s\" points at \"%s\", which is not a file of this layer", e->path, e->link);
      die("link", e->path);
    }
    close(tfd);
    return; // a hard link shares the target's inode and metadata
  }
  case '2':
    if (!e->link[0]) refuse("symlink \"%s\" has an empty target", e->path);
    if (symlinkat(e->link, pfd, base)) die("symlink", e->path);
    break;
  case '6':
    if (mknodat(pfd, base, S_IFIFO | 0600, 0)) die("mkfifo", e->path);
    break;
  }
  if (fd >= 0) {
    if (fchown(fd, (uid_t)e->uid, (gid_t)e->gid)) die("chown", e->path);
    // chown clears set-id bits, so the mode comes after it; directories get theirs at the end.
    if (e->type == '0' && fchmod(fd, (mode_t)e->mode)) die("chmod", e->path);
    set_xattrs(fd, e);
    if (e->type == '0' && futimens(fd, ts)) die("set times of", e->path);
    close(fd);
    return;
  }
  if (fchownat(pfd, base, (uid_t)e->uid, (gid_t)e->gid, AT_SYMLINK_NOFOLLOW)) die("chown", e->path);
  if (e->type == '6' && fchmodat(pfd, base, (mode_t)e->mode, 0)) die("chmod", e->path);
  if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW)) die("set times of", e->path);
}

// Whiteouts apply to lower layers only: a name this layer creates itself stays (a directory of
// the same name becomes opaque instead, hiding the lower one's contents).
static void finish_whiteouts(struct xctx *c) {
  for (size_t i = 0; i < c->nwh; i++) {
    char dir[MAX_PATH_LEN], target[MAX_PATH_LEN];
    const char *base;
    split(c->whiteouts[i], dir, &base);
    snprintf(target, sizeof(target), "%s%s%s", dir, dir[0] ? "/" : "", base + 4);
    int pfd = open_in(c->root, dir, O_PATH | O_DIRECTORY);
    if (pfd < 0 && errno == ENOENT) continue;
    if (pfd < 0) refuse("whiteout \"%s\" is reached through a symlink or a non-directory", c->whiteouts[i]);
    struct stat st;
    if (fstatat(pfd, base + 4, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (S_ISDIR(st.st_mode)) push_str(&c->opaque, &c->nopq, &c->capopq, target);
    } else if (mknodat(pfd, base + 4, S_IFCHR | 0, makedev(0, 0))) {
      die("mknod whiteout", target);
    }
    close(pfd);
  }
}

static void finish_dirs(struct xctx *c) {
  // Last first: children are done before their parent's mtime is set.
  for (size_t i = c->ndirs; i-- > 0;) {
    struct dirmeta *d = &c->dirs[i];
    int fd = open_in(c->root, d->path, O_RDONLY | O_DIRECTORY);
    if (fd < 0) continue; // replaced by a later entry
    if (fchmod(fd, d->mode) || futimens(fd, d->ts)) die("set mode of", d->path);
    close(fd);
  }
}

/** Extracts the tar on `in` into `root`; writes opaque dirs NUL-terminated to `opq_out`. */
static void extract_all(int root, int in, int opq_out, uint64_t max_bytes, uint64_t ids) {
  struct xctx c = {.root = root, .max_bytes = max_bytes, .ids = ids, .cache_fd = -1};
  struct entry *e = calloc(1, sizeof(*e));
  if (!e) die("malloc", "");
  while (next_entry(in, e)) {
    extract_entry(&c, in, e);
    entry_free_xattrs(e);
  }
  invalidate(&c);
  finish_whiteouts(&c);
  for (size_t i = 0; i < c.nopq; i++) {
    int fd = open_in(root, c.opaque[i], O_PATH | O_DIRECTORY);
    if (fd < 0 && errno == ENOENT) continue;
    if (fd < 0) refuse("opaque marker in \"%s\" is reached through a symlink or a non-directory", c.opaque[i]);
    close(fd);
    size_t n = strlen(c.opaque[i]) + 1;
    for (size_t off = 0; off < n;) {
      ssize_t w = write(opq_out, c.opaque[i] + off, n - off);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) die("write", "opaque list");
      off += (size_t)w;
    }
  }
  finish_dirs(&c);
  if (c.clamped) fprintf(stderr, "warren-unpack: %lu ids above the 16-bit range became %d\n", c.clamped, OVERFLOW_ID);
  // The runner forwards one zero block after the end marker; read it so the writer sees no EPIPE.
  char sink[4096];
  while (read(in, sink, sizeof(sink)) > 0) {
  }
}
