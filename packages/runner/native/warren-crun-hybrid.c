// warren-crun-hybrid: runs crun on a cgroup v1 "hybrid" host.
//
// crun 1.8 refuses to start when cgroup v1 controllers coexist with a cgroup2 mount that
// holds a controller (hugetlb at /sys/fs/cgroup/unified): "cgroups in hybrid mode not
// supported". In a private mount namespace without that mount, crun sees plain cgroup v1.
// The host's mounts stay unchanged, and crun's state under --root is an ordinary directory,
// so later invocations (state, exec, delete) find it as usual.
//
// Usage: warren-crun-hybrid <crun args...>   (WARREN_CRUN overrides the crun binary)
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

static const char unified[] = "/sys/fs/cgroup/unified";

// Joins the cgroup2 group in WARREN_JOIN_CGROUP (made if missing, with its parent) while the
// unified mount is still visible, so crun and everything it forks (init, exec'd processes)
// are counted in the environment's PSI.
static int join_cgroup(const char *dir) {
  char path[4096];
  const char *slash = strrchr(dir, '/');
  if (slash != NULL && slash != dir) {
    size_t n = (size_t)(slash - dir);
    if (n >= sizeof(path)) return -1;
    memcpy(path, dir, n);
    path[n] = '\0';
    if (mkdir(path, 0755) != 0 && errno != EEXIST) return -1;
  }
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) return -1;
  if ((size_t)snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >= sizeof(path)) return -1;
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int ok = write(fd, "0", 1) == 1;
  close(fd);
  return ok ? 0 : -1;
}

int main(int argc, char **argv) {
  (void)argc;
  const char *join = getenv("WARREN_JOIN_CGROUP");
  if (join != NULL && join[0] != '\0' && join_cgroup(join) != 0) {
    fprintf(stderr, "warren-crun-hybrid: join cgroup %s: %s\n", join, strerror(errno));
    return 125;
  }
  if (unshare(CLONE_NEWNS) != 0) {
    fprintf(stderr, "warren-crun-hybrid: unshare mount namespace: %s\n", strerror(errno));
    return 125;
  }
  // Without this, the umount below would propagate back to the host's shared mounts.
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
    fprintf(stderr, "warren-crun-hybrid: make mounts private: %s\n", strerror(errno));
    return 125;
  }
  // EINVAL: not a mount point (pure v1 or v2 host); ENOENT: no such directory. Both are fine.
  if (umount2(unified, MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    fprintf(stderr, "warren-crun-hybrid: umount %s: %s\n", unified, strerror(errno));
    return 125;
  }
  const char *crun = getenv("WARREN_CRUN");
  if (crun == NULL || crun[0] == '\0') crun = "crun";
  argv[0] = (char *)crun;
  execvp(crun, argv);
  fprintf(stderr, "warren-crun-hybrid: exec %s: %s\n", crun, strerror(errno));
  return 127;
}
