// warren-init: pid 1 of every Warren environment, bind-mounted read-only at /.warren/init.
//
//   warren-init              wait forever, reaping every zombie
//   warren-init -- cmd args  run cmd as a child, reap everything, exit with cmd's status
//   WARREN_INIT_EXEC=1 warren-init -- cmd args
//                            (`warren exec`) exec cmd in place, or say why not: 127 when it is
//                            missing, 126 when it cannot be run, as the shells and Docker do
//
// Why not just exec the image's command as pid 1: processes exec'd into the container
// (runc exec, ssh sessions) are re-parented to pid 1 when their parent exits, and most
// programs never reap children they did not start. And the kernel ignores signals sent
// to a namespace's pid 1 unless it handles them, so `stop` would always wait for SIGKILL.
//
// OOM order: init stays at the score the runtime gave it (0), and what it runs for the user (its
// child, or the command it becomes for `warren exec`) starts at the score in
// WARREN_INIT_OOM_SCORE_ADJ (the runner sets +500), so a runaway user process dies before Warren's
// own processes. Without CAP_SYS_RESOURCE a score can only be raised, so this must happen here,
// before any user code runs; the variable is removed so user programs never see it.
//
// All signals of interest stay blocked and are taken synchronously with sigwaitinfo,
// which avoids async-signal-safety pitfalls; blocked signals are queued even for pid 1.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static const int forwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
// Without a child, these end the environment: a stop must not wait for the kill timeout.
static int is_stop_signal(int sig) { return sig == SIGTERM || sig == SIGINT || sig == SIGHUP; }

static int status_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

static const char *oom_score_var = "WARREN_INIT_OOM_SCORE_ADJ";

// Takes the score from the environment once (NULL when unset or not a number in -1000..1000).
static const char *take_oom_score(void) {
  static char score[8];
  const char *v = getenv(oom_score_var);
  if (v == NULL) return NULL;
  char *end = NULL;
  long n = strtol(v, &end, 10);
  int ok = *v != '\0' && *end == '\0' && n >= -1000 && n <= 1000;
  if (ok) snprintf(score, sizeof score, "%ld", n);
  unsetenv(oom_score_var);
  return ok ? score : NULL;
}

// Best effort: a runtime whose /proc lacks the file (or refuses the value) still runs the command;
// the runner checks the scores it relies on in its host tests.
static void set_oom_score(const char *score) {
  if (score == NULL) return;
  FILE *f = fopen("/proc/self/oom_score_adj", "w");
  if (f == NULL) return;
  fputs(score, f);
  fclose(f);
}

static pid_t spawn_child(char **argv, const sigset_t *original_mask, const char *oom_score) {
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "warren-init: fork: %s\n", strerror(errno));
    exit(125);
  }
  if (pid == 0) {
    // The child must see the signal mask it would have had without us.
    sigprocmask(SIG_SETMASK, original_mask, NULL);
    set_oom_score(oom_score);
    execvp(argv[0], argv);
    int err = errno;
    fprintf(stderr, "warren-init: exec %s: %s\n", argv[0], strerror(err));
    _exit(err == ENOENT ? 127 : 126);
  }
  return pid;
}

// The exec mode: one message and status on every runtime, instead of each runtime's own wording
// and exit code (255 from runc and crun, 128 or a signal from runsc). In place, so the command
// keeps the pid, terminal and signals the runtime gave it. An init from before this mode forks
// instead (above), which reports the same statuses.
static int exec_in_place(char **argv) {
  unsetenv("WARREN_INIT_EXEC");
  set_oom_score(take_oom_score());
  execvp(argv[0], argv);
  int err = errno;
  if (err == ENOENT && strchr(argv[0], '/') == NULL) {
    fprintf(stderr, "warren: %s: command not found\n", argv[0]);
  } else if (err == EACCES || err == EPERM) {
    fprintf(stderr, "warren: %s: permission denied (not an executable file?)\n", argv[0]);
  } else {
    fprintf(stderr, "warren: %s: %s\n", argv[0], strerror(err));
  }
  return err == ENOENT || err == ENOTDIR ? 127 : 126;
}

// Reaps every exited process. Returns 1 and sets *code when the main child was among them.
static int reap_all(pid_t child, int *code) {
  int child_done = 0;
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    if (child > 0 && pid == child) {
      *code = status_code(status);
      child_done = 1;
    }
  }
  return child_done;
}

int main(int argc, char **argv) {
  char **cmd = NULL;
  const char *oom_score = NULL;
  if (argc > 1) {
    if (strcmp(argv[1], "--") != 0 || argc < 3) {
      fprintf(stderr, "usage: warren-init [-- cmd [args...]]\n");
      return 2;
    }
    cmd = argv + 2;
    const char *mode = getenv("WARREN_INIT_EXEC");
    if (mode != NULL && strcmp(mode, "1") == 0) return exec_in_place(cmd);
  }
  oom_score = take_oom_score();

  // When not pid 1 (e.g. a runtime without a pid namespace), still adopt orphans.
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);

  sigset_t wanted, original;
  sigemptyset(&wanted);
  sigaddset(&wanted, SIGCHLD);
  for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) sigaddset(&wanted, forwarded[i]);
  if (sigprocmask(SIG_BLOCK, &wanted, &original) != 0) {
    fprintf(stderr, "warren-init: sigprocmask: %s\n", strerror(errno));
    return 125;
  }

  pid_t child = cmd ? spawn_child(cmd, &original, oom_score) : 0;

  for (;;) {
    siginfo_t info;
    int sig = sigwaitinfo(&wanted, &info);
    if (sig < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "warren-init: sigwaitinfo: %s\n", strerror(errno));
      return 125;
    }
    if (sig == SIGCHLD) {
      int code = 0;
      if (reap_all(child, &code)) return code;
      continue;
    }
    if (child > 0) {
      kill(child, sig);
    } else if (is_stop_signal(sig)) {
      return 0;
    }
  }
}
