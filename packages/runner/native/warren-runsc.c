// warren-runsc: runs gVisor's runsc inside the environment's user namespace.
//
// Debian's runsc (2022-12) cannot honour an OCI user namespace when it is itself host root:
// it clones the sandbox into a new user namespace without setuid(0) there, so the sandbox's
// exec drops every capability and its chroot setup fails with EPERM. Instead this wrapper
// makes the user namespace itself (ids 0..size-1 inside = hostStart.. outside, the same map
// runc/crun get), becomes root in it and execs runsc, whose config then has no user
// namespace. The Sentry and the gofer therefore run as the environment's unprivileged host
// uid with capabilities only inside that namespace; no part of the sandbox is host root.
//
// Everything that needs host root happens first, in this order (options before "--"; they
// are arguments, not environment, so a caller that replaces the environment, such as a pty
// spawn, still gets them):
//   --cgroups DIR[:DIR...]  cgroup dirs to join (runsc runs --ignore-cgroups; the driver made
//                           the groups and wrote the limits, so the sandbox cannot raise them)
//   --netns FILE            network namespace to enter (runsc --network=host uses it)
//   --open FILE             a root-only file (exec's process.json) opened now; every later
//                           argument "/dev/warren-open-file" becomes its /proc/self/fd path
//   --state-dir DIR         directory to chdir into; runsc gets a relative --root, because
//                           the environment's uid cannot walk the runner's 0700 run directory
//   --idmap HOSTSTART:SIZE  the user namespace to make and become root in (required)
//   --runsc PATH            the runsc binary (default: runsc from PATH)
// Usage: warren-runsc [options] -- <runsc args...>
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(const char *what, const char *arg) {
  fprintf(stderr, "warren-runsc: %s %s: %s\n", what, arg ? arg : "", strerror(errno));
  return 125;
}

static int write_file(const char *path, const char *data) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t n = strlen(data);
  int ok = write(fd, data, n) == (ssize_t)n;
  int saved = errno;
  close(fd);
  errno = saved;
  return ok ? 0 : -1;
}

static int join_cgroups(char *list) {
  char path[4096];
  for (char *dir = strtok(list, ":"); dir != NULL; dir = strtok(NULL, ":")) {
    if ((size_t)snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >= sizeof(path)) return -1;
    if (write_file(path, "0") != 0) {
      fail("join cgroup", dir);
      return -1;
    }
  }
  return 0;
}

// A process cannot map a range it does not own from inside the new namespace, so a child that
// is still host root writes the maps for its parent.
static int enter_userns(const char *spec) {
  unsigned long start, size;
  if (sscanf(spec, "%lu:%lu", &start, &size) != 2 || start == 0 || size == 0) {
    errno = EINVAL;
    return fail("WARREN_IDMAP", spec);
  }
  int sync[2];
  if (pipe2(sync, O_CLOEXEC) != 0) return fail("pipe", NULL);
  pid_t parent = getpid();
  pid_t child = fork();
  if (child < 0) return fail("fork", NULL);
  if (child == 0) {
    char c, path[64], map[64];
    close(sync[1]);
    if (read(sync[0], &c, 1) != 1) _exit(1);
    snprintf(map, sizeof(map), "0 %lu %lu\n", start, size);
    snprintf(path, sizeof(path), "/proc/%d/uid_map", parent);
    if (write_file(path, map) != 0) _exit(fail("write", path));
    snprintf(path, sizeof(path), "/proc/%d/gid_map", parent);
    if (write_file(path, map) != 0) _exit(fail("write", path));
    _exit(0);
  }
  close(sync[0]);
  int unshared = unshare(CLONE_NEWUSER);
  int saved = errno;
  if (write(sync[1], "x", 1) != 1 && unshared == 0) unshared = -1;
  close(sync[1]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  errno = saved;
  if (unshared != 0) return fail("unshare user namespace", NULL);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    errno = EPERM;
    return fail("map ids", spec);
  }
  // Root inside keeps its capabilities across exec; without this runsc would run as the
  // overflow uid with none.
  if (setgroups(0, NULL) != 0) return fail("setgroups", NULL);
  if (setresgid(0, 0, 0) != 0) return fail("setresgid", NULL);
  if (setresuid(0, 0, 0) != 0) return fail("setresuid", NULL);
  return 0;
}

static int copy_to_memfd(int src) {
  int dst = memfd_create("warren-process", 0);  // no MFD_CLOEXEC: runsc reads it after exec
  if (dst < 0) return -1;
  char buf[65536];
  ssize_t n;
  while ((n = read(src, buf, sizeof(buf))) > 0)
    if (write(dst, buf, (size_t)n) != n) return -1;
  if (n < 0) return -1;
  close(src);
  return dst;
}

int main(int argc, char **argv) {
  const char *cgroups = NULL, *netns = NULL, *open_file = NULL, *state = NULL, *idmap = NULL;
  const char *runsc = "runsc";
  int i = 1;
  for (; i + 1 < argc && strcmp(argv[i], "--") != 0; i += 2) {
    const char *k = argv[i], *v = argv[i + 1];
    if (strcmp(k, "--cgroups") == 0) cgroups = v;
    else if (strcmp(k, "--netns") == 0) netns = v;
    else if (strcmp(k, "--open") == 0) open_file = v;
    else if (strcmp(k, "--state-dir") == 0) state = v;
    else if (strcmp(k, "--idmap") == 0) idmap = v;
    else if (strcmp(k, "--runsc") == 0) runsc = v;
    else {
      errno = EINVAL;
      return fail("unknown option", k);
    }
  }
  if (i >= argc || strcmp(argv[i], "--") != 0 || i + 1 >= argc) {
    fprintf(stderr, "usage: warren-runsc [options] -- <runsc args...>\n");
    return 125;
  }
  // Never run runsc as host root: without a map there is nothing to run it as.
  if (idmap == NULL || idmap[0] == '\0') {
    errno = EINVAL;
    return fail("--idmap is required", NULL);
  }
  char **args = argv + i;  // args[0] is "--", replaced by the binary below
  if (cgroups != NULL && cgroups[0] != '\0') {
    char *list = strdup(cgroups);
    if (list == NULL || join_cgroups(list) != 0) return 125;
    free(list);
  }
  if (netns != NULL && netns[0] != '\0') {
    int fd = open(netns, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fail("open", netns);
    if (setns(fd, CLONE_NEWNET) != 0) return fail("setns", netns);
    close(fd);
  }
  int src = -1;
  if (open_file != NULL && open_file[0] != '\0') {
    src = open(open_file, O_RDONLY | O_CLOEXEC);
    if (src < 0) return fail("open", open_file);
  }
  if (state != NULL && state[0] != '\0' && chdir(state) != 0) return fail("chdir", state);
  if (enter_userns(idmap) != 0) return 125;
  if (src >= 0) {
    // Reopening a root-only file through /proc/self/fd checks its mode again, so runsc gets
    // a copy in a memfd that its own uid made.
    static char fd_path[64];
    int dst = copy_to_memfd(src);
    if (dst < 0) return fail("copy", open_file);
    snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", dst);
    for (char **a = args + 1; *a != NULL; a++)
      if (strcmp(*a, "/dev/warren-open-file") == 0) *a = fd_path;
  }
  args[0] = (char *)runsc;
  execvp(runsc, args);
  fail("exec", runsc);
  return 127;
}
