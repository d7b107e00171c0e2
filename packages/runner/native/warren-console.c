// warren-console: the host side of `warren exec -t` for runtimes that hand the terminal over
// through a console socket (crun: `exec --tty --console-socket PATH`).
//
//   warren-console SOCKET ROWS COLS -- RUNTIME [ARGS...]
//
// Listens on SOCKET (a new path in a root-only directory), runs RUNTIME ARGS, which must name
// SOCKET as their console socket, takes the terminal's master the runtime sends there, and
// relays:
//   fd 0 -> master; at end of input the terminal's EOF character, so a reading command sees EOF
//   master -> fd 1
//   fd 3: window sizes, one "ROWS COLS\n" a line -> TIOCSWINSZ on the master; the kernel turns
//         each into SIGWINCH for the command
// and exits with the runtime's status, which is the command's. The runtime's own messages go to
// fd 2. SIGHUP hangs the terminal up (closes the master), as a dropped ssh connection does;
// SIGINT, SIGTERM and SIGQUIT go on to the runtime.
//
// Why: crun, run on a terminal of its own, copies that terminal's size once and never again,
// so resizes were lost. Holding the master ourselves also means one terminal, not two: nothing
// is echoed before the runtime sets its terminal raw, and no outer line discipline eats the EOF.
// The master carries only bytes; nothing from the environment is run or interpreted here.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define FAIL 125
// After the runtime exits, output still in the terminal is drained until it is quiet this long.
#define DRAIN_MS 100
// ...but not longer than this in all: a background process may keep writing to it forever.
#define DRAIN_MAX_MS 1000

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void die(const char *what) {
  fprintf(stderr, "warren-console: %s: %s\n", what, strerror(errno));
  exit(FAIL);
}

static int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return FAIL;
}

static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, buf, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += n;
    len -= (size_t)n;
  }
  return 0;
}

static void set_size(int master, int rows, int cols) {
  if (rows < 1 || cols < 1 || rows > 65535 || cols > 65535) return;
  struct winsize ws = {.ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols};
  ioctl(master, TIOCSWINSZ, &ws);
}

static int recv_fd(int conn) {
  char data[1];
  char control[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {.iov_base = data, .iov_len = sizeof data};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                       .msg_controllen = sizeof control};
  ssize_t n;
  do n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) die("receive the terminal");
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (c == NULL || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
      c->cmsg_len != CMSG_LEN(sizeof(int))) {
    errno = EPROTO;
    die("receive the terminal");
  }
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return fd;
}

// Resize lines on fd 3; a partial line waits for the rest.
static char ctl_buf[256];
static size_t ctl_len;

static void handle_control(int ctl, int master, int *open) {
  ssize_t n = read(ctl, ctl_buf + ctl_len, sizeof ctl_buf - 1 - ctl_len);
  if (n <= 0) {
    if (n < 0 && errno == EINTR) return;
    *open = 0;
    return;
  }
  ctl_len += (size_t)n;
  ctl_buf[ctl_len] = '\0';
  char *line = ctl_buf;
  char *nl;
  while ((nl = strchr(line, '\n')) != NULL) {
    *nl = '\0';
    int rows = 0, cols = 0;
    if (sscanf(line, "%d %d", &rows, &cols) == 2) set_size(master, rows, cols);
    line = nl + 1;
  }
  ctl_len = strlen(line);
  memmove(ctl_buf, line, ctl_len);
  if (ctl_len >= sizeof ctl_buf - 1) ctl_len = 0;  // a line this long is garbage
}

int main(int argc, char **argv) {
  if (argc < 6 || strcmp(argv[4], "--") != 0) {
    fprintf(stderr, "usage: warren-console SOCKET ROWS COLS -- RUNTIME [ARGS...]\n");
    return 2;
  }
  const char *path = argv[1];
  int rows = atoi(argv[2]), cols = atoi(argv[3]);
  char **runtime = argv + 5;

  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    die("console socket path");
  }
  strcpy(addr.sun_path, path);
  int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) die("socket");
  umask(077);
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind the console socket");
  if (listen(listener, 1) < 0) die("listen");

  sigset_t mask, original;
  sigemptyset(&mask);
  int sigs[] = {SIGCHLD, SIGHUP, SIGINT, SIGTERM, SIGQUIT};
  for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaddset(&mask, sigs[i]);
  signal(SIGPIPE, SIG_IGN);
  if (sigprocmask(SIG_BLOCK, &mask, &original) < 0) die("sigprocmask");
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC);
  if (sfd < 0) die("signalfd");

  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    // The runtime reads no input and writes only its own messages, to fd 2.
    sigprocmask(SIG_SETMASK, &original, NULL);
    signal(SIGPIPE, SIG_DFL);
    int null = open("/dev/null", O_RDWR);
    if (null < 0 || dup2(null, 0) < 0 || dup2(2, 1) < 0) _exit(FAIL);
    close(3);
    execvp(runtime[0], runtime);
    fprintf(stderr, "warren-console: exec %s: %s\n", runtime[0], strerror(errno));
    _exit(FAIL);
  }

  int code = -1;
  int master = -1;
  // Until the runtime sends the master, or exits without doing so (its message is on fd 2).
  while (master < 0 && code < 0) {
    struct pollfd p[2] = {{.fd = listener, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (p[1].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof si) != sizeof si) continue;
      if (si.ssi_signo == SIGCHLD) {
        int st;
        if (waitpid(child, &st, WNOHANG) == child) code = status_code(st);
      } else if (si.ssi_signo != SIGHUP) {
        kill(child, (int)si.ssi_signo);
      } else {
        kill(child, SIGKILL);  // hung up before the command even started
      }
    }
    if (p[0].revents & POLLIN) {
      int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
      if (conn < 0) continue;
      master = recv_fd(conn);
      close(conn);
    }
  }
  close(listener);
  unlink(path);
  if (master < 0) return code;

  set_size(master, rows, cols);
  fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
  int in_open = 1, ctl_open = fcntl(3, F_GETFD) >= 0, master_open = 1;
  char pending[4096];
  size_t pending_len = 0, pending_off = 0;
  char buf[65536];
  long long exited_at = 0;
  for (;;) {
    if (code >= 0 && !master_open) break;
    if (code >= 0 && exited_at == 0) exited_at = now_ms();
    if (exited_at != 0 && now_ms() - exited_at > DRAIN_MAX_MS) break;
    struct pollfd p[4];
    int np = 0;
    p[np++] = (struct pollfd){.fd = sfd, .events = POLLIN};
    int im = -1, ii = -1, ic = -1;
    if (master_open) {
      im = np;
      p[np++] = (struct pollfd){.fd = master, .events = POLLIN | (pending_len ? POLLOUT : 0)};
    }
    if (in_open && master_open && pending_len == 0) {
      ii = np;
      p[np++] = (struct pollfd){.fd = 0, .events = POLLIN};
    }
    if (ctl_open && master_open) {
      ic = np;
      p[np++] = (struct pollfd){.fd = 3, .events = POLLIN};
    }
    int r = poll(p, (nfds_t)np, code >= 0 ? DRAIN_MS : -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    if (r == 0) break;  // the runtime is gone and the terminal has gone quiet
    if (p[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (read(sfd, &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) {
          int st;
          if (waitpid(child, &st, WNOHANG) == child) code = status_code(st);
        } else if (si.ssi_signo == SIGHUP) {
          if (master_open) close(master);
          master_open = 0;
        } else {
          kill(child, (int)si.ssi_signo);
        }
      }
    }
    if (im >= 0 && master_open && (p[im].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = read(master, buf, sizeof buf);
      if (n > 0) {
        if (write_all(1, buf, (size_t)n) < 0) {
          close(master);  // nobody reads the output any more: hang up
          master_open = 0;
        }
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        // EIO: every holder of the terminal's other end has closed it.
        close(master);
        master_open = 0;
      }
    }
    if (im >= 0 && master_open && pending_len && (p[im].revents & POLLOUT)) {
      ssize_t n = write(master, pending + pending_off, pending_len);
      if (n > 0) {
        pending_off += (size_t)n;
        pending_len -= (size_t)n;
      }
    }
    // Sizes before input: the runner writes a resize before the keys that follow it, so a
    // command run by those keys sees the new size.
    if (ic >= 0 && (p[ic].revents & (POLLIN | POLLHUP | POLLERR))) handle_control(3, master, &ctl_open);
    if (ii >= 0 && (p[ii].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t n = read(0, pending, sizeof pending);
      if (n > 0) {
        pending_off = 0;
        pending_len = (size_t)n;
      } else if (n == 0 || errno != EINTR) {
        // End of input: the EOF character, which a reader on the terminal gets as end of file.
        struct termios t;
        pending[0] = tcgetattr(master, &t) == 0 ? (char)t.c_cc[VEOF] : 4;
        pending_off = 0;
        pending_len = 1;
        in_open = 0;
      }
    }
  }
  if (code < 0) {
    int st = 0;
    while (waitpid(child, &st, 0) < 0 && errno == EINTR) {
    }
    code = status_code(st);
  }
  return code;
}
