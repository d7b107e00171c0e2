// warren-relay: unix-socket plumbing for the SSH gateway, bind-mounted read-only at /.warren/relay
// in every environment and only ever started through the runtime's exec, so every path it opens
// is resolved inside the environment (its mount namespace, its user, its seccomp), never on the host.
//
//   warren-relay connect PATH   connect to the unix socket PATH; stdin -> socket, socket -> stdout,
//                               each direction half-closed on its own, exit once both have ended;
//                               "warren-relay: connected to PATH" on stderr once connected
//   warren-relay listen PATH    create the socket PATH (0600, in a 0700 directory made if missing),
//                               accept connections and multiplex them over stdin/stdout as frames:
//                                 [u32 conn id][u8 type][u32 len][len bytes]   (big-endian)
//                               types: 1 OPEN, 2 DATA, 3 EOF (half-close), 4 CLOSE, 5 READY (id 0)
//                               READY follows a successful bind; the socket is removed on exit,
//                               which comes when stdin ends, or on SIGTERM/SIGHUP/SIGINT.
//
// Exit status: 0 done, 1 the socket could not be made or reached (one line on stderr says why),
// 2 bad usage or a malformed frame from the gateway.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define BUF 65536
#define MAX_CONNS 64
#define MAX_PAYLOAD 65536
#define HDR 9
#define CHUNK 16384
enum { T_OPEN = 1, T_DATA = 2, T_EOF = 3, T_CLOSE = 4, T_READY = 5 };

static void die(int code, const char *what, const char *path, int err) {
  fprintf(stderr, "warren-relay: %s %s: %s\n", what, path, strerror(err));
  exit(code);
}

static void nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static void unix_addr(struct sockaddr_un *a, const char *path) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  if (strlen(path) >= sizeof a->sun_path) {
    fprintf(stderr, "warren-relay: socket path too long (max %zu bytes): %s\n", sizeof a->sun_path - 1, path);
    exit(1);
  }
  strcpy(a->sun_path, path);
}

// One direction of a byte relay: read from `in` into buf, write buf out to `out`.
struct pipe {
  int in, out;
  char buf[BUF];
  size_t off, len;
  int eof, done;
};

// Moves what it can without blocking; returns when it would block. Ends the direction (and
// half-closes the socket side) once the source ended and everything read was written.
static void pump(struct pipe *p, int out_is_sock, short rev_in, short rev_out) {
  if (p->done) return;
  if (p->len == 0 && !p->eof && (rev_in & (POLLIN | POLLHUP | POLLERR))) {
    ssize_t n = read(p->in, p->buf, sizeof p->buf);
    if (n > 0) {
      p->off = 0;
      p->len = (size_t)n;
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      p->eof = 1;
    }
  }
  if (p->len > 0 && (rev_out & (POLLOUT | POLLERR | POLLHUP))) {
    ssize_t n = write(p->out, p->buf + p->off, p->len);
    if (n > 0) {
      p->off += (size_t)n;
      p->len -= (size_t)n;
    } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
      p->len = 0;  // the reader went away: nothing more can be delivered this way
      p->eof = 1;
    }
  }
  if (p->eof && p->len == 0) {
    p->done = 1;
    if (out_is_sock) shutdown(p->out, SHUT_WR);
    else close(p->out);
  }
}

static int run_connect(const char *path) {
  struct sockaddr_un a;
  unix_addr(&a, path);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) die(1, "socket for", path, errno);
  if (connect(s, (struct sockaddr *)&a, sizeof a) < 0) die(1, "connect", path, errno);
  // The gateway waits for this line (or the first byte back) before it reports the dial as made.
  fprintf(stderr, "warren-relay: connected to %s\n", path);
  nonblock(s);
  nonblock(0);
  nonblock(1);
  static struct pipe up, down;  // up: stdin -> socket, down: socket -> stdout
  up.in = 0, up.out = s, down.in = s, down.out = 1;
  while (!up.done || !down.done) {
    struct pollfd f[4] = {{-1, 0, 0}, {-1, 0, 0}, {-1, 0, 0}, {-1, 0, 0}};
    if (!up.done) {
      if (up.len == 0 && !up.eof) f[0] = (struct pollfd){0, POLLIN, 0};
      if (up.len > 0) f[1] = (struct pollfd){s, POLLOUT, 0};
    }
    if (!down.done) {
      if (down.len == 0 && !down.eof) f[2] = (struct pollfd){s, POLLIN, 0};
      if (down.len > 0) f[3] = (struct pollfd){1, POLLOUT, 0};
    }
    if (poll(f, 4, -1) < 0 && errno != EINTR) die(1, "poll on", path, errno);
    pump(&up, 1, f[0].revents, f[1].revents);
    pump(&down, 0, f[2].revents, f[3].revents);
  }
  return 0;
}

// ---- listen ----

struct conn {
  int fd;  // -1: free slot
  uint32_t id;
  char out[BUF];  // gateway -> connection bytes not yet written
  size_t out_len;
  int read_eof;   // the connection ended its side; EOF frame sent
  int write_eof;  // the gateway ended its side; shut once out is drained
  int write_shut;
  int closing;  // the gateway closed it: deliver what is buffered, then drop it
};

static struct conn conns[MAX_CONNS];
static char tx[4 * BUF];  // frames to the gateway (stdout)
static size_t tx_len;
static char rx[HDR + MAX_PAYLOAD];  // one frame from the gateway (stdin) being read
static size_t rx_len;
static uint32_t next_id = 1;
static const char *sock_path;
static struct stat sock_st;
static char made_dir[sizeof((struct sockaddr_un *)0)->sun_path];
static volatile sig_atomic_t stop;

static void on_signal(int sig) { (void)sig, stop = 1; }

static void put32(char *p, uint32_t v) {
  p[0] = (char)(v >> 24), p[1] = (char)(v >> 16), p[2] = (char)(v >> 8), p[3] = (char)v;
}
static uint32_t get32(const char *p) {
  const unsigned char *u = (const unsigned char *)p;
  return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

// Callers check room first (tx_room); frames are never dropped.
static void emit(uint32_t id, int type, const char *data, size_t len) {
  put32(tx + tx_len, id);
  tx[tx_len + 4] = (char)type;
  put32(tx + tx_len + 5, (uint32_t)len);
  if (len) memcpy(tx + tx_len + HDR, data, len);
  tx_len += HDR + len;
}
static size_t tx_room(void) { return sizeof tx - tx_len; }

static void drop(struct conn *c, int tell) {
  if (tell) emit(c->id, T_CLOSE, NULL, 0);
  close(c->fd);
  c->fd = -1;
}

static struct conn *find(uint32_t id) {
  for (int i = 0; i < MAX_CONNS; i++)
    if (conns[i].fd >= 0 && conns[i].id == id) return &conns[i];
  return NULL;
}

static void cleanup(void) {
  struct stat st;
  // Only the socket this process made: a later one at the same path is not ours to remove.
  if (sock_path && lstat(sock_path, &st) == 0 && st.st_ino == sock_st.st_ino && st.st_dev == sock_st.st_dev)
    unlink(sock_path);
  if (made_dir[0]) rmdir(made_dir);
}

// The directory must be ours alone, or another user of the environment could swap the socket.
static void prepare_dir(const char *path) {
  char copy[sizeof made_dir];
  snprintf(copy, sizeof copy, "%s", path);
  const char *dir = dirname(copy);
  struct stat st;
  if (lstat(dir, &st) < 0) {
    if (errno != ENOENT) die(1, "stat", dir, errno);
    if (mkdir(dir, 0700) < 0) die(1, "mkdir", dir, errno);
    snprintf(made_dir, sizeof made_dir, "%s", dir);
    return;
  }
  if (!S_ISDIR(st.st_mode)) die(1, "not a directory:", dir, ENOTDIR);
  // A sticky directory such as /tmp is fine too: no one else may remove or replace our socket there.
  if (st.st_uid != geteuid() && !(st.st_mode & S_ISVTX)) {
    fprintf(stderr, "warren-relay: %s belongs to uid %u, not to this user (uid %u)\n", dir, st.st_uid, geteuid());
    exit(1);
  }
}

static int make_listener(const char *path) {
  struct sockaddr_un a;
  unix_addr(&a, path);
  prepare_dir(path);
  struct stat st;
  if (lstat(path, &st) == 0) {
    if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
      fprintf(stderr, "warren-relay: %s exists and is not a socket of this user; remove it or pick another path\n",
              path);
      exit(1);
    }
    unlink(path);  // a stale socket of ours from an earlier session
  }
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0) die(1, "socket for", path, errno);
  mode_t old = umask(0177);
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0) die(1, "bind", path, errno);
  umask(old);
  if (lstat(path, &sock_st) < 0) die(1, "stat", path, errno);
  sock_path = path;
  if (listen(s, 16) < 0) die(1, "listen on", path, errno);
  return s;
}

// Acts on one complete frame from the gateway. Returns 0 when it must wait (the connection's
// buffer is full) and the frame stays in rx.
static int handle_frame(void) {
  uint32_t id = get32(rx);
  int type = rx[4];
  uint32_t len = get32(rx + 5);
  struct conn *c = find(id);
  if (type == T_DATA) {
    if (!c || c->write_eof || c->closing) return 1;  // gone or ended; nothing more is delivered
    if (c->out_len + len > sizeof c->out) return 0;
    memcpy(c->out + c->out_len, rx + HDR, len);
    c->out_len += len;
  } else if (type == T_EOF) {
    if (c) c->write_eof = 1;
  } else if (type == T_CLOSE) {
    // A close right after the last data (an SSH channel closes straight after its EOF) must not
    // lose what is still on its way into the connection.
    if (c && c->out_len == 0) drop(c, 0);
    else if (c) c->closing = 1;
  } else {
    fprintf(stderr, "warren-relay: unknown frame type %d from the gateway\n", type);
    cleanup();
    exit(2);
  }
  return 1;
}

static int run_listen(const char *path) {
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  for (int i = 0; i < MAX_CONNS; i++) conns[i].fd = -1;
  int ls = make_listener(path);
  nonblock(0);
  nonblock(1);
  emit(0, T_READY, NULL, 0);
  int in_eof = 0;
  while (!stop && !in_eof) {
    // A frame that waited for room goes first: the writes of the last round may have made it.
    if (rx_len >= HDR && rx_len == HDR + get32(rx + 5) && handle_frame()) rx_len = 0;
    // all[0] stdin, all[1] the listener, all[2..] the connections, all[2 + MAX_CONNS] stdout.
    struct pollfd all[3 + MAX_CONNS];
    int frame_ready = rx_len >= HDR && rx_len == HDR + get32(rx + 5);
    all[0] = (struct pollfd){frame_ready ? -1 : 0, POLLIN, 0};
    all[1] = (struct pollfd){tx_room() >= HDR ? ls : -1, POLLIN, 0};
    for (int i = 0; i < MAX_CONNS; i++) {
      struct conn *c = &conns[i];
      short ev = 0;
      if (c->fd >= 0 && !c->read_eof && !c->closing && tx_room() >= HDR + CHUNK) ev |= POLLIN;
      if (c->fd >= 0 && c->out_len > 0) ev |= POLLOUT;
      all[2 + i] = (struct pollfd){ev ? c->fd : -1, ev, 0};
    }
    all[2 + MAX_CONNS] = (struct pollfd){tx_len ? 1 : -1, POLLOUT, 0};
    if (poll(all, 3 + MAX_CONNS, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    // Frames to the gateway first, so room opens for what the connections have to say.
    if (all[2 + MAX_CONNS].revents) {
      ssize_t n = write(1, tx, tx_len);
      if (n > 0) {
        memmove(tx, tx + n, tx_len - (size_t)n);
        tx_len -= (size_t)n;
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        break;  // the gateway is gone
      }
    }
    if (all[0].revents) {
      size_t want = rx_len < HDR ? HDR - rx_len : HDR + get32(rx + 5) - rx_len;
      ssize_t n = read(0, rx + rx_len, want);
      if (n == 0) in_eof = 1;
      else if (n < 0 && errno != EAGAIN && errno != EINTR) in_eof = 1;
      else if (n > 0) {
        rx_len += (size_t)n;
        if (rx_len == HDR && get32(rx + 5) > MAX_PAYLOAD) {
          fprintf(stderr, "warren-relay: frame of %u bytes from the gateway (max %d)\n", get32(rx + 5), MAX_PAYLOAD);
          cleanup();
          exit(2);
        }
      }
    }
    if (rx_len >= HDR && rx_len == HDR + get32(rx + 5) && handle_frame()) rx_len = 0;
    for (int i = 0; i < MAX_CONNS; i++) {
      struct conn *c = &conns[i];
      short rev = all[2 + i].revents;
      if (c->fd < 0 || !rev) continue;
      if (c->out_len > 0 && (rev & (POLLOUT | POLLERR | POLLHUP))) {
        ssize_t n = write(c->fd, c->out, c->out_len);
        if (n > 0) {
          memmove(c->out, c->out + n, c->out_len - (size_t)n);
          c->out_len -= (size_t)n;
        } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
          if (c->closing) drop(c, 0);
          else if (tx_room() >= HDR) drop(c, 1);
          continue;
        }
      }
      if (!c->read_eof && !c->closing && (rev & (POLLIN | POLLHUP | POLLERR)) && tx_room() >= HDR + CHUNK) {
        char buf[CHUNK];
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n > 0) emit(c->id, T_DATA, buf, (size_t)n);
        else if (n == 0) {
          c->read_eof = 1;
          emit(c->id, T_EOF, NULL, 0);
        } else if (errno != EAGAIN && errno != EINTR) {
          drop(c, 1);
          continue;
        }
      }
    }
    // Gateway half-closes land once their bytes are written; a connection done both ways is freed.
    for (int i = 0; i < MAX_CONNS; i++) {
      struct conn *c = &conns[i];
      if (c->fd < 0) continue;
      if (c->closing && c->out_len == 0) {
        drop(c, 0);
        continue;
      }
      if (c->write_eof && !c->write_shut && c->out_len == 0) {
        shutdown(c->fd, SHUT_WR);
        c->write_shut = 1;
      }
      if (c->read_eof && c->write_shut && tx_room() >= HDR) drop(c, 1);
    }
    if (all[1].revents & POLLIN) {
      int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd >= 0) {
        struct conn *slot = NULL;
        for (int i = 0; i < MAX_CONNS && !slot; i++)
          if (conns[i].fd < 0) slot = &conns[i];
        if (!slot) {
          fprintf(stderr, "warren-relay: %d connections open on %s; refusing another\n", MAX_CONNS, path);
          close(fd);
        } else {
          *slot = (struct conn){.fd = fd, .id = next_id++};
          emit(slot->id, T_OPEN, NULL, 0);
        }
      }
    }
  }
  cleanup();
  return 0;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc == 3 && strcmp(argv[1], "connect") == 0) return run_connect(argv[2]);
  if (argc == 3 && strcmp(argv[1], "listen") == 0) return run_listen(argv[2]);
  fprintf(stderr, "usage: warren-relay connect PATH | warren-relay listen PATH\n");
  return 2;
}
