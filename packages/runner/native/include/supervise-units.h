// warren-supervise's units at run time: starting a service or task as the configured user,
// its output into a rotated log, readiness probes, restarts with backoff, and the dependency
// rules (a service starts once the services it depends on are ready and the tasks done; a task
// runs once its dependencies are). Included by warren-supervise.c only.
#pragma once
#include <netinet/in.h>
#include "supervise-config.h"

#define LOG_ROTATE_BYTES (2 * 1024 * 1024)
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define STABLE_MS 10000  // a service up this long restarts from the minimum backoff again
#define STOP_GRACE_MS 5000
#define PROBE_EVERY_MS 250

enum state { S_IDLE, S_STOPPED, S_WAITING, S_STARTING, S_READY, S_BACKOFF, S_STOPPING, S_FAILED, S_EXITED, S_RUNNING, S_DONE };
static const char *const STATE_NAMES[] = {"idle",    "stopped", "waiting", "starting", "ready", "backoff",
                                          "stopping", "failed",  "exited",  "running",  "done"};

struct rt {
  enum state state;
  int want;  // service: should run; task: a run was asked for and has not started yet
  pid_t pid, probe;
  int out, log;
  long long log_size, started, next_at, stop_deadline;
  int backoff, restarts, runs, last_exit, has_exit;
  char msg[160];
};

static struct config cfg;
static struct rt rts[MAX_UNITS];
static struct runas who;
static int devnull = -1;

static void open_log(int i) {
  if (rts[i].log >= 0) return;
  char p[PATH_MAX];
  snprintf(p, sizeof p, LOG_DIR "/%s.log", cfg.units[i].name);
  rts[i].log = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
  struct stat st;
  rts[i].log_size = rts[i].log >= 0 && fstat(rts[i].log, &st) == 0 ? st.st_size : 0;
}

static void log_write(int i, const char *buf, size_t n) {
  open_log(i);
  if (rts[i].log < 0) return;
  if (rts[i].log_size + (long long)n > LOG_ROTATE_BYTES) {
    char p[PATH_MAX], q[PATH_MAX + 2];
    snprintf(p, sizeof p, LOG_DIR "/%s.log", cfg.units[i].name);
    snprintf(q, sizeof q, "%s.1", p);
    close(rts[i].log);
    rts[i].log = -1;
    rename(p, q);
    open_log(i);
    if (rts[i].log < 0) return;
  }
  ssize_t w = write(rts[i].log, buf, n);
  if (w > 0) rts[i].log_size += w;
}

static void log_line(int i, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(int i, const char *fmt, ...) {
  char buf[512];
  int n = snprintf(buf, sizeof buf, "[warren-supervise] ");
  va_list ap;
  va_start(ap, fmt);
  n += vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof buf - 2) n = (int)sizeof buf - 2;
  buf[n++] = '\n';
  log_write(i, buf, (size_t)n);
}

static int status_code(int st) {
  if (WIFEXITED(st)) return WEXITSTATUS(st);
  if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
  return 1;
}

// The OOM score of what the supervisor runs: the user's code, so it dies before the supervisor
// (which keeps the 0 it was started with) when the environment runs out of memory. Best effort.
static void raise_oom_score(void) {
  int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  if (write(fd, "500", 3) != 3) { /* a kernel without the file: the order is then the kernel's */ }
  close(fd);
}

// Starts `/bin/sh -c cmd` as the configured user in its own process group, output to `out`.
static pid_t spawn_shell(const char *cmd, int out) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  setsid();
  raise_oom_score();
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGPIPE, SIG_DFL);
  dup2(devnull, 0);
  dup2(out, 1);
  dup2(out, 2);
  if (who.set && (setgroups((size_t)who.ngroups, who.groups) || setgid(who.gid) || setuid(who.uid))) {
    dprintf(2, "[warren-supervise] cannot become uid %u: %s\n", (unsigned)who.uid, strerror(errno));
    _exit(126);
  }
  const char *dir = cfg.cwd ? cfg.cwd : who.set ? who.home : "/";
  if (chdir(dir) != 0) {
    dprintf(2, "[warren-supervise] cannot enter %s: %s\n", dir, strerror(errno));
    _exit(126);
  }
  execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
  dprintf(2, "[warren-supervise] cannot run /bin/sh: %s\n", strerror(errno));
  _exit(127);
}

static void start_unit(int i) {
  struct rt *r = &rts[i];
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    snprintf(r->msg, sizeof r->msg, "pipe: %s", strerror(errno));
    return;
  }
  log_line(i, "starting %s", cfg.units[i].name);
  r->pid = spawn_shell(cfg.units[i].command, p[1]);
  close(p[1]);
  if (r->pid < 0) {
    close(p[0]);
    r->pid = 0;
    snprintf(r->msg, sizeof r->msg, "fork: %s", strerror(errno));
    return;
  }
  if (r->out >= 0) close(r->out);  // the output of an earlier run that never reached EOF
  r->out = p[0];
  fcntl(r->out, F_SETFL, O_NONBLOCK);
  r->started = now_ms();
  r->msg[0] = 0;
  if (cfg.units[i].kind == K_TASK) {
    r->state = S_RUNNING;
    r->want = 0;
    r->runs++;
  } else if (cfg.units[i].ready_command || cfg.units[i].ready_port) {
    r->state = S_STARTING;
    r->next_at = 0;
  } else {
    r->state = S_READY;
  }
}

static void begin_stop(int i) {
  struct rt *r = &rts[i];
  if (r->probe > 0) kill(-r->probe, SIGKILL);
  if (r->pid <= 0) return;
  kill(-r->pid, SIGTERM);
  r->state = S_STOPPING;
  r->stop_deadline = now_ms() + STOP_GRACE_MS;
}

static int port_open(int port) {
  struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
  a6.sin6_addr = in6addr_loopback;
  for (int v6 = 0; v6 < 2; v6++) {
    int s = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) continue;
    int ok = v6 ? connect(s, (struct sockaddr *)&a6, sizeof a6) : connect(s, (struct sockaddr *)&a4, sizeof a4);
    close(s);
    if (ok == 0) return 1;
  }
  return 0;
}

static void probe(int i) {
  struct rt *r = &rts[i];
  const struct unit *u = &cfg.units[i];
  if (r->probe > 0 || now_ms() < r->next_at) return;
  r->next_at = now_ms() + PROBE_EVERY_MS;
  if (u->ready_port) {
    if (port_open(u->ready_port)) {
      r->state = S_READY;
      log_line(i, "%s is ready (port %d answers)", u->name, u->ready_port);
    }
    return;
  }
  r->probe = spawn_shell(u->ready_command, devnull);
  if (r->probe < 0) r->probe = 0;
}

// Marks what `i` needs so that it can run: the services it depends on should run, the tasks
// that have not run yet should. Bounded depth: the control plane refuses cycles, this must not
// loop on a configuration that has one anyway.
static void need(int i, int depth) {
  if (depth > MAX_UNITS) return;
  const struct unit *u = &cfg.units[i];
  for (int d = 0; d < u->ndeps; d++) {
    int j = u->deps[d];
    struct rt *r = &rts[j];
    if (cfg.units[j].kind == K_SERVICE) {
      if (!r->want && (r->state == S_FAILED || r->state == S_EXITED)) r->state = S_STOPPED;
      r->want = 1;
    } else if (r->state != S_DONE && r->state != S_RUNNING) {
      r->want = 1;
    }
    need(j, depth + 1);
  }
}

// 1 when every dependency is ready (services) or done (tasks); otherwise says what it waits for.
static int deps_ok(int i, int *dep_failed) {
  const struct unit *u = &cfg.units[i];
  *dep_failed = 0;
  for (int d = 0; d < u->ndeps; d++) {
    int j = u->deps[d];
    enum state s = rts[j].state;
    int ok = cfg.units[j].kind == K_SERVICE ? s == S_READY : s == S_DONE;
    if (ok) continue;
    *dep_failed = cfg.units[j].kind == K_TASK && s == S_FAILED && !rts[j].want;
    snprintf(rts[i].msg, sizeof rts[i].msg, *dep_failed ? "dependency %s failed" : "waiting for %s",
             cfg.units[j].name);
    return 0;
  }
  return 1;
}

// Moves every unit one step towards what is wanted of it.
static void step(void) {
  long long now = now_ms();
  for (int i = 0; i < cfg.nunits; i++) {
    struct rt *r = &rts[i];
    int failed;
    if (r->state == S_STOPPING && r->pid > 0 && now >= r->stop_deadline) kill(-r->pid, SIGKILL);
    if (cfg.units[i].kind == K_TASK) {
      if (!r->want || r->state == S_RUNNING) continue;
      if (deps_ok(i, &failed)) start_unit(i);
      else if (failed) r->state = S_FAILED, r->want = 0;
      else r->state = S_WAITING;
      continue;
    }
    if (!r->want) {
      if (r->pid > 0 && r->state != S_STOPPING) begin_stop(i);
      else if (r->pid <= 0 && (r->state == S_WAITING || r->state == S_BACKOFF)) r->state = S_STOPPED;
      continue;
    }
    switch (r->state) {
      case S_IDLE:
      case S_STOPPED:
      case S_WAITING:
        if (deps_ok(i, &failed)) start_unit(i);
        else r->state = S_WAITING;
        break;
      case S_BACKOFF:
        if (now >= r->next_at) {
          if (deps_ok(i, &failed)) start_unit(i);
          else r->state = S_WAITING;
        }
        break;
      case S_STARTING:
        probe(i);
        break;
      default:
        break;
    }
  }
}

static void on_exit_of(pid_t pid, int st) {
  long long now = now_ms();
  int code = status_code(st);
  for (int i = 0; i < cfg.nunits; i++) {
    struct rt *r = &rts[i];
    const struct unit *u = &cfg.units[i];
    if (pid == r->probe) {
      r->probe = 0;
      if (code == 0 && r->state == S_STARTING) {
        r->state = S_READY;
        log_line(i, "%s is ready (its ready command passed)", u->name);
      }
      return;
    }
    if (pid != r->pid) continue;
    r->pid = 0;
    r->last_exit = code, r->has_exit = 1;
    if (r->probe > 0) kill(-r->probe, SIGKILL);
    if (u->kind == K_TASK) {
      r->state = code == 0 ? S_DONE : S_FAILED;
      log_line(i, "%s finished with status %d", u->name, code);
      return;
    }
    if (r->state == S_STOPPING || !r->want) {
      r->state = S_STOPPED;
      log_line(i, "%s stopped", u->name);
      return;
    }
    int again = u->restart == R_ALWAYS || (u->restart == R_ON_FAILURE && code != 0);
    if (!again) {
      r->state = code == 0 ? S_EXITED : S_FAILED;
      log_line(i, "%s exited with status %d; its restart policy does not restart it", u->name, code);
      return;
    }
    if (now - r->started >= STABLE_MS || r->backoff == 0) r->backoff = BACKOFF_MIN_MS;
    r->state = S_BACKOFF;
    r->next_at = now + r->backoff;
    r->restarts++;
    log_line(i, "%s exited with status %d; restarting in %d ms", u->name, code, r->backoff);
    r->backoff = r->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff * 2;
    return;
  }
}

// Copies a unit's output to its log; closes the pipe at EOF.
static void drain(int i) {
  char buf[16384];
  for (;;) {
    ssize_t n = read(rts[i].out, buf, sizeof buf);
    if (n > 0) {
      log_write(i, buf, (size_t)n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    close(rts[i].out);
    rts[i].out = -1;
    return;
  }
}
