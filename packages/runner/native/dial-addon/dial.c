// warren_dial.node: makes a TCP socket that belongs to another network namespace.
//
// Why an addon and not a setns helper process: the helper would have to hand the socket back
// over SCM_RIGHTS, and Node cannot receive file descriptors on a unix socket, so a helper needs
// a native receiver anyway. One addon call is the whole job, costs no process per connection,
// and the connect itself then happens in libuv like any other socket (timeouts, errors, events).
//
// Why a throwaway thread: a socket belongs to the namespace its creating thread was in at
// socket(2) time; connect(2) can happen anywhere later. setns() here runs on a fresh pthread
// that exits right after, so the Node thread never changes namespace and there is no "switch
// back" step that could fail and leave the event loop inside an environment.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct job {
  int nsfd;
  int family;
  int fd;
  int err;
  const char *step;
};

static void *in_netns(void *arg) {
  struct job *j = arg;
  if (setns(j->nsfd, CLONE_NEWNET) != 0) {
    j->err = errno;
    j->step = "setns";
    return NULL;
  }
  j->fd = socket(j->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (j->fd < 0) {
    j->err = errno;
    j->step = "socket";
  }
  return NULL;
}

static napi_value fail(napi_env env, const char *step, const char *path, int err) {
  char msg[4096 + 256];
  const char *hint = err == EINVAL && strcmp(step, "setns") == 0 ? " (not a network namespace)" : "";
  snprintf(msg, sizeof msg, "%s %s: %s%s", step, path, strerror(err), hint);
  const char *code = strerrorname_np(err);
  napi_throw_error(env, code ? code : "EIO", msg);
  return NULL;
}

// socketInNetns(netnsPath: string, family: 4 | 6): number — an unconnected, non-blocking,
// close-on-exec TCP socket fd living in the namespace at netnsPath. The caller owns the fd.
static napi_value socket_in_netns(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 2) {
    napi_throw_type_error(env, NULL, "socketInNetns(netnsPath, family) takes two arguments");
    return NULL;
  }
  char path[4096];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len == 0 ||
      len >= sizeof path - 1) {
    napi_throw_type_error(env, NULL, "netnsPath must be a non-empty string shorter than 4095 bytes");
    return NULL;
  }
  int32_t fam = 0;
  if (napi_get_value_int32(env, argv[1], &fam) != napi_ok || (fam != 4 && fam != 6)) {
    napi_throw_type_error(env, NULL, "family must be 4 or 6");
    return NULL;
  }

  struct job j = {.nsfd = -1, .family = fam == 6 ? AF_INET6 : AF_INET, .fd = -1, .err = 0, .step = NULL};
  j.nsfd = open(path, O_RDONLY | O_CLOEXEC);
  if (j.nsfd < 0) return fail(env, "open", path, errno);

  pthread_t t;
  int rc = pthread_create(&t, NULL, in_netns, &j);
  if (rc != 0) {
    close(j.nsfd);
    return fail(env, "pthread_create", path, rc);
  }
  pthread_join(t, NULL);
  close(j.nsfd);
  if (j.fd < 0) return fail(env, j.step, path, j.err);

  napi_value out;
  napi_create_int32(env, j.fd, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "socketInNetns", NAPI_AUTO_LENGTH, socket_in_netns, NULL, &fn);
  napi_set_named_property(env, exports, "socketInNetns", fn);
  return exports;
}
