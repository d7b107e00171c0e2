// warren-supervise's configuration: the line format the control plane generates, the units it
// describes, and the user the units run as (read from the environment's own /etc/passwd and
// /etc/group, since a static binary has no NSS). Included by warren-supervise.c only.
// The configuration comes from the control plane, but everything read from files inside the
// environment (passwd, group, state files) is treated as untrusted: bounded and checked.
#pragma once
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STATE_DIR "/run/warren/supervise"
#define LOG_DIR STATE_DIR "/logs"
#define SOCK_PATH STATE_DIR "/sock"
#define CONFIG_PATH STATE_DIR "/config"
#define FIRED_PATH STATE_DIR "/fired"
#define LOCK_PATH STATE_DIR "/lock"
#define UP_LOCK_PATH STATE_DIR "/up.lock"

#define MAX_UNITS 64
#define MAX_DEPS 16
#define MAX_ENV 64
#define MAX_NAME 64
#define MAX_VALUE 16384
#define MAX_CONFIG (1024 * 1024)
#define MAX_GROUPS 64

enum kind { K_SERVICE, K_TASK };
enum restart { R_ON_FAILURE, R_ALWAYS, R_NEVER };
static const char *const TRIGGERS[] = {"postEnvironmentStart", "postDevcontainerStart", "manual"};
#define N_TRIGGERS 3

struct unit {
  char name[MAX_NAME + 1];
  enum kind kind;
  char *command;
  char *ready_command;
  int ready_port;  // 0: none
  enum restart restart;
  char dep_names[MAX_DEPS][MAX_NAME + 1];
  int deps[MAX_DEPS];
  int ndeps;
  unsigned triggers;  // bit i: TRIGGERS[i]
};

struct config {
  char user[MAX_NAME + 1];
  char *cwd;
  char *env[MAX_ENV];
  int nenv;
  struct unit units[MAX_UNITS];
  int nunits;
};

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int valid_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > MAX_NAME) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             (i > 0 && (c == '-' || c == '_' || c == '.'));
    if (!ok) return 0;
  }
  return 1;
}

// Undoes the control plane's escaping in place: \\ \n \t. Returns 0 on a bad escape.
static int unescape(char *s) {
  char *w = s;
  for (char *r = s; *r; r++) {
    if (*r != '\\') {
      *w++ = *r;
      continue;
    }
    r++;
    if (*r == '\\') *w++ = '\\';
    else if (*r == 'n') *w++ = '\n';
    else if (*r == 't') *w++ = '\t';
    else return 0;
  }
  *w = 0;
  return 1;
}

static int find_unit(const struct config *c, const char *name) {
  for (int i = 0; i < c->nunits; i++)
    if (strcmp(c->units[i].name, name) == 0) return i;
  return -1;
}

// Parses `text` (NUL-terminated, modified in place). On error, writes "line N: why" into err.
static int parse_config(char *text, struct config *c, char *err, size_t errlen) {
  memset(c, 0, sizeof *c);
  struct unit *u = NULL;
  int lineno = 0, saw_version = 0;
  for (char *line = text, *next; line && *line; line = next) {
    lineno++;
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    if (*line == 0) continue;
    char *val = strchr(line, ' ');
    if (!val) goto bad;
    *val++ = 0;
    if (strlen(val) > MAX_VALUE || !unescape(val)) goto bad;
    const char *k = line;
    if (strcmp(k, "version") == 0) {
      if (strcmp(val, "1") != 0) goto bad;
      saw_version = 1;
    } else if (!saw_version) {
      goto bad;
    } else if (strcmp(k, "user") == 0 && !u) {
      if (strlen(val) > MAX_NAME || strchr(val, ':') || strchr(val, '\n')) goto bad;
      strcpy(c->user, val);
    } else if (strcmp(k, "cwd") == 0 && !u) {
      if (val[0] != '/') goto bad;
      c->cwd = val;
    } else if (strcmp(k, "env") == 0 && !u) {
      if (c->nenv >= MAX_ENV || !strchr(val, '=') || val[0] == '=') goto bad;
      c->env[c->nenv++] = val;
    } else if (strcmp(k, "service") == 0 || strcmp(k, "task") == 0) {
      if (c->nunits >= MAX_UNITS || !valid_name(val) || find_unit(c, val) >= 0) goto bad;
      u = &c->units[c->nunits++];
      strcpy(u->name, val);
      u->kind = k[0] == 's' ? K_SERVICE : K_TASK;
    } else if (!u) {
      goto bad;
    } else if (strcmp(k, "command") == 0) {
      u->command = val;
    } else if (strcmp(k, "ready-command") == 0 && u->kind == K_SERVICE) {
      u->ready_command = val;
    } else if (strcmp(k, "ready-port") == 0 && u->kind == K_SERVICE) {
      char *end;
      long p = strtol(val, &end, 10);
      if (*end || p < 1 || p > 65535) goto bad;
      u->ready_port = (int)p;
    } else if (strcmp(k, "restart") == 0 && u->kind == K_SERVICE) {
      if (strcmp(val, "always") == 0) u->restart = R_ALWAYS;
      else if (strcmp(val, "on-failure") == 0) u->restart = R_ON_FAILURE;
      else if (strcmp(val, "never") == 0) u->restart = R_NEVER;
      else goto bad;
    } else if (strcmp(k, "depends") == 0) {
      if (u->ndeps >= MAX_DEPS || !valid_name(val)) goto bad;
      strcpy(u->dep_names[u->ndeps++], val);
    } else if (strcmp(k, "trigger") == 0 && u->kind == K_TASK) {
      int t = -1;
      for (int i = 0; i < N_TRIGGERS; i++)
        if (strcmp(val, TRIGGERS[i]) == 0) t = i;
      if (t < 0) goto bad;
      u->triggers |= 1u << t;
    } else {
      goto bad;
    }
  }
  if (!saw_version) {
    snprintf(err, errlen, "no \"version 1\" line");
    return -1;
  }
  for (int i = 0; i < c->nunits; i++) {
    struct unit *x = &c->units[i];
    if (!x->command) {
      snprintf(err, errlen, "%s has no command", x->name);
      return -1;
    }
    for (int d = 0; d < x->ndeps; d++) {
      x->deps[d] = find_unit(c, x->dep_names[d]);
      if (x->deps[d] < 0 || x->deps[d] == i) {
        snprintf(err, errlen, "%s depends on unknown unit %s", x->name, x->dep_names[d]);
        return -1;
      }
    }
  }
  return 0;
bad:
  snprintf(err, errlen, "line %d: not understood", lineno);
  return -1;
}

// ---- the user units run as ----

struct runas {
  int set;
  uid_t uid;
  gid_t gid;
  gid_t groups[MAX_GROUPS];
  int ngroups;
  char name[MAX_NAME + 1];
  char home[PATH_MAX];
  char shell[PATH_MAX];
};

// Splits a colon-separated line into at most n fields; returns how many.
static int split_fields(char *line, char **f, int n) {
  int k = 0;
  f[k++] = line;
  for (char *p = line; *p && k < n; p++)
    if (*p == ':') *p = 0, f[k++] = p + 1;
  return k;
}

static int all_digits(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return 0;
  return 1;
}

// Finds NAME (or a numeric uid) in /etc/passwd and its supplementary groups in /etc/group.
static int resolve_user(const char *name, struct runas *r, char *err, size_t errlen) {
  memset(r, 0, sizeof *r);
  if (!*name) return 0;
  FILE *pw = fopen("/etc/passwd", "re");
  char line[4096];
  char uname[MAX_NAME + 1] = "";
  int found = 0;
  while (pw && fgets(line, sizeof line, pw)) {
    line[strcspn(line, "\n")] = 0;
    char *f[7];
    if (split_fields(line, f, 7) < 7) continue;
    if (strcmp(f[0], name) != 0 && !(all_digits(name) && strcmp(f[2], name) == 0)) continue;
    r->uid = (uid_t)strtoul(f[2], NULL, 10);
    r->gid = (gid_t)strtoul(f[3], NULL, 10);
    snprintf(r->home, sizeof r->home, "%s", f[5]);
    snprintf(r->shell, sizeof r->shell, "%s", f[6]);
    snprintf(uname, sizeof uname, "%s", f[0]);
    snprintf(r->name, sizeof r->name, "%s", f[0]);
    found = 1;
    break;
  }
  if (pw) fclose(pw);
  if (!found && all_digits(name)) {
    r->uid = r->gid = (uid_t)strtoul(name, NULL, 10);
    snprintf(r->home, sizeof r->home, "/");
    found = 1;
  }
  if (!found) {
    snprintf(err, errlen, "user %s is not in the environment's /etc/passwd", name);
    return -1;
  }
  r->set = 1;
  r->groups[r->ngroups++] = r->gid;
  FILE *gr = uname[0] ? fopen("/etc/group", "re") : NULL;
  while (gr && fgets(line, sizeof line, gr) && r->ngroups < MAX_GROUPS) {
    line[strcspn(line, "\n")] = 0;
    char *f[4];
    if (split_fields(line, f, 4) < 4) continue;
    for (char *m = strtok(f[3], ","); m; m = strtok(NULL, ","))
      if (strcmp(m, uname) == 0) {
        r->groups[r->ngroups++] = (gid_t)strtoul(f[2], NULL, 10);
        break;
      }
  }
  if (gr) fclose(gr);
  return 0;
}

// Reads all of fd (up to max bytes) into a NUL-terminated heap buffer; NULL when longer.
static char *read_all(int fd, size_t max, size_t *len) {
  char *buf = malloc(max + 1);
  size_t n = 0;
  if (!buf) return NULL;
  for (;;) {
    ssize_t r = read(fd, buf + n, max + 1 - n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    n += (size_t)r;
    if (n > max) {
      free(buf);
      return NULL;
    }
  }
  buf[n] = 0;
  if (len) *len = n;
  return buf;
}
