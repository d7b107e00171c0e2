// warren-netd: a long-lived, single-threaded runner of Warren's network commands.
//
// The runner's network set-up needs two short processes per environment (warren-net add and
// `nft -f -`). Spawning them from the runner costs several milliseconds each, because the
// runner is a large Node process; forking this tiny process and exec'ing from here costs a
// fraction of that. The commands themselves are unchanged: each request still runs in a fresh
// process, so nothing (netns, nft cache) carries over from one request to the next.
//
// Only two programs can be run: the warren-net helper next to this binary, and `nft` from
// PATH. The runner speaks to it over stdin/stdout, one request at a time; several of these
// run side by side when the runner wants parallelism. EOF on stdin (the runner is gone) ends it.
//
// Request:  u32 argsLen, u32 inputLen, args (NUL-terminated strings; the first is "net" or
//           "nft"), input bytes (the command's stdin).
// Response: i32 status (exit code, or 128+signal), u32 outLen, u32 errLen, stdout, stderr.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_REQ (64u << 20)
#define MAX_ARGS 8192

static void fail(const char *what) {
  fprintf(stderr, "warren-netd: %s: %s\n", what, strerror(errno));
  exit(1);
}

static int read_full(int fd, void *buf, size_t len) {  // 0 ok, 1 clean EOF at start, -1 error
  size_t got = 0;
  while (got < len) {
    ssize_t r = read(fd, (char *)buf + got, len - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) return got == 0 ? 1 : -1;
    got += (size_t)r;
  }
  return 0;
}
static void write_full(int fd, const void *buf, size_t len) {
  size_t put = 0;
  while (put < len) {
    ssize_t w = write(fd, (const char *)buf + put, len - put);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) fail("write response");
    put += (size_t)w;
  }
}

struct growbuf {
  char *p;
  size_t len, cap;
};
static void grow_append(struct growbuf *g, const char *d, size_t n) {
  if (g->len + n > g->cap) {
    size_t cap = g->cap ? g->cap : 4096;
    while (cap < g->len + n) cap *= 2;
    g->p = realloc(g->p, cap);
    if (!g->p) fail("realloc");
    g->cap = cap;
  }
  memcpy(g->p + g->len, d, n);
  g->len += n;
}

static char net_helper[PATH_MAX];

// Runs one command, feeding `input` and collecting both outputs. Returns its status.
static int run_one(char **argv, const char *input, size_t inlen, struct growbuf *out, struct growbuf *err) {
  int pin[2], pout[2], perr[2];
  if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC)) fail("pipe");
  pid_t pid = fork();
  if (pid < 0) fail("fork");
  if (pid == 0) {
    signal(SIGPIPE, SIG_DFL);
    if (dup2(pin[0], 0) < 0 || dup2(pout[1], 1) < 0 || dup2(perr[1], 2) < 0) _exit(127);
    const char *prog = strcmp(argv[0], "net") ? "nft" : net_helper;
    char *args[MAX_ARGS + 2];
    int n = 0;
    args[n++] = (char *)prog;
    for (int i = 1; argv[i] && n <= MAX_ARGS; i++) args[n++] = argv[i];
    args[n] = NULL;
    execvp(prog, args);
    fprintf(stderr, "%s: %s\n", prog, strerror(errno));
    _exit(127);
  }
  close(pin[0]);
  close(pout[1]);
  close(perr[1]);
  size_t put = 0;
  if (inlen == 0) {
    close(pin[1]);
    pin[1] = -1;
  } else {
    fcntl(pin[1], F_SETFL, O_NONBLOCK);
  }
  int open_out = 2;
  char buf[65536];
  while (open_out > 0 || pin[1] >= 0) {
    struct pollfd fds[3] = {{pout[0], POLLIN, 0}, {perr[0], POLLIN, 0}, {pin[1], POLLOUT, 0}};
    if (poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      fail("poll");
    }
    for (int i = 0; i < 2; i++) {
      if (fds[i].fd < 0 || !fds[i].revents) continue;
      ssize_t r = read(fds[i].fd, buf, sizeof(buf));
      if (r < 0 && errno == EINTR) continue;
      if (r > 0) {
        grow_append(i ? err : out, buf, (size_t)r);
      } else {
        close(fds[i].fd);
        if (i) perr[0] = -1;
        else pout[0] = -1;
        open_out--;
      }
    }
    if (pin[1] >= 0 && fds[2].revents) {
      ssize_t w = (fds[2].revents & POLLOUT) ? write(pin[1], input + put, inlen - put) : -1;
      if (w > 0) put += (size_t)w;
      // A command that exits without reading all its input: its status and stderr say why.
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || put == inlen) {
        close(pin[1]);
        pin[1] = -1;
      }
    }
  }
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) fail("waitpid");
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int main(int argc, char **argv) {
  (void)argv;
  if (argc != 1) {
    fprintf(stderr, "usage: warren-netd (framed requests on stdin; see the source)\n");
    return 2;
  }
  // Dies with the runner even if stdin stays open somewhere else.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  signal(SIGPIPE, SIG_IGN);
  ssize_t n = readlink("/proc/self/exe", net_helper, sizeof(net_helper) - 16);
  if (n < 0) fail("readlink /proc/self/exe");
  net_helper[n] = 0;
  char *slash = strrchr(net_helper, '/');
  strcpy(slash ? slash + 1 : net_helper, "warren-net");

  for (;;) {
    uint32_t hdr[2];
    int r = read_full(0, hdr, sizeof(hdr));
    if (r == 1) return 0;
    if (r < 0) fail("read request");
    if (hdr[0] == 0 || hdr[0] > MAX_REQ || hdr[1] > MAX_REQ) {
      fprintf(stderr, "warren-netd: request too large or empty\n");
      return 1;
    }
    char *req = malloc((size_t)hdr[0] + hdr[1] + 1);
    if (!req) fail("malloc");
    if (read_full(0, req, (size_t)hdr[0] + hdr[1])) fail("read request body");
    if (req[hdr[0] - 1] != 0) {
      fprintf(stderr, "warren-netd: arguments must end with NUL\n");
      return 1;
    }
    char *args[MAX_ARGS + 1];
    int na = 0;
    for (size_t off = 0; off < hdr[0] && na < MAX_ARGS; off += strlen(req + off) + 1) args[na++] = req + off;
    args[na] = NULL;
    int32_t status;
    struct growbuf out = {0}, err = {0};
    if (strcmp(args[0], "net") && strcmp(args[0], "nft")) {
      const char *m = "warren-netd: only \"net\" and \"nft\" can be run\n";
      grow_append(&err, m, strlen(m));
      status = 2;
    } else {
      status = run_one(args, req + hdr[0], hdr[1], &out, &err);
    }
    uint32_t rh[3] = {(uint32_t)status, (uint32_t)out.len, (uint32_t)err.len};
    write_full(1, rh, sizeof(rh));
    if (out.len) write_full(1, out.p, out.len);
    if (err.len) write_full(1, err.p, err.len);
    free(out.p);
    free(err.p);
    free(req);
  }
}
