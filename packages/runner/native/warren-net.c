// warren-net add <netnsPath> <hostIf> <envIp> <gatewayIp> <ifGroup>
// warren-net del <netnsPath> [<netnsPath>...]
//
// Gives an environment its network in a few batched rtnetlink round trips instead of a dozen
// `ip` processes (~37 ms measured): a new netns bind-mounted at <netnsPath>, a veth pair whose
// peer is born inside it as eth0, a /32 host route, and inside: lo up, eth0 <envIp>/32, and a
// default route via <gatewayIp> onlink. Both ends get permanent neighbour entries with
// deterministic MACs, so no ARP is needed in either direction (and the host's arp_ignore
// setting cannot break the gateway). The host end joins interface group <ifGroup>, which is how
// Warren's nftables rules recognise "from an environment" from the very first packet.
//
// `add` converges: a complete pair is re-configured in place (all writes are replace); anything
// half-made (netns without eth0, a leftover host veth, a stale address) is torn down and redone.
// `del` only unmounts and unlinks: the pair dies with the namespace once no process holds it,
// in the kernel's batched netns cleanup, so nothing deletes veths one by one on the hot path.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define NSFS_MAGIC_ 0x6e736673
#define MAXMSG 8

static const char *ctx = "";  // "add <hostIf>", for error messages

static void die(const char *what) {
  fprintf(stderr, "warren-net %s: %s: %s\n", ctx, what, strerror(errno));
  exit(1);
}

// ---- a batch of netlink requests: several messages, one sendmsg, one ACK each ----
struct batch {
  char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
  size_t len;
  int n;
  const char *what[MAXMSG];
  int okerr[MAXMSG];  // an errno that counts as success for this message (e.g. ENODEV on delete)
  uint32_t seq0;
};
struct link_info {  // filled from RTM_NEWLINK replies to GETLINK
  int index, peer;
};
struct addr_probe {  // filled from an address dump
  int index, found;
  struct in_addr want;
};

static uint32_t next_seq = 1;

static struct nlmsghdr *msg(struct batch *b, int type, int flags, const char *what, const void *hdr,
                            size_t hlen) {
  if (b->n == 0) b->seq0 = next_seq;
  struct nlmsghdr *h = (struct nlmsghdr *)(b->buf + b->len);
  memset(h, 0, NLMSG_SPACE(hlen));
  h->nlmsg_len = NLMSG_LENGTH(hlen);
  h->nlmsg_type = type;
  h->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  h->nlmsg_seq = next_seq++;
  memcpy(NLMSG_DATA(h), hdr, hlen);
  b->what[b->n] = what;
  b->okerr[b->n] = 0;
  b->n++;
  return h;
}
static struct rtattr *attr(struct nlmsghdr *h, int type, const void *data, size_t len) {
  struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
  a->rta_type = type;
  a->rta_len = RTA_LENGTH(len);
  if (len) memcpy(RTA_DATA(a), data, len);
  h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
  return a;
}
static void nest_end(struct nlmsghdr *h, struct rtattr *a) { a->rta_len = (char *)h + h->nlmsg_len - (char *)a; }
static void done(struct batch *b, struct nlmsghdr *h) { b->len += NLMSG_ALIGN(h->nlmsg_len); }

static int nl_open(void) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) die("socket(NETLINK_ROUTE)");
  return fd;
}

static void parse_link(struct nlmsghdr *h, struct link_info *li) {
  struct ifinfomsg *ifi = NLMSG_DATA(h);
  li->index = ifi->ifi_index;
  int len = IFLA_PAYLOAD(h);
  for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len))
    if (a->rta_type == IFLA_LINK) li->peer = *(int *)RTA_DATA(a);
}
static void parse_addr(struct nlmsghdr *h, struct addr_probe *ap) {
  struct ifaddrmsg *ifa = NLMSG_DATA(h);
  if ((int)ifa->ifa_index != ap->index) return;
  int len = IFA_PAYLOAD(h);
  for (struct rtattr *a = IFA_RTA(ifa); RTA_OK(a, len); a = RTA_NEXT(a, len))
    if (a->rta_type == IFA_LOCAL && !memcmp(RTA_DATA(a), &ap->want, 4)) ap->found = 1;
}

// Sends the whole batch in one sendmsg and reads until every message is answered. Returns 0, or
// the errno of the first failing message (its name is printed unless `quiet`).
static int run_batch(int fd, struct batch *b, struct link_info *li, struct addr_probe *ap, int quiet) {
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  struct iovec iov = {b->buf, b->len};
  struct msghdr mh = {.msg_name = &sa, .msg_namelen = sizeof(sa), .msg_iov = &iov, .msg_iovlen = 1};
  if (sendmsg(fd, &mh, 0) < 0) die("netlink sendmsg");
  int pending = b->n, first = 0;
  static char rbuf[65536] __attribute__((aligned(NLMSG_ALIGNTO)));
  while (pending > 0) {
    ssize_t r = recv(fd, rbuf, sizeof(rbuf), 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      die("netlink recv");
    }
    for (struct nlmsghdr *h = (struct nlmsghdr *)rbuf; NLMSG_OK(h, (size_t)r); h = NLMSG_NEXT(h, r)) {
      int i = (int)(h->nlmsg_seq - b->seq0);
      if (i < 0 || i >= b->n) continue;
      if (h->nlmsg_type == NLMSG_ERROR) {
        int err = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
        if (err && err != b->okerr[i] && !first) {
          first = err;
          if (!quiet) fprintf(stderr, "warren-net %s: %s: %s\n", ctx, b->what[i], strerror(err));
        }
        pending--;
      } else if (h->nlmsg_type == NLMSG_DONE) {
        pending--;  // end of a dump; dumps get no separate ACK
      } else if (h->nlmsg_type == RTM_NEWLINK && li) {
        parse_link(h, li);
      } else if (h->nlmsg_type == RTM_NEWADDR && ap) {
        parse_addr(h, ap);
      }
    }
  }
  b->len = 0;
  b->n = 0;
  return first;
}

// Looks a link up by name; index 0 when it does not exist.
static struct link_info get_link(int fd, const char *name) {
  struct batch b = {0};
  struct link_info li = {0, 0};
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
  struct nlmsghdr *h = msg(&b, RTM_GETLINK, 0, "get link", &ifi, sizeof(ifi));
  attr(h, IFLA_IFNAME, name, strlen(name) + 1);
  done(&b, h);
  b.okerr[0] = ENODEV;
  if (run_batch(fd, &b, &li, NULL, 0)) exit(1);
  return li;
}

static void link_set(struct batch *b, int index, const char *what, const unsigned char *mac, int group) {
  struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = index, .ifi_flags = IFF_UP, .ifi_change = IFF_UP};
  struct nlmsghdr *h = msg(b, RTM_NEWLINK, 0, what, &ifi, sizeof(ifi));
  if (mac) attr(h, IFLA_ADDRESS, mac, 6);
  if (group >= 0) attr(h, IFLA_GROUP, &group, 4);
  done(b, h);
}
static void neigh_perm(struct batch *b, int index, struct in_addr ip, const unsigned char *mac, const char *what) {
  struct ndmsg nd = {.ndm_family = AF_INET, .ndm_ifindex = index, .ndm_state = NUD_PERMANENT};
  struct nlmsghdr *h = msg(b, RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, what, &nd, sizeof(nd));
  attr(h, NDA_DST, &ip, 4);
  attr(h, NDA_LLADDR, mac, 6);
  done(b, h);
}
static void route(struct batch *b, int index, struct in_addr *dst, struct in_addr *gw, struct in_addr *src,
                  const char *what) {
  struct rtmsg rt = {.rtm_family = AF_INET, .rtm_dst_len = dst ? 32 : 0, .rtm_table = RT_TABLE_MAIN,
                     .rtm_protocol = RTPROT_STATIC, .rtm_scope = gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
                     .rtm_type = RTN_UNICAST, .rtm_flags = gw ? RTNH_F_ONLINK : 0};
  struct nlmsghdr *h = msg(b, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, what, &rt, sizeof(rt));
  if (dst) attr(h, RTA_DST, dst, 4);
  if (gw) attr(h, RTA_GATEWAY, gw, 4);
  if (src) attr(h, RTA_PREFSRC, src, 4);
  attr(h, RTA_OIF, &index, 4);
  done(b, h);
}

static void sysctl(const char *fmt, const char *ifname, const char *val, int optional) {
  char path[128];
  snprintf(path, sizeof(path), fmt, ifname);
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 && optional && errno == ENOENT) return;  // e.g. IPv6 disabled on the host
  if (fd < 0 || write(fd, val, strlen(val)) != (ssize_t)strlen(val)) die(path);
  close(fd);
}

static void unmount_netns(const char *path) {
  if (umount2(path, MNT_DETACH) && errno != EINVAL && errno != ENOENT) die("umount netns");
  if (unlink(path) && errno != ENOENT) die("unlink netns");
}

/* Same namespace? (nsfs inodes identify namespaces.) */
static int same_ns(int fd, const char *path) {
  struct stat a, b;
  return !fstat(fd, &a) && !stat(path, &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static int cmd_add(char **argv, const char *pid) {
  const char *nspath = argv[0], *hostif = argv[1];
  struct in_addr ip, gw;
  char *end, *pend;
  long group = strtol(argv[4], &end, 10);
  long pidn = pid ? strtol(pid, &pend, 10) : 0;
  if (strlen(hostif) >= IFNAMSIZ || !inet_pton(AF_INET, argv[2], &ip) || !inet_pton(AF_INET, argv[3], &gw) ||
      *end || group < 1 || group > INT32_MAX || (pid && (*pend || pidn < 1))) {
    fprintf(stderr, "warren-net add: bad arguments\n");
    return 2;
  }
  // With a pid, the namespace is the one that process already has (an OCI runtime made it
  // inside the environment's user namespace, which must own it so that sysfs mounts and
  // `exec` work); otherwise a new one is made here.
  char pidns[64] = "";
  if (pid) snprintf(pidns, sizeof(pidns), "/proc/%ld/ns/net", pidn);
  // Deterministic, locally administered unicast MACs derived from the env address.
  const unsigned char *o = (const unsigned char *)&ip;
  unsigned char env_mac[6] = {0x02, 0x77, o[0], o[1], o[2], o[3]};
  unsigned char host_mac[6] = {0x0e, 0x77, o[0], o[1], o[2], o[3]};

  int hostns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (hostns < 0) die("open host netns");
  int hs = nl_open();  // stays in the host namespace for its whole life
  struct link_info host = get_link(hs, hostif), eth0 = {0, 0};
  int is = -1, reuse = 0;

  // A complete pair from an earlier call: the netns is an nsfs mount, its eth0 is the peer of
  // our host veth, and it carries the expected address. Anything less is redone from scratch.
  int nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
  struct statfs sf;
  if (nsfd >= 0 && host.index && !fstatfs(nsfd, &sf) && (unsigned long)sf.f_type == NSFS_MAGIC_ &&
      (!pid || same_ns(nsfd, pidns))) {
    if (setns(nsfd, CLONE_NEWNET)) die("setns env");
    is = nl_open();
    if (setns(hostns, CLONE_NEWNET)) die("setns host");
    eth0 = get_link(is, "eth0");
    if (eth0.index && eth0.peer == host.index) {
      struct batch b = {0};
      struct addr_probe ap = {.index = eth0.index, .want = ip};
      struct ifaddrmsg ifa = {.ifa_family = AF_INET};
      done(&b, msg(&b, RTM_GETADDR, NLM_F_DUMP, "dump addresses", &ifa, sizeof(ifa)));
      if (run_batch(is, &b, NULL, &ap, 0)) exit(1);
      reuse = ap.found;
    }
  }
  if (!reuse) {
    if (nsfd >= 0) close(nsfd);
    if (is >= 0) close(is);
    unmount_netns(nspath);
    if (host.index) {  // leftover from a crash or a recent teardown: the only serial delete
      struct batch b = {0};
      struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = host.index};
      done(&b, msg(&b, RTM_DELLINK, 0, "delete leftover host veth", &ifi, sizeof(ifi)));
      b.okerr[0] = ENODEV;
      if (run_batch(hs, &b, NULL, NULL, 0)) exit(1);
    }
    int f = open(nspath, O_CREAT | O_EXCL | O_RDONLY | O_CLOEXEC, 0444);
    if (f < 0) die("create netns file");
    close(f);
    const char *src = pid ? pidns : "/proc/self/ns/net";
    if (pid) {
      nsfd = open(pidns, O_RDONLY | O_CLOEXEC);
      if (nsfd < 0) die("open the process's netns");
      if (setns(nsfd, CLONE_NEWNET)) die("setns env");
    } else {
      if (unshare(CLONE_NEWNET)) die("unshare(CLONE_NEWNET)");
      nsfd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
      if (nsfd < 0) die("open new netns");
    }
    // Mounted before anything else exists in it, so a crash from here on leaves a file that the
    // next `add` finds and heals.
    if (mount(src, nspath, "none", MS_BIND, NULL)) die("bind-mount netns");
    is = nl_open();  // bound to the environment's namespace for good
    if (setns(hostns, CLONE_NEWNET)) die("setns host");

    struct batch b = {0};
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
    struct nlmsghdr *h = msg(&b, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, "create veth", &ifi, sizeof(ifi));
    attr(h, IFLA_IFNAME, hostif, strlen(hostif) + 1);
    attr(h, IFLA_ADDRESS, host_mac, 6);
    attr(h, IFLA_GROUP, &group, 4);
    struct rtattr *linkinfo = attr(h, IFLA_LINKINFO, NULL, 0);
    attr(h, IFLA_INFO_KIND, "veth", 5);
    struct rtattr *data = attr(h, IFLA_INFO_DATA, NULL, 0);
    struct rtattr *peer = attr(h, VETH_INFO_PEER, NULL, 0);
    struct ifinfomsg pifi = {.ifi_family = AF_UNSPEC};
    memcpy((char *)h + NLMSG_ALIGN(h->nlmsg_len), &pifi, sizeof(pifi));
    h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + NLMSG_ALIGN(sizeof(pifi));
    attr(h, IFLA_IFNAME, "eth0", 5);
    attr(h, IFLA_ADDRESS, env_mac, 6);
    attr(h, IFLA_NET_NS_FD, &nsfd, 4);
    nest_end(h, peer);
    nest_end(h, data);
    nest_end(h, linkinfo);
    done(&b, h);
    h = msg(&b, RTM_GETLINK, 0, "get host veth", &ifi, sizeof(ifi));
    attr(h, IFLA_IFNAME, hostif, strlen(hostif) + 1);
    done(&b, h);
    if (run_batch(hs, &b, &host, NULL, 0)) exit(1);
    eth0 = get_link(is, "eth0");
    if (!eth0.index) {
      errno = ENODEV;
      die("eth0 missing in new netns");
    }
  }
  close(nsfd);

  // Before the link goes up: no IPv6 on the host end at all (so no router advertisement from an
  // environment can configure the host), and strict reverse-path checks as a second anti-spoof.
  sysctl("/proc/sys/net/ipv6/conf/%s/accept_ra", hostif, "0", 1);
  sysctl("/proc/sys/net/ipv6/conf/%s/disable_ipv6", hostif, "1", 1);
  sysctl("/proc/sys/net/ipv4/conf/%s/rp_filter", hostif, "1", 0);

  struct batch b = {0};
  link_set(&b, host.index, "host veth up", host_mac, (int)group);
  neigh_perm(&b, host.index, ip, env_mac, "host neighbour");
  route(&b, host.index, &ip, NULL, &gw, "host /32 route");
  if (run_batch(hs, &b, NULL, NULL, 0)) exit(1);

  link_set(&b, 1, "lo up", NULL, -1);  // loopback is always ifindex 1 in a netns
  link_set(&b, eth0.index, "eth0 up", env_mac, -1);
  struct ifaddrmsg ifa = {.ifa_family = AF_INET, .ifa_prefixlen = 32, .ifa_scope = RT_SCOPE_UNIVERSE,
                          .ifa_index = (uint32_t)eth0.index};
  struct nlmsghdr *h = msg(&b, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, "eth0 address", &ifa, sizeof(ifa));
  attr(h, IFA_LOCAL, &ip, 4);
  attr(h, IFA_ADDRESS, &ip, 4);
  done(&b, h);
  neigh_perm(&b, eth0.index, gw, host_mac, "gateway neighbour");
  route(&b, eth0.index, NULL, &gw, NULL, "default route");
  if (run_batch(is, &b, NULL, NULL, 0)) exit(1);
  printf("%s %d\n", reuse ? "reused" : "created", host.index);
  return 0;
}

int main(int argc, char **argv) {
  if ((argc == 7 || argc == 8) && !strcmp(argv[1], "add")) {
    ctx = argv[3];
    return cmd_add(argv + 2, argc == 8 ? argv[7] : NULL);
  }
  if (argc >= 3 && !strcmp(argv[1], "del")) {
    ctx = "del";
    for (int i = 2; i < argc; i++) unmount_netns(argv[i]);
    return 0;
  }
  fprintf(stderr,
          "usage: warren-net add <netnsPath> <hostIf> <envIp> <gatewayIp> <ifGroup> [<pid>]\n"
          "       warren-net del <netnsPath>...\n");
  return 2;
}
