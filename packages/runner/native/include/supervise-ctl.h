// warren-supervise's commands: `up` (start the daemon once, detached), `ctl` (one request over
// the control socket) and `logs` (read a unit's log file). Included by warren-supervise.c only.
#pragma once
#include "supervise-daemon.h"

// Sends one request; *body gets the answer after "ok\n". Returns 0 ok, 1 refused (message on
// stderr), -1 nobody answers.
static int request(const char *verb, const char *arg, char **body) {
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strcpy(a.sun_path, SOCK_PATH);
  if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
    if (s >= 0) close(s);
    return -1;
  }
  char req[256];
  int n = snprintf(req, sizeof req, "%s%s%s\n", verb, arg ? " " : "", arg ? arg : "");
  if (n >= (int)sizeof req || write(s, req, (size_t)n) != n) {
    close(s);
    return -1;
  }
  shutdown(s, SHUT_WR);
  size_t len = 0;
  char *resp = read_all(s, 1024 * 1024, &len);
  close(s);
  if (!resp || len == 0) {
    free(resp);
    return -1;
  }
  if (strncmp(resp, "ok\n", 3) == 0) {
    if (body) *body = resp;
    else free(resp);
    if (body) memmove(resp, resp + 3, len - 2);
    return 0;
  }
  fprintf(stderr, "warren-supervise: %s", strncmp(resp, "error ", 6) == 0 ? resp + 6 : resp);
  free(resp);
  return 1;
}

static int not_running(void) {
  fprintf(stderr, "warren-supervise: no supervisor answers at %s: it starts with the environment's automations\n",
          SOCK_PATH);
  return 1;
}

static int cmd_wait(int argc, char **argv) {
  long long deadline = 0;
  int first = 0;
  if (argc >= 2 && strcmp(argv[0], "--timeout") == 0) {
    deadline = now_ms() + atoll(argv[1]) * 1000;
    first = 2;
  }
  int failed = 0;
  for (int i = first; i < argc; i++) {
    for (;;) {
      char *st = NULL;
      int rc = request("state", argv[i], &st);
      if (rc < 0) return not_running();
      if (rc > 0) return 1;
      st[strcspn(st, "\n")] = 0;
      int done = strcmp(st, "done") == 0 || strcmp(st, "idle") == 0, bad = strcmp(st, "failed") == 0;
      free(st);
      if (bad) failed = 1;
      if (done || bad) break;
      if (deadline && now_ms() > deadline) {
        fprintf(stderr, "warren-supervise: %s has not finished in time\n", argv[i]);
        return 3;
      }
      usleep(100 * 1000);
    }
  }
  return failed;
}

static int cmd_ctl(int argc, char **argv) {
  if (strcmp(argv[0], "wait") == 0) return cmd_wait(argc - 1, argv + 1);
  if (argc > 2 || (argc == 2 && !valid_name(argv[1]))) {
    fprintf(stderr, "warren-supervise: bad request (names use letters, digits, - _ and .)\n");
    return 2;
  }
  char *body = NULL;
  int rc = request(argv[0], argc == 2 ? argv[1] : NULL, &body);
  if (rc < 0) return not_running();
  if (rc == 0) fputs(body, stdout);
  free(body);
  return rc;
}

static int print_file_tail(const char *path, long lines) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return -1;
  struct stat st;
  fstat(fd, &st);
  long long max = 4 * 1024 * 1024;
  if (st.st_size > max) lseek(fd, st.st_size - max, SEEK_SET);
  char *buf = read_all(fd, (size_t)max, NULL);
  close(fd);
  if (!buf) return -1;
  char *end = buf + strlen(buf), *p = buf;
  if (lines == 0) {
    p = end;
  } else if (lines > 0) {  // back from the end to the start of the lines-th last line
    p = end > buf && end[-1] == '\n' ? end - 1 : end;
    for (long seen = 0; p > buf; p--)
      if (p[-1] == '\n' && ++seen == lines) break;
  }
  fputs(p, stdout);
  fflush(stdout);
  free(buf);
  return 0;
}

static int cmd_logs(int argc, char **argv) {
  long tail = -1;
  int follow = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--follow") == 0) follow = 1;
    else if (strcmp(argv[i], "--tail") == 0 && i + 1 < argc) tail = atol(argv[++i]);
    else return 2;
  }
  if (!valid_name(argv[0])) return 2;
  char path[PATH_MAX];
  snprintf(path, sizeof path, LOG_DIR "/%s.log", argv[0]);
  if (print_file_tail(path, tail) != 0 && !follow) {
    fprintf(stderr, "warren-supervise: %s has no log yet\n", argv[0]);
    return 1;
  }
  if (!follow) return 0;
  signal(SIGPIPE, SIG_DFL);
  struct stat st;
  off_t pos = stat(path, &st) == 0 ? st.st_size : 0;
  ino_t ino = st.st_ino;
  for (;;) {
    usleep(250 * 1000);
    if (stat(path, &st) != 0) continue;
    if (st.st_ino != ino) ino = st.st_ino, pos = 0;  // rotated: the new file from its start
    if (st.st_size <= pos) continue;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) continue;
    char buf[16384];
    ssize_t n;
    lseek(fd, pos, SEEK_SET);
    while ((n = read(fd, buf, sizeof buf)) > 0) {
      if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) return 0;
      pos += n;
    }
    close(fd);
    if (fflush(stdout) != 0) return 0;
  }
}

static int write_file(const char *path, const char *data, size_t len) {
  char tmp[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return -1;
  int ok = write(fd, data, len) == (ssize_t)len;
  close(fd);
  return ok && rename(tmp, path) == 0 ? 0 : -1;
}

static int up_daemon(void);

// `up [--trigger T]`: the trigger's tasks start in the same call, saving the caller a round trip.
static int cmd_up(int argc, char **argv) {
  if (argc != 0 && !(argc == 2 && strcmp(argv[0], "--trigger") == 0 && valid_name(argv[1]))) {
    fprintf(stderr, "warren-supervise: up takes only --trigger TRIGGER\n");
    return 2;
  }
  int rc = up_daemon();
  if (rc != 0 || argc == 0) return rc;
  char *body = NULL;
  rc = request("trigger", argv[1], &body);
  if (rc < 0) return not_running();
  if (rc == 0) fputs(body, stdout);
  free(body);
  return rc;
}

static int up_daemon(void) {
  size_t len = 0;
  char *text = read_all(0, MAX_CONFIG, &len);
  if (!text) {
    fprintf(stderr, "warren-supervise: configuration larger than %d bytes\n", MAX_CONFIG);
    return 2;
  }
  char *copy = strdup(text), err[256];
  static struct config check;
  struct runas user;
  if (parse_config(copy, &check, err, sizeof err) != 0) {
    fprintf(stderr, "warren-supervise: configuration %s\n", err);
    return 2;
  }
  if (resolve_user(check.user, &user, err, sizeof err) != 0) {
    fprintf(stderr, "warren-supervise: %s\n", err);
    return 1;
  }
  free(copy);
  mkdir("/run", 0755);
  mkdir("/run/warren", 0755);
  mkdir(STATE_DIR, 0700);
  mkdir(LOG_DIR, 0755);
  struct stat st;
  if (lstat(STATE_DIR, &st) != 0 || !S_ISDIR(st.st_mode)) {
    fprintf(stderr, "warren-supervise: %s is not a directory\n", STATE_DIR);
    return 1;
  }
  // One `up` at a time; the daemon holds LOCK_PATH for as long as it runs.
  int up = open(UP_LOCK_PATH, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  int lock = open(LOCK_PATH, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (up < 0 || lock < 0 || flock(up, LOCK_EX) != 0) {
    fprintf(stderr, "warren-supervise: lock %s: %s\n", STATE_DIR, strerror(errno));
    return 1;
  }
  if (flock(lock, LOCK_EX | LOCK_NB) != 0) {
    int fd = open(CONFIG_PATH, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    size_t olen = 0;
    char *old = fd >= 0 ? read_all(fd, MAX_CONFIG, &olen) : NULL;
    if (fd >= 0) close(fd);
    int same = old && olen == len && memcmp(old, text, len) == 0;
    free(old);
    if (same && request("ping", NULL, NULL) == 0) return 0;  // already running this configuration
    request("quit", NULL, NULL);  // another configuration: replace the supervisor
    long long deadline = now_ms() + STOP_GRACE_MS + 5000;
    while (flock(lock, LOCK_EX | LOCK_NB) != 0) {
      if (now_ms() > deadline) {
        fprintf(stderr, "warren-supervise: the running supervisor did not stop\n");
        return 1;
      }
      usleep(50 * 1000);
    }
  }
  if (write_file(CONFIG_PATH, text, len) != 0) {
    fprintf(stderr, "warren-supervise: write %s: %s\n", CONFIG_PATH, strerror(errno));
    return 1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    if (fork() != 0) _exit(0);
    // The daemon: reparented to the environment's init, holding `lock` (inherited) until it ends.
    close(up);
    int logfd = open(STATE_DIR "/supervise.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int nul = open("/dev/null", O_RDWR);
    dup2(nul, 0);
    dup2(logfd >= 0 ? logfd : nul, 1);
    dup2(logfd >= 0 ? logfd : nul, 2);
    for (int fd = 3; fd < 1024; fd++)
      if (fd != lock) close(fd);
    prctl(PR_SET_NAME, "warren-supervis");
    _exit(run_daemon(text));
  }
  if (pid < 0) {
    fprintf(stderr, "warren-supervise: fork: %s\n", strerror(errno));
    return 1;
  }
  waitpid(pid, NULL, 0);
  close(lock);
  for (long long deadline = now_ms() + 5000; now_ms() < deadline; usleep(20 * 1000))
    if (request("ping", NULL, NULL) == 0) return 0;
  fprintf(stderr, "warren-supervise: the supervisor did not come up; see %s/supervise.log\n", STATE_DIR);
  return 1;
}
