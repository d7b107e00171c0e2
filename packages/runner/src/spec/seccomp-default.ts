// Warren's default seccomp data, derived from moby's profiles/seccomp/default.json (the same
// list containerd ships as contrib/seccomp). Only the x86 family is kept: these hosts are
// x86_64. Rules that moby gates on a capability are kept with that gate, so a caller that
// grants e.g. CAP_SYS_PTRACE gets the matching syscalls (seccomp.ts resolves the gates).
// Deny-by-default: anything not listed fails with EPERM.

/** Allowed for every container. */
export const SECCOMP_ALLOWED_SYSCALLS: readonly string[] = [
  ..."accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32".split(" "),
  ..."clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64".split(
    " ",
  ),
  ..."clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3".split(
    " ",
  ),
  ..."epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old".split(
    " ",
  ),
  ..."eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64".split(
    " ",
  ),
  ..."fallocate fanotify_mark fchdir fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync".split(
    " ",
  ),
  ..."fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64".split(
    " ",
  ),
  ..."fsync ftruncate ftruncate64 futex futex_time64 futex_waitv futimesat getcpu getcwd getdents".split(" "),
  ..."getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer".split(
    " ",
  ),
  ..."getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid getresgid32 getresuid".split(
    " ",
  ),
  ..."getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt get_thread_area".split(
    " ",
  ),
  ..."gettid gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init inotify_init1".split(" "),
  ..."inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents io_pgetevents_time64".split(" "),
  ..."ioprio_get ioprio_set io_setup io_submit io_uring_enter io_uring_register io_uring_setup ipc kill".split(
    " ",
  ),
  ..."landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link".split(
    " ",
  ),
  ..."linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise".split(
    " ",
  ),
  ..."membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall".split(
    " ",
  ),
  ..."mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64".split(" "),
  ..."mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock".split(" "),
  ..."munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause".split(
    " ",
  ),
  ..."pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll".split(" "),
  ..."ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64".split(
    " ",
  ),
  ..."pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv recv recvfrom recvmmsg".split(" "),
  ..."recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat renameat2 restart_syscall".split(
    " ",
  ),
  ..."rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend".split(
    " ",
  ),
  ..."rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr".split(" "),
  ..."sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler".split(" "),
  ..."sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam".split(
    " ",
  ),
  ..."sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64".split(
    " ",
  ),
  ..."send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid".split(
    " ",
  ),
  ..."setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid".split(" "),
  ..."setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt".split(
    " ",
  ),
  ..."set_thread_area set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown".split(" "),
  ..."sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64".split(
    " ",
  ),
  ..."statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time".split(" "),
  ..."timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime".split(" "),
  ..."timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime".split(" "),
  ..."timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime".split(
    " ",
  ),
  ..."utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev".split(" "),
  // moby allows these from kernel 4.8, where ptrace can no longer bypass seccomp.
  "process_vm_readv",
  "process_vm_writev",
  "ptrace",
  // x86-only entries of moby's profile.
  "arch_prctl",
  "modify_ldt",
];

/** Syscalls allowed only when the container holds the capability (moby's includes.caps). */
export const SECCOMP_CAP_GATED: readonly { cap: string; names: readonly string[] }[] = [
  { cap: "CAP_DAC_READ_SEARCH", names: ["open_by_handle_at"] },
  {
    cap: "CAP_SYS_ADMIN",
    names: [
      ..."bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr".split(
        " ",
      ),
      ..."move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog".split(
        " ",
      ),
      ..."umount umount2 unshare".split(" "),
    ],
  },
  { cap: "CAP_SYS_BOOT", names: ["reboot"] },
  { cap: "CAP_SYS_CHROOT", names: ["chroot"] },
  { cap: "CAP_SYS_MODULE", names: ["delete_module", "init_module", "finit_module"] },
  { cap: "CAP_SYS_PACCT", names: ["acct"] },
  { cap: "CAP_SYS_PTRACE", names: ["kcmp", "pidfd_getfd", "process_madvise"] },
  { cap: "CAP_SYS_RAWIO", names: ["iopl", "ioperm"] },
  { cap: "CAP_SYS_TIME", names: ["settimeofday", "stime", "clock_settime", "clock_settime64"] },
  { cap: "CAP_SYS_TTY_CONFIG", names: ["vhangup"] },
  { cap: "CAP_SYS_NICE", names: ["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"] },
  { cap: "CAP_SYSLOG", names: ["syslog"] },
  { cap: "CAP_BPF", names: ["bpf"] },
  { cap: "CAP_PERFMON", names: ["perf_event_open"] },
];

/** socket(2) domains denied to everyone: AF_VSOCK reaches the hypervisor, not the netns. */
export const SECCOMP_DENIED_SOCKET_FAMILIES: readonly number[] = [40];

/** personality(2) values moby allows: PER_LINUX, UNAME26, PER_LINUX32, ..., and the query 0xffffffff. */
export const SECCOMP_ALLOWED_PERSONALITIES: readonly number[] = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/**
 * clone(2) flag bits that create namespaces: CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET.
 * Without CAP_SYS_ADMIN, clone is allowed only when none of them is set.
 */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;

/** clone3 passes flags in memory seccomp cannot read, so it gets ENOSYS and libc falls back to clone. */
export const ENOSYS = 38;

/** Never allowed by Warren, whatever the capabilities; checked by the unit tests. */
export const SECCOMP_ALWAYS_DENIED: readonly string[] = [
  "keyctl",
  "add_key",
  "request_key",
  "kexec_load",
  "kexec_file_load",
  "userfaultfd",
  "uselib",
  "pivot_root",
  "swapon",
  "swapoff",
  "nfsservctl",
  "_sysctl",
  "ustat",
  "sysfs",
  "vm86",
  "vm86old",
  "create_module",
  "get_kernel_syms",
  "query_module",
];
