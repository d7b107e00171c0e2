// warren-supervise's daemon: the control socket, the event loop, the triggers fired in this
// start of the environment, and `up`, which starts the daemon detached exactly once.
// Included by warren-supervise.c only.
#pragma once
#include <sys/prctl.h>
#include "supervise-units.h"

static unsigned fired;  // bit i: TRIGGERS[i] has fired since the environment started
static int quitting;
static long long quit_deadline;
static char out_buf[65536];
static size_t out_len;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(out_buf + out_len, sizeof out_buf - out_len, fmt, ap);
  va_end(ap);
  if (n > 0) out_len += (size_t)n < sizeof out_buf - out_len ? (size_t)n : sizeof out_buf - out_len - 1;
}

// Identifies this start of the environment: the host's boot and the start time of its pid 1,
// both different after a stop and start, so triggers fire again then and only then.
static void boot_id(char *id, size_t len) {
  char b[64] = "", s[1024] = "";
  int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, b, sizeof b - 1);
    b[n > 0 ? n : 0] = 0;
    b[strcspn(b, "\n")] = 0;
    close(fd);
  }
  fd = open("/proc/1/stat", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = read(fd, s, sizeof s - 1);
    s[n > 0 ? n : 0] = 0;
    close(fd);
  }
  const char *p = strrchr(s, ')');
  for (int field = 2; p && field < 22; field++) p = strchr(p + 1, ' ');  // to field 22, starttime
  snprintf(id, len, "%s %.*s", b, p ? (int)strcspn(p + 1, " ") : 0, p ? p + 1 : "");
}

static void load_fired(void) {
  char id[128], buf[1024];
  boot_id(id, sizeof id);
  int fd = open(FIRED_PATH, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n > 0 ? n : 0] = 0;
  size_t l = strlen(id);
  if (strncmp(buf, id, l) != 0 || buf[l] != '\n') return;  // fired in an earlier start
  for (int i = 0; i < N_TRIGGERS; i++) {
    char want[64];
    snprintf(want, sizeof want, "\n%s\n", TRIGGERS[i]);
    if (strstr(buf + l, want)) fired |= 1u << i;
  }
}

static void save_fired(void) {
  char id[128];
  boot_id(id, sizeof id);
  int fd = open(FIRED_PATH ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return;
  dprintf(fd, "%s\n", id);
  for (int i = 0; i < N_TRIGGERS; i++)
    if (fired & (1u << i)) dprintf(fd, "%s\n", TRIGGERS[i]);
  close(fd);
  rename(FIRED_PATH ".tmp", FIRED_PATH);
}

static void status_json(void) {
  out("[");
  for (int i = 0; i < cfg.nunits; i++) {
    const struct rt *r = &rts[i];
    out("%s{\"name\":\"%s\",\"kind\":\"%s\",\"state\":\"%s\",\"restarts\":%d,\"runs\":%d", i ? "," : "",
        cfg.units[i].name, cfg.units[i].kind == K_SERVICE ? "service" : "task", STATE_NAMES[r->state],
        r->restarts, r->runs);
    if (r->pid > 0) out(",\"pid\":%d", (int)r->pid);
    if (r->has_exit) out(",\"exitCode\":%d", r->last_exit);
    if (r->msg[0] && r->state != S_READY && r->state != S_RUNNING && r->state != S_DONE) {
      out(",\"message\":\"");
      for (const char *m = r->msg; *m; m++)  // names and strerror text; kept JSON-safe anyway
        if (*m >= 0x20 && *m != '"' && *m != '\\') out("%c", *m);
      out("\"");
    }
    out("}");
  }
  out("]\n");
}

// One request per connection: "VERB [ARG]\n"; the answer is "ok\n" + body, or "error WHY\n".
static void handle(const char *verb, const char *arg) {
  int i = arg ? find_unit(&cfg, arg) : -1;
  if (strcmp(verb, "ping") == 0) {
    out("ok\n");
  } else if (strcmp(verb, "status") == 0) {
    out("ok\n");
    status_json();
  } else if (strcmp(verb, "state") == 0 && arg) {
    if (i < 0) out("error no service or task named %s\n", arg);
    else out("ok\n%s\n", STATE_NAMES[rts[i].state]);
  } else if (strcmp(verb, "quit") == 0) {
    quitting = 1;
    quit_deadline = now_ms() + STOP_GRACE_MS + 1000;
    out("ok\n");
  } else if (strcmp(verb, "trigger") == 0 && arg) {
    int t = -1;
    for (int k = 0; k < N_TRIGGERS; k++)
      if (strcmp(arg, TRIGGERS[k]) == 0) t = k;
    if (t < 0) {
      out("error unknown trigger %s\n", arg);
      return;
    }
    out("ok\n");
    if (fired & (1u << t)) return;  // once per start of the environment
    fired |= 1u << t;
    save_fired();
    for (int k = 0; k < cfg.nunits; k++)
      if (cfg.units[k].kind == K_TASK && (cfg.units[k].triggers & (1u << t))) {
        rts[k].want = 1;
        need(k, 0);
        out("%s\n", cfg.units[k].name);
      }
  } else if (arg && (strcmp(verb, "start") == 0 || strcmp(verb, "stop") == 0 || strcmp(verb, "restart") == 0 ||
                     strcmp(verb, "run") == 0)) {
    int task = strcmp(verb, "run") == 0;
    if (i < 0 || (cfg.units[i].kind == K_TASK) != task) {
      out("error no %s named %s\n", task ? "task" : "service", arg);
      return;
    }
    struct rt *r = &rts[i];
    if (strcmp(verb, "stop") == 0) {
      r->want = 0;
    } else {
      if (strcmp(verb, "restart") == 0 && r->pid > 0) begin_stop(i);
      if (r->state == S_FAILED || r->state == S_EXITED || r->state == S_DONE) r->state = S_STOPPED;
      if (!task || r->state != S_RUNNING) r->want = 1;
      r->backoff = 0;
      need(i, 0);
    }
    out("ok\n");
  } else {
    out("error unknown request %s\n", verb);
  }
}

static void serve(int ls) {
  int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
  if (c < 0) return;
  struct timeval tv = {1, 0};
  setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  char req[256];
  size_t n = 0;
  while (n < sizeof req - 1) {
    ssize_t r = read(c, req + n, sizeof req - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
    if (memchr(req, '\n', n)) break;
  }
  req[n] = 0;
  req[strcspn(req, "\n")] = 0;
  char *arg = strchr(req, ' ');
  if (arg) *arg++ = 0;
  out_len = 0;
  handle(req, arg);
  step();  // so the answer to the next request already shows what this one set going
  for (size_t w = 0; w < out_len;) {
    ssize_t k = write(c, out_buf + w, out_len - w);
    if (k <= 0) break;
    w += (size_t)k;
  }
  close(c);
}

static int any_pid(void) {
  for (int i = 0; i < cfg.nunits; i++)
    if (rts[i].pid > 0) return 1;
  return 0;
}

static int needs_tick(void) {
  for (int i = 0; i < cfg.nunits; i++) {
    enum state s = rts[i].state;
    if (s == S_BACKOFF || s == S_STARTING || s == S_STOPPING) return 1;
  }
  return quitting;
}

static int run_daemon(char *config_text) {
  char err[256];
  if (parse_config(config_text, &cfg, err, sizeof err) != 0 || resolve_user(cfg.user, &who, err, sizeof err) != 0) {
    fprintf(stderr, "warren-supervise: %s\n", err);
    return 2;
  }
  if (who.set) {  // the user's own, as a login would set them
    setenv("HOME", who.home, 1);
    if (who.name[0]) setenv("USER", who.name, 1), setenv("LOGNAME", who.name, 1);
    if (who.shell[0]) setenv("SHELL", who.shell, 1);
  }
  for (int i = 0; i < cfg.nenv; i++) putenv(cfg.env[i]);
  devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  for (int i = 0; i < cfg.nunits; i++) rts[i].out = rts[i].log = -1;
  load_fired();
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  signal(SIGPIPE, SIG_IGN);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strcpy(a.sun_path, SOCK_PATH);
  unlink(SOCK_PATH);
  mode_t old = umask(0077);
  if (sfd < 0 || ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 16) != 0) {
    fprintf(stderr, "warren-supervise: control socket %s: %s\n", SOCK_PATH, strerror(errno));
    return 1;
  }
  umask(old);
  for (int i = 0; i < cfg.nunits; i++)
    if (cfg.units[i].kind == K_SERVICE) rts[i].want = 1;
  step();
  for (;;) {
    if (quitting) {
      for (int i = 0; i < cfg.nunits; i++) {
        rts[i].want = 0;
        if (rts[i].pid > 0 && rts[i].state != S_STOPPING) begin_stop(i);
      }
      if (!any_pid() || now_ms() > quit_deadline) break;
    }
    struct pollfd f[2 + MAX_UNITS];
    int map[2 + MAX_UNITS], nf = 2;
    f[0] = (struct pollfd){ls, POLLIN, 0};
    f[1] = (struct pollfd){sfd, POLLIN, 0};
    for (int i = 0; i < cfg.nunits; i++)
      if (rts[i].out >= 0) map[nf] = i, f[nf++] = (struct pollfd){rts[i].out, POLLIN, 0};
    if (poll(f, (nfds_t)nf, needs_tick() ? 100 : -1) < 0 && errno != EINTR) break;
    for (int k = 2; k < nf; k++)
      if (f[k].revents) drain(map[k]);
    if (f[1].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == sizeof si)
        if (si.ssi_signo != SIGCHLD && !quitting) quitting = 1, quit_deadline = now_ms() + STOP_GRACE_MS + 1000;
      int st;
      pid_t pid;
      while ((pid = waitpid(-1, &st, WNOHANG)) > 0) on_exit_of(pid, st);
    }
    if (f[0].revents) serve(ls);
    step();
  }
  for (int i = 0; i < cfg.nunits; i++)
    if (rts[i].pid > 0) kill(-rts[i].pid, SIGKILL);
  unlink(SOCK_PATH);
  return 0;
}
