// DNS load generator for bench/dns (C so the generator, not the server, is never the limit).
//
//   loadgen closed  HOST PORT NAMES CONCURRENCY SECONDS   keep CONCURRENCY queries outstanding
//   loadgen rate    HOST PORT NAMES QPS SECONDS           send at a fixed rate, open loop
//   loadgen reflect HOST PORT                             answer every datagram (measures our ceiling)
//
// Queries are A lookups of n<i>.bench.test, i = 0..NAMES-1 in turn, without EDNS. The query id is
// the slot (closed) or sequence number mod 65536 (rate) and indexes the send time. Prints one
// JSON line: sent, received, lost, qps, latency percentiles in microseconds.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define HIST_US 1000000 /* 1 us buckets up to 1 s */
#define LOST_NS 1000000000LL

static uint32_t hist[HIST_US + 1];
static int64_t sent_at[65536];

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int encode_query(uint8_t *buf, int i) {
  memset(buf, 0, 12);
  buf[2] = 0x01; /* RD */
  buf[5] = 1;    /* QDCOUNT */
  char label[32];
  int n = snprintf(label, sizeof label, "n%d", i);
  int off = 12;
  buf[off++] = (uint8_t)n;
  memcpy(buf + off, label, n);
  off += n;
  memcpy(buf + off, "\x05" "bench" "\x04" "test" "\x00", 12);
  off += 12;
  buf[off++] = 0; buf[off++] = 1; /* A */
  buf[off++] = 0; buf[off++] = 1; /* IN */
  return off;
}

static int connect_udp(const char *host, int port, int bind_it) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  int sz = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, host, &a.sin_addr);
  if ((bind_it ? bind(fd, (void *)&a, sizeof a) : connect(fd, (void *)&a, sizeof a)) < 0) {
    perror(bind_it ? "bind" : "connect");
    exit(2);
  }
  return fd;
}

static double pct(uint64_t total, double p) {
  uint64_t want = (uint64_t)(p * total), acc = 0;
  if (want == 0) want = 1;
  for (int i = 0; i <= HIST_US; i++) {
    acc += hist[i];
    if (acc >= want) return i;
  }
  return HIST_US;
}

static _Noreturn void reflect(const char *host, int port) {
  int fd = connect_udp(host, port, 1);
  struct mmsghdr m[BATCH];
  struct iovec iov[BATCH];
  struct sockaddr_in from[BATCH];
  static uint8_t bufs[BATCH][512];
  for (;;) {
    for (int i = 0; i < BATCH; i++) {
      iov[i] = (struct iovec){bufs[i], sizeof bufs[i]};
      m[i].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &iov[i], .msg_iovlen = 1};
    }
    struct pollfd p = {fd, POLLIN, 0};
    poll(&p, 1, -1);
    int n = recvmmsg(fd, m, BATCH, MSG_DONTWAIT, NULL);
    for (int i = 0; i < n; i++) {
      bufs[i][2] |= 0x80;
      iov[i].iov_len = m[i].msg_len;
    }
    if (n > 0) sendmmsg(fd, m, n, 0);
  }
}

int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "reflect") == 0) reflect(argv[2], atoi(argv[3]));
  if (argc < 7) {
    fprintf(stderr, "usage: loadgen closed|rate HOST PORT NAMES CONC|QPS SECONDS\n");
    return 2;
  }
  int closed = strcmp(argv[1], "closed") == 0;
  int names = atoi(argv[4]);
  double param = atof(argv[5]);
  double secs = atof(argv[6]);
  int conc = closed ? (int)param : 0;
  if (closed && (conc < 1 || conc > 65536)) return 2;
  int fd = connect_udp(argv[2], atoi(argv[3]), 0);

  static uint8_t qbuf[BATCH][128];
  int qlen[BATCH];
  struct mmsghdr sm[BATCH], rm[BATCH];
  struct iovec siov[BATCH], riov[BATCH];
  static uint8_t rbufs[BATCH][1500];
  for (int i = 0; i < BATCH; i++) {
    riov[i] = (struct iovec){rbufs[i], sizeof rbufs[i]};
    memset(&rm[i], 0, sizeof rm[i]);
    rm[i].msg_hdr.msg_iov = &riov[i];
    rm[i].msg_hdr.msg_iovlen = 1;
  }
  uint64_t sent = 0, recvd = 0, lost = 0, seq = 0;
  int64_t t0 = now_ns(), end = t0 + (int64_t)(secs * 1e9);
  int pending_slots[BATCH];
  int npending = 0;
  /* closed loop: queue every slot for sending first */
  int *queue = closed ? malloc(sizeof(int) * conc) : NULL;
  int qn = 0;
  for (int i = 0; i < conc; i++) queue[qn++] = i;
  for (int i = 0; i < 65536; i++) sent_at[i] = -1;
  int64_t last_scan = t0;

  for (;;) {
    int64_t now = now_ns();
    if (now >= end) break;
    /* what to send now */
    npending = 0;
    if (closed) {
      while (qn > 0 && npending < BATCH) pending_slots[npending++] = queue[--qn];
    } else {
      uint64_t due = (uint64_t)((now - t0) / 1e9 * param);
      while (seq < due && npending < BATCH) pending_slots[npending++] = (int)(seq++ & 0xffff);
    }
    if (npending > 0) {
      for (int i = 0; i < npending; i++) {
        int id = pending_slots[i];
        qlen[i] = encode_query(qbuf[i], (int)(sent + i) % names);
        qbuf[i][0] = id >> 8;
        qbuf[i][1] = id & 0xff;
        siov[i] = (struct iovec){qbuf[i], qlen[i]};
        memset(&sm[i], 0, sizeof sm[i]);
        sm[i].msg_hdr.msg_iov = &siov[i];
        sm[i].msg_hdr.msg_iovlen = 1;
      }
      int64_t ts = now_ns();
      int n = sendmmsg(fd, sm, npending, 0);
      if (n < 0) n = 0;
      for (int i = 0; i < n; i++) sent_at[pending_slots[i]] = ts;
      for (int i = n; i < npending; i++) if (closed) queue[qn++] = pending_slots[i];
      sent += n;
    }
    if (closed && qn == 0) {
      struct pollfd p = {fd, POLLIN, 0};
      poll(&p, 1, 5);
    } else if (!closed) {
      /* sleep until the next send is due or an answer arrives, instead of spinning */
      int64_t next = t0 + (int64_t)((seq + 1) * 1e9 / param) - now_ns();
      if (next > 0) {
        struct pollfd p = {fd, POLLIN, 0};
        struct timespec ts = {next / 1000000000LL, next % 1000000000LL};
        ppoll(&p, 1, &ts, NULL);
      }
    }
    int n = recvmmsg(fd, rm, BATCH, MSG_DONTWAIT, NULL);
    int64_t tr = now_ns();
    for (int i = 0; i < n; i++) {
      if (rm[i].msg_len < 12) continue;
      int id = (rbufs[i][0] << 8) | rbufs[i][1];
      if (sent_at[id] < 0) continue;
      int64_t us = (tr - sent_at[id]) / 1000;
      hist[us > HIST_US ? HIST_US : us]++;
      sent_at[id] = -1;
      recvd++;
      if (closed) queue[qn++] = id;
    }
    /* a query unanswered for 1 s counts as lost; in closed mode its slot is reused */
    if (tr - last_scan > 100000000LL) {
      last_scan = tr;
      for (int id = 0; id < 65536; id++) {
        if (sent_at[id] >= 0 && tr - sent_at[id] > LOST_NS) {
          sent_at[id] = -1;
          lost++;
          if (closed && id < conc) queue[qn++] = id;
        }
      }
    }
  }
  double el = (now_ns() - t0) / 1e9;
  printf("{\"sent\":%lu,\"received\":%lu,\"lost\":%lu,\"seconds\":%.3f,\"qps\":%.0f,"
         "\"p50us\":%.0f,\"p99us\":%.0f,\"p999us\":%.0f}\n",
         sent, recvd, lost, el, recvd / el, pct(recvd, 0.5), pct(recvd, 0.99), pct(recvd, 0.999));
  return 0;
}
