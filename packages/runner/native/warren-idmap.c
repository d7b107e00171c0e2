// warren-idmap <hostStart> <size> <src> <dst> [<src> <dst> ...]
//
// Makes idmapped bind mounts: each <src> appears at <dst> with uid/gid N shown as hostStart+N,
// so one shared image layer owned by 0 looks owned by an environment's root without chowning
// it. util-linux 2.38 cannot ask for this, hence the helper. Must run as host root.
//
// All pairs or none: if one pair fails, the mounts already made are detached again, so a
// retry starts clean. Errors name the step and the path and exit non-zero.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

// Older headers lack these; the values are the kernel ABI.
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef MOUNT_ATTR_NODEV
#define MOUNT_ATTR_NODEV 0x00000004
#endif
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

// Our own copy of struct mount_attr: glibc's <sys/mount.h> may or may not declare it.
struct warren_mount_attr {
  uint64_t attr_set;
  uint64_t attr_clr;
  uint64_t propagation;
  uint64_t userns_fd;
};

static int sys_open_tree(int dfd, const char *path, unsigned flags) {
  return (int)syscall(SYS_open_tree, dfd, path, flags);
}
static int sys_mount_setattr(int dfd, const char *path, unsigned flags, struct warren_mount_attr *attr) {
  return (int)syscall(SYS_mount_setattr, dfd, path, flags, attr, sizeof(*attr));
}
static int sys_move_mount(int from_dfd, const char *from, int to_dfd, const char *to, unsigned flags) {
  return (int)syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags);
}

static int parse_u32(const char *s, unsigned long *out) {
  char *end = NULL;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || !end || *end || end == s || v > UINT32_MAX) return -1;
  *out = v;
  return 0;
}

static int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = write(fd, text, strlen(text));
  int saved = errno;
  close(fd);
  errno = saved;
  return n == (ssize_t)strlen(text) ? 0 : -1;
}

// A user namespace with uid_map and gid_map "0 start size". A child enters it and waits on a
// pipe while we, as host root, write its maps and take a reference to it; the namespace then
// lives on through the returned fd after the child is gone.
static int make_userns(unsigned long start, unsigned long size) {
  int ready[2], hold[2];
  if (pipe2(ready, O_CLOEXEC) || pipe2(hold, O_CLOEXEC)) {
    perror("warren-idmap: pipe");
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    perror("warren-idmap: fork");
    return -1;
  }
  if (pid == 0) {
    close(ready[0]);
    close(hold[1]);
    char ok = unshare(CLONE_NEWUSER) == 0 ? 'y' : 'n';
    if (write(ready[1], &ok, 1) != 1) _exit(1);
    char c;
    // Blocks until the parent closes its end (or dies), so the namespace exists while mapped.
    while (read(hold[0], &c, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }
  close(ready[1]);
  close(hold[0]);

  int nsfd = -1;
  char ok = 0;
  char path[64], map[96];
  if (read(ready[0], &ok, 1) != 1 || ok != 'y') {
    fprintf(stderr, "warren-idmap: unshare(CLONE_NEWUSER) failed in child (are user namespaces enabled?)\n");
    goto out;
  }
  snprintf(map, sizeof(map), "0 %lu %lu\n", start, size);
  snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
  if (write_file(path, map)) {
    fprintf(stderr, "warren-idmap: write %s (%s): %s\n", path, "uid", strerror(errno));
    goto out;
  }
  snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
  if (write_file(path, map)) {
    fprintf(stderr, "warren-idmap: write %s (%s): %s\n", path, "gid", strerror(errno));
    goto out;
  }
  snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
  nsfd = open(path, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) fprintf(stderr, "warren-idmap: open %s: %s\n", path, strerror(errno));
out:
  close(ready[0]);
  close(hold[1]);
  kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
  return nsfd;
}

static int idmap_one(int nsfd, const char *src, const char *dst) {
  int fd = sys_open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "warren-idmap: open_tree %s: %s\n", src, strerror(errno));
    return -1;
  }
  struct warren_mount_attr attr = {
      .attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NODEV,
      .userns_fd = (uint64_t)nsfd,
  };
  if (sys_mount_setattr(fd, "", AT_EMPTY_PATH, &attr)) {
    fprintf(stderr, "warren-idmap: mount_setattr(idmap) %s: %s\n", src, strerror(errno));
    close(fd);
    return -1;
  }
  if (sys_move_mount(fd, "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH)) {
    fprintf(stderr, "warren-idmap: move_mount %s -> %s: %s\n", src, dst, strerror(errno));
    close(fd);
    return -1;
  }
  close(fd);
  return 0;
}

int main(int argc, char **argv) {
  unsigned long start, size;
  if (argc < 5 || (argc - 3) % 2 != 0 || parse_u32(argv[1], &start) || parse_u32(argv[2], &size) || size == 0 ||
      start + size - 1 > UINT32_MAX) {
    fprintf(stderr, "usage: warren-idmap <hostStart> <size> <src> <dst> [<src> <dst> ...]\n");
    return 2;
  }
  int nsfd = make_userns(start, size);
  if (nsfd < 0) return 1;
  for (int i = 3; i < argc; i += 2) {
    if (idmap_one(nsfd, argv[i], argv[i + 1]) == 0) continue;
    for (int j = i - 2; j >= 3; j -= 2) {
      if (umount2(argv[j + 1], MNT_DETACH)) fprintf(stderr, "warren-idmap: rollback umount %s: %s\n", argv[j + 1], strerror(errno));
    }
    return 1;
  }
  return 0;
}
