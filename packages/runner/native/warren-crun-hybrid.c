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
#include <sys/mount.h>
#include <unistd.h>

static const char unified[] = "/sys/fs/cgroup/unified";

int main(int argc, char **argv) {
  (void)argc;
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
