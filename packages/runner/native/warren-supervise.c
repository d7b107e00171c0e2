// warren-supervise: runs a repository's automations (.warren/automations.yaml) INSIDE its
// environment. Bind-mounted read-only at /.warren/supervise and only ever started through the
// runtime's exec, so the services and tasks it starts are processes of the environment (its
// namespaces, cgroup, seccomp, user), never of the host. The control plane writes the
// configuration (a line format it generates, below) to `up` on stdin.
//
//   warren-supervise up [--trigger T]    read the configuration on stdin; start the supervisor,
//                                        detached (reparented to warren-init), unless one runs with
//                                        the same configuration; one with another is replaced.
//                                        With --trigger, then as `ctl trigger T`
//   warren-supervise ctl status          every service and task as a JSON array
//   warren-supervise ctl start|stop|restart NAME     a service (start also starts its dependencies)
//   warren-supervise ctl run NAME        run a task (its dependencies first)
//   warren-supervise ctl trigger NAME    run the tasks triggered by NAME, once per environment
//                                        start; prints the names of the tasks it started
//   warren-supervise ctl wait [--timeout S] NAME...   until each task has finished; exit 1 if
//                                        one failed, 3 on timeout
//   warren-supervise ctl quit            stop every service and exit
//   warren-supervise logs NAME [--tail N] [--follow]
//
// Configuration: one "key value" per line, values with \\, \n and \t escaped:
//   version 1 | user NAME | cwd DIR | env K=V
//   service NAME | task NAME          starts a unit; the keys after it belong to it:
//   command SHELL | ready-command SHELL | ready-port N | restart always|on-failure|never
//   depends NAME | trigger postEnvironmentStart|postDevcontainerStart|manual
//
// State lives in /run/warren/supervise: the control socket, the configuration, the triggers
// fired in this start of the environment, and logs/NAME.log (rotated at 2 MiB).
// Exit status: 0 done, 1 failed (one line on stderr says why), 2 bad usage or configuration.
#define _GNU_SOURCE
#include "include/supervise-config.h"
#include "include/supervise-daemon.h"
#include "include/supervise-ctl.h"

static int usage(void) {
  fprintf(stderr,
          "usage: warren-supervise up [--trigger TRIGGER] < CONFIG\n"
          "       warren-supervise ctl status|quit\n"
          "       warren-supervise ctl start|stop|restart|run NAME\n"
          "       warren-supervise ctl trigger TRIGGER\n"
          "       warren-supervise ctl wait [--timeout SECONDS] NAME...\n"
          "       warren-supervise logs NAME [--tail N] [--follow]\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 2) return usage();
  if (strcmp(argv[1], "up") == 0) return argc == 2 || argc == 4 ? cmd_up(argc - 2, argv + 2) : usage();
  if (strcmp(argv[1], "ctl") == 0 && argc >= 3) return cmd_ctl(argc - 2, argv + 2);
  if (strcmp(argv[1], "logs") == 0 && argc >= 3) return cmd_logs(argc - 2, argv + 2);
  return usage();
}
