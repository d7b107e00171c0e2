// warren-deliver: writes files (secrets) into a running runc/crun environment's tmpfs without
// running a single binary from its image.
//
//   warren-deliver --pid PID --dir /run/secrets [--cgroup DIR]... [--link NAME=PATH]...
//                  -- NAME:LEN [NAME:LEN...]
//
// The data of every file comes on stdin, concatenated in argument order: values never appear
// in argv (readable by every local user through /proc). Each NAME becomes DIR/NAME, a new file
// of mode 0400 owned by the environment's root. Each --link makes PATH (absolute, inside the
// environment) a symlink to DIR/NAME, so a file expected elsewhere (/etc/app/app.conf) is read
// from the tmpfs and its value never reaches the environment's disk: missing parents become
// root's 0755 directories; a symlink among them, or anything at PATH but that same symlink, is
// refused (a file of the image is never replaced).
//
// Why a helper and not host code: the tmpfs belongs to the environment's user namespace, and
// host root, whose uid is unmapped there, cannot create inodes in it (EOVERFLOW). Why not
// `nsenter ... sh -c 'cat > f'`: that runs the image's sh and cat in the host's network, pid,
// ipc, uts and cgroup namespaces and outside the environment's cgroup, where a hostile image
// reaches the host's loopback and leaves processes that outlive `stop`. So this helper, a
// static host binary, becomes a process of the environment itself and nothing else:
//   1. joins each --cgroup DIR (the environment's groups; written as host root, before step 2);
//   2. opens the target's root (/proc/PID/root) and joins ALL its namespaces at once through a
//      pidfd (user, mnt, net, pid, ipc, uts, cgroup), refusing a target that shares the host's
//      user or network namespace;
//   3. forks, so the child is in the pid namespace too, and becomes root of the namespace;
//   4. opens DIR under the target's root with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS |
//      RESOLVE_NO_MAGICLINKS) and checks that it is a tmpfs directory owned by root inside, so
//      nothing lands on the image's disk or through a link the image planted;
//   5. makes the --link symlinks (walking each path one component at a time, never following
//      a symlink), as root of the namespace;
//   6. drops every capability, then replaces each file: unlink, then create with O_EXCL (never
//      through a symlink) and write exactly LEN bytes from stdin.
// It execs nothing. Exit status: 0 on success, 1 on a delivery error, 125 on bad usage.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#define MAX_FILES 256
#define MAX_FILE_BYTES (8u * 1024 * 1024)  // the secrets tmpfs's own size

static const char *current = "";  // file being written, for error messages

static int fail(const char *what, const char *arg) {
  fprintf(stderr, "warren-deliver: %s%s%s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "",
          current[0] ? " for " : "", current, strerror(errno));
  return 1;
}

static int usage(const char *why) {
  fprintf(stderr,
          "warren-deliver: %s\nusage: warren-deliver --pid PID --dir DIR [--cgroup DIR]... "
          "[--link NAME=PATH]... -- NAME:LEN...\n",
          why);
  return 125;
}

static int write_all(int fd, const char *buf, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    buf += w;
    n -= (size_t)w;
  }
  return 0;
}

static int join_cgroup(const char *dir) {
  char path[4096];
  if ((size_t)snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >= sizeof(path)) {
    errno = ENAMETOOLONG;
    return fail("join cgroup", dir);
  }
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return fail("join cgroup", dir);
  int rc = write_all(fd, "0", 1);
  int saved = errno;
  close(fd);
  errno = saved;
  return rc == 0 ? 0 : fail("join cgroup", dir);
}

static int same_ns(pid_t pid, const char *ns) {
  char path[64];
  struct stat a, b;
  snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns);
  if (stat(path, &a) != 0) return -1;
  snprintf(path, sizeof(path), "/proc/self/ns/%s", ns);
  if (stat(path, &b) != 0) return -1;
  return a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

// A single path component: no slash, not "." or "..", not empty.
static int valid_name(const char *name, size_t len) {
  if (len == 0 || len > 255) return 0;
  if (memchr(name, '/', len) != NULL) return 0;
  if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.')) return 0;
  return 1;
}

// Makes `link` (absolute, inside the environment) a symlink to `target`, see the top comment.
static int make_link(int rootfd, const char *link, const char *target) {
  char buf[4096];
  size_t len = strlen(link);
  current = link;
  if (link[0] != '/' || len < 2 || len >= sizeof(buf)) {
    errno = EINVAL;
    return fail("bad link path", link);
  }
  memcpy(buf, link, len + 1);
  int cur = rootfd;
  char *p = buf + 1;
  for (char *slash; (slash = strchr(p, '/')) != NULL; p = slash + 1) {
    *slash = '\0';  // buf is now the path of this directory, for messages
    struct open_how how = {
        .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    if (!valid_name(p, strlen(p))) {
      errno = EINVAL;
      return fail("bad link path", link);
    }
    int next = (int)syscall(SYS_openat2, cur, p, &how, sizeof(how));
    if (next < 0 && errno == ENOENT) {
      if (mkdirat(cur, p, 0755) != 0 && errno != EEXIST) return fail("make directory", buf);
      next = (int)syscall(SYS_openat2, cur, p, &how, sizeof(how));
    }
    if (next < 0 && (errno == ELOOP || errno == ENOTDIR)) {
      fprintf(stderr,
              "warren-deliver: %s is %s in the environment, so no secret can go to %s (a link is "
              "never made through one): choose another path\n",
              buf, errno == ELOOP ? "a symlink" : "not a directory", link);
      return 1;
    }
    if (next < 0) return fail("open", buf);
    if (cur != rootfd) close(cur);
    cur = next;
    *slash = '/';
  }
  if (!valid_name(p, strlen(p))) {
    errno = EINVAL;
    return fail("bad link path", link);
  }
  struct stat st;
  int rc = 0;
  if (fstatat(cur, p, &st, AT_SYMLINK_NOFOLLOW) == 0) {
    char old[4096];
    ssize_t n = S_ISLNK(st.st_mode) ? readlinkat(cur, p, old, sizeof(old) - 1) : -1;
    if (n >= 0) old[n] = '\0';
    if (n < 0 || strcmp(old, target) != 0) {  // our own symlink from an earlier start stays
      fprintf(stderr,
              "warren-deliver: %s already exists in the environment (%s), and a secret never "
              "replaces it: remove it inside, or choose another path\n",
              link, S_ISLNK(st.st_mode) ? "a symlink" : S_ISDIR(st.st_mode) ? "a directory" : "a file");
      rc = 1;
    }
  } else if (errno != ENOENT) {
    rc = fail("stat", link);
  } else if (symlinkat(target, cur, p) != 0) {
    rc = fail("make symlink", link);
  }
  if (cur != rootfd) close(cur);
  return rc;
}

static int drop_capabilities(void) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof(data));
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
  return (int)syscall(SYS_capset, &hdr, data);
}

// The child: already in every namespace of the environment. Writes the files and returns.
static int deliver(int rootfd, const char *dir, char **files, int nfiles, char **links, int nlinks) {
  if (setgroups(0, NULL) != 0 && errno != EPERM) return fail("setgroups", NULL);
  if (setresgid(0, 0, 0) != 0) return fail("setresgid 0 inside", NULL);
  if (setresuid(0, 0, 0) != 0) return fail("setresuid 0 inside", NULL);
  struct open_how how = {
      .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
      .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
  };
  while (*dir == '/') dir++;
  int dirfd = (int)syscall(SYS_openat2, rootfd, dir, &how, sizeof(how));
  if (dirfd < 0) return fail("open (symlinks refused)", dir);
  struct statfs sfs;
  struct stat st;
  if (fstatfs(dirfd, &sfs) != 0 || fstat(dirfd, &st) != 0) return fail("stat", dir);
  if (sfs.f_type != TMPFS_MAGIC || !S_ISDIR(st.st_mode) || st.st_uid != 0) {
    errno = EPERM;
    return fail("refusing a target that is not a tmpfs directory owned by root inside:", dir);
  }
  umask(0);
  for (int l = 0; l < nlinks; l++) {
    char *eq = strchr(links[l], '=');
    char target[4096];
    *eq = '\0';
    if ((size_t)snprintf(target, sizeof(target), "/%s/%s", dir, links[l]) >= sizeof(target)) {
      errno = ENAMETOOLONG;
      return fail("link target", links[l]);
    }
    if (make_link(rootfd, eq + 1, target) != 0) return 1;
  }
  current = "";
  // Everything below works on dirfd as its owner: no capability is needed any more.
  if (drop_capabilities() != 0) return fail("drop capabilities", NULL);
  static char buf[65536];
  for (int i = 0; i < nfiles; i++) {
    char *colon = strrchr(files[i], ':');
    *colon = '\0';
    const char *name = files[i];
    unsigned long len = strtoul(colon + 1, NULL, 10);
    current = name;
    if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) return fail("remove old", name);
    struct open_how create = {
        .flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
        .mode = 0400,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
    };
    int fd = (int)syscall(SYS_openat2, dirfd, name, &create, sizeof(create));
    if (fd < 0) return fail("create", name);
    while (len > 0) {
      size_t want = len < sizeof(buf) ? len : sizeof(buf);
      ssize_t n = read(STDIN_FILENO, buf, want);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (n == 0) errno = EPIPE;
        unlinkat(dirfd, name, 0);  // never leave a truncated secret behind
        return fail("read stdin (ended early)", NULL);
      }
      if (write_all(fd, buf, (size_t)n) != 0) {
        unlinkat(dirfd, name, 0);
        return fail("write", name);
      }
      len -= (unsigned long)n;
    }
    if (close(fd) != 0) return fail("close", name);
  }
  current = "";
  return 0;
}

int main(int argc, char **argv) {
  const char *dir = NULL, *cgroups[16];
  char *links[MAX_FILES];
  int nlinks = 0;
  long pid = 0;
  char pidstr[24] = "";
  int ncgroups = 0, i = 1;
  for (; i + 1 < argc && strcmp(argv[i], "--") != 0; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (strcmp(k, "--pid") == 0) {
      pid = strtol(v, NULL, 10);
      snprintf(pidstr, sizeof(pidstr), "%ld", pid);
    }
    else if (strcmp(k, "--dir") == 0) dir = v;
    else if (strcmp(k, "--cgroup") == 0 && ncgroups < 16) cgroups[ncgroups++] = v;
    else if (strcmp(k, "--link") == 0 && nlinks < MAX_FILES) links[nlinks++] = argv[i + 1];
    else return usage("unknown option (or more than 16 --cgroup)");
  }
  if (i >= argc || strcmp(argv[i], "--") != 0) return usage("missing --");
  if (pid <= 1 || dir == NULL || dir[0] != '/') return usage("--pid and an absolute --dir are required");
  char **files = argv + i + 1;
  int nfiles = argc - i - 1;
  if (nfiles > MAX_FILES) return usage("too many files");
  for (int f = 0; f < nfiles; f++) {
    char *colon = strrchr(files[f], ':');
    char *end = NULL;
    if (colon == NULL || !valid_name(files[f], (size_t)(colon - files[f]))) return usage("bad NAME");
    errno = 0;
    unsigned long len = strtoul(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || *end != '\0' || len > MAX_FILE_BYTES) return usage("bad LEN");
  }
  // Each --link names one of the files and an absolute path (no "." or ".." parts: make_link).
  for (int l = 0; l < nlinks; l++) {
    char *eq = strchr(links[l], '=');
    if (eq == NULL || eq[1] != '/') return usage("bad --link: NAME=/ABSOLUTE/PATH");
    size_t nlen = (size_t)(eq - links[l]);
    int known = 0;
    for (int f = 0; f < nfiles && !known; f++)
      known = strncmp(files[f], links[l], nlen) == 0 && files[f][nlen] == ':';
    if (!known) return usage("--link names no file after --");
  }

  int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (pidfd < 0) return fail("pidfd_open", pidstr);
  // Root must never mean host root: a target in the host's user or network namespace is not an
  // environment.
  if (same_ns((pid_t)pid, "user") != 0 || same_ns((pid_t)pid, "net") != 0) {
    errno = EPERM;
    return fail("refusing a target that is not in its own user and network namespaces: pid", pidstr);
  }
  char root[64];
  snprintf(root, sizeof(root), "/proc/%ld/root", pid);
  int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) return fail("open", root);
  // The pid may have been reused between pidfd_open and the opens above: the pidfd still names
  // the process we asked for, and signal 0 fails once that process is gone.
  if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) != 0) return fail("target exited", pidstr);

  for (int c = 0; c < ncgroups; c++)
    if (join_cgroup(cgroups[c]) != 0) return 1;
  int all = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS |
            CLONE_NEWCGROUP;
  if (setns(pidfd, all) != 0) return fail("join the environment's namespaces", NULL);
  close(pidfd);

  pid_t child = fork();
  if (child < 0) return fail("fork", NULL);
  if (child == 0) _exit(deliver(rootfd, dir, files, nfiles, links, nlinks));
  int status = 0;
  while (waitpid(child, &status, 0) < 0) {
    if (errno != EINTR) return fail("wait", NULL);
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  fprintf(stderr, "warren-deliver: writer killed by signal %d\n", WTERMSIG(status));
  return 1;
}
