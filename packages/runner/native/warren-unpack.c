// warren-unpack <target-dir> <idStart> <idCount> <maxBytes> [skip-devices]   (tar on stdin)
//
// Extracts one image layer without trusting it. Must run as host root; the work is done by a
// child that is root only inside a fresh user namespace mapped 0..idCount-1 -> idStart.., a
// host id range no environment and no host user has. The child writes through a detached
// idmapped mount of <target-dir> whose mapping is the same, so:
//   - files the child creates as (namespaced) uid k land on disk owned by k: the store's
//     contract that layers hold ids 0..65535 (environments idmap them again) holds unchanged,
//     with no chown pass afterwards (which would also clear set-id bits and capabilities);
//   - on the host the child is only uid idStart+k with no capabilities, so even a kernel path
//     resolution bug cannot make it write as host root, and it is chrooted into the layer;
//   - every path goes through openat2(RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS).
// Device nodes are refused (only the 0:0 whiteouts we create from `.wh.` files exist), ids
// outside the mapping become nobody, and file data past <maxBytes> in total stops the unpack.
// `skip-devices` drops device entries instead (for the base image mmdebstrap builds here, whose
// /dev nodes are useless: environments get their own /dev, and layers are mounted nodev).
// The parent, as host root, sets trusted.overlay.opaque on the dirs the child reports (the
// namespace may not), resolving them the same strict way.
//
// Exit 3: the layer is refused (message on stderr, "warren-unpack: refused: ..."). Exit 1: a
// system error. The target directory is left for the caller to delete on failure.
#define _GNU_SOURCE
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "include/unpack-extract.h"

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#define ATTR_NOSUID 0x2
#define ATTR_NODEV 0x4
#define ATTR_NOEXEC 0x8
#define ATTR_IDMAP 0x00100000
#define MAX_OPAQUE_LIST (64 * 1024 * 1024)

struct mount_attr_w {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

static int write_map(pid_t pid, const char *which, unsigned long start, unsigned long count) {
  char path[64], map[96];
  snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, which);
  snprintf(map, sizeof(map), "0 %lu %lu\n", start, count);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, map, strlen(map));
  close(fd);
  return n == (ssize_t)strlen(map) ? 0 : -1;
}

// Forks a child into a new user namespace and maps it. The child waits for a byte on `go`.
static pid_t spawn_mapped(unsigned long start, unsigned long count, int go[2]) {
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) || pipe2(go, O_CLOEXEC)) die("pipe", "");
  pid_t pid = fork();
  if (pid < 0) die("fork", "");
  if (pid == 0) {
    close(ready[0]);
    close(go[1]);
    char ok = unshare(CLONE_NEWUSER) == 0 ? 'y' : 'n';
    if (write(ready[1], &ok, 1) != 1 || ok != 'y') _exit(EXIT_SYSTEM);
    close(ready[1]);
    char c = 0;
    while (read(go[0], &c, 1) < 0 && errno == EINTR) {
    }
    if (c != 'y') _exit(EXIT_SYSTEM);
    return 0;
  }
  close(ready[1]);
  close(go[0]);
  char ok = 0;
  if (read(ready[0], &ok, 1) != 1 || ok != 'y') {
    fprintf(stderr, "warren-unpack: unshare(CLONE_NEWUSER) failed (are user namespaces enabled?)\n");
    _exit(EXIT_SYSTEM);
  }
  close(ready[0]);
  if (write_map(pid, "uid_map", start, count) || write_map(pid, "gid_map", start, count)) die("write id map of", "child");
  return pid;
}

// A detached clone of `dirfd` whose ids are shifted like the namespace's: namespaced id k is
// stored on disk as k. nodev/nosuid/noexec: the extractor only ever writes through it.
static int idmapped_clone(int dirfd, unsigned long start, unsigned long count) {
  int go[2];
  pid_t holder = spawn_mapped(start, count, go);
  if (holder == 0) _exit(0); // only its namespace is needed
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)holder);
  int nsfd = open(path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) die("open", path);
  close(go[1]);
  waitpid(holder, NULL, 0);
  int mfd = (int)syscall(SYS_open_tree, dirfd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
  if (mfd < 0) die("open_tree", "target");
  struct mount_attr_w attr = {.attr_set = ATTR_IDMAP | ATTR_NODEV | ATTR_NOSUID | ATTR_NOEXEC, .userns_fd = (uint64_t)nsfd};
  if (syscall(SYS_mount_setattr, mfd, "", AT_EMPTY_PATH, &attr, sizeof(attr))) die("mount_setattr(idmap)", "target");
  close(nsfd);
  return mfd;
}

static void become_unprivileged_root(int mfd, uint64_t max_bytes) {
  if (setgroups(0, NULL) || setresgid(0, 0, 0) || setresuid(0, 0, 0)) die("become namespace root", "");
  // After the uid change (which resets both): die with the parent; no ptrace by the same uid.
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() == 1) _exit(EXIT_SYSTEM);
  prctl(PR_SET_DUMPABLE, 0);
  prctl(PR_SET_NO_NEW_PRIVS, 1);
  umask(0);
  signal(SIGXFSZ, SIG_IGN); // a file past the cap then fails with EFBIG instead of killing us
  struct rlimit fsize = {max_bytes, max_bytes};
  setrlimit(RLIMIT_FSIZE, &fsize);
  if (fchdir(mfd) || chroot(".")) die("chroot into", "layer");
}

static void apply_opaque(int rawfd, char *list, size_t len) {
  for (size_t pos = 0; pos < len;) {
    char *p = list + pos;
    size_t n = strnlen(p, len - pos);
    if (pos + n >= len) refuse("the opaque directory list is malformed");
    pos += n + 1;
    int fd = open_in(rawfd, p, O_RDONLY | O_DIRECTORY);
    if (fd < 0 && errno == ENOENT) continue;
    if (fd < 0) refuse("opaque directory \"%s\" is not a directory of the layer", p);
    if (fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0)) die("set trusted.overlay.opaque on", p);
    close(fd);
  }
}

static int parse_ul(const char *s, unsigned long long *out) {
  char *end = NULL;
  errno = 0;
  *out = strtoull(s, &end, 10);
  return errno || !end || *end || end == s ? -1 : 0;
}

int main(int argc, char **argv) {
  unsigned long long start, count, max_bytes;
  if (argc == 6 && strcmp(argv[5], "skip-devices") == 0) skip_devices = 1;
  else if (argc != 5) argc = 0;
  if (argc == 0 || parse_ul(argv[2], &start) || parse_ul(argv[3], &count) || parse_ul(argv[4], &max_bytes) ||
      start == 0 || count < 65536 || start + count > 4294967295ULL) {
    fprintf(stderr, "usage: warren-unpack <target-dir> <idStart> <idCount>=65536.. <maxBytes> [skip-devices] < layer.tar\n");
    return 2;
  }
  int rawfd = open(argv[1], O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (rawfd < 0) die("open", argv[1]);
  int mfd = idmapped_clone(rawfd, start, count);
  int opq[2];
  if (pipe2(opq, O_CLOEXEC)) die("pipe", "");
  int go[2];
  pid_t child = spawn_mapped(start, count, go);
  if (child == 0) {
    close(rawfd);
    close(opq[0]);
    become_unprivileged_root(mfd, max_bytes);
    extract_all(mfd, 0, opq[1], max_bytes, count);
    _exit(0);
  }
  close(opq[1]);
  close(mfd);
  if (write(go[1], "y", 1) != 1) die("start", "extractor");
  close(go[1]);

  char *list = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 65536 > cap) {
      cap = cap ? cap * 2 : 65536 * 2;
      if (cap > MAX_OPAQUE_LIST) {
        kill(child, SIGKILL);
        refuse("the layer has too many opaque directories");
      }
      list = realloc(list, cap);
      if (!list) die("realloc", "");
    }
    ssize_t r = read(opq[0], list + len, cap - len);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) die("read", "opaque list");
    if (r == 0) break;
    len += (size_t)r;
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) die("wait for", "extractor");
  }
  if (WIFSIGNALED(status)) {
    fprintf(stderr, "warren-unpack: the extractor was killed by signal %d\n", WTERMSIG(status));
    return EXIT_SYSTEM;
  }
  if (WEXITSTATUS(status) != 0) return WEXITSTATUS(status);
  apply_opaque(rawfd, list, len);
  return 0;
}
