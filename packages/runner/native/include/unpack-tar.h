// Tar stream reading for warren-unpack: headers (ustar, GNU long names, PAX), numbers, and the
// normalized entry the extractor acts on. Included by warren-unpack.c only (one static binary).
// Everything here distrusts the stream: sizes are bounded, names are normalized and `..` refused.
#pragma once
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define BLK 512
#define MAX_META (1024 * 1024)
#define MAX_PATH_LEN 4096

// Exit statuses the runner understands: REFUSED means the layer itself is bad (IMAGE_CORRUPT).
#define EXIT_REFUSED 3
#define EXIT_SYSTEM 1

__attribute__((noreturn, format(printf, 1, 2))) static void refuse(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("warren-unpack: refused: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  _exit(EXIT_REFUSED);
}

__attribute__((noreturn)) static void die(const char *op, const char *path) {
  fprintf(stderr, "warren-unpack: %s %s: %s\n", op, path, strerror(errno));
  _exit(EXIT_SYSTEM);
}

struct xattr {
  char *name;
  char *value;
  size_t len;
};

struct entry {
  char type;
  char path[MAX_PATH_LEN]; // normalized, relative; "" is the layer root
  char link[MAX_PATH_LEN]; // symlink text as given; hard link target normalized
  uint64_t size;
  uint64_t mode, uid, gid, devmajor, devminor;
  int64_t mtime;
  long mtime_nsec;
  struct xattr xattrs[64];
  int nxattrs;
};

// Reads exactly n bytes; a short stream is a truncated (bad) layer.
static void read_exact(int fd, void *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, (char *)buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) die("read", "stdin");
    if (r == 0) refuse("the tar stream is truncated");
    got += (size_t)r;
  }
}

static void skip_bytes(int fd, uint64_t n) {
  char buf[65536];
  while (n > 0) {
    size_t k = n > sizeof(buf) ? sizeof(buf) : (size_t)n;
    read_exact(fd, buf, k);
    n -= k;
  }
}

static uint64_t parse_num(const unsigned char *f, size_t len) {
  if (f[0] & 0x80) { // GNU base-256
    uint64_t v = f[0] & 0x7f;
    for (size_t i = 1; i < len; i++) {
      if (v >> 55) refuse("a tar header number is out of range");
      v = (v << 8) | f[i];
    }
    return v;
  }
  uint64_t v = 0;
  size_t i = 0;
  while (i < len && f[i] == ' ') i++;
  for (; i < len && f[i] >= '0' && f[i] <= '7'; i++) {
    if (v >> 60) refuse("a tar header number is out of range");
    v = v * 8 + (uint64_t)(f[i] - '0');
  }
  for (; i < len; i++)
    if (f[i] != 0 && f[i] != ' ') refuse("a tar header has a malformed number");
  return v;
}

static void cstr(char *dst, size_t cap, const unsigned char *src, size_t len) {
  size_t n = strnlen((const char *)src, len);
  if (n >= cap) n = cap - 1;
  memcpy(dst, src, n);
  dst[n] = 0;
}

// `./a//b/` -> `a/b`; a leading `/` is dropped (paths are relative to the layer root anyway,
// and openat2 RESOLVE_IN_ROOT would confine them); `..` is refused outright.
static void normalize(char *out, const char *in, const char *what) {
  size_t o = 0;
  const char *p = in;
  while (*p) {
    while (*p == '/') p++;
    const char *s = p;
    while (*p && *p != '/') p++;
    size_t n = (size_t)(p - s);
    if (n == 0 || (n == 1 && s[0] == '.')) continue;
    if (n == 2 && s[0] == '.' && s[1] == '.') refuse("%s \"%s\" has a \"..\" component", what, in);
    if (n > 255) refuse("%s \"%.64s...\" has a component longer than 255 bytes", what, in);
    if (o + n + 2 > MAX_PATH_LEN) refuse("%s \"%.64s...\" is too long", what, in);
    if (o) out[o++] = '/';
    memcpy(out + o, s, n);
    o += n;
  }
  out[o] = 0;
}

struct meta {
  char *path, *linkpath, *longname, *longlink;
  int has_size, has_uid, has_gid, has_mtime;
  uint64_t size, uid, gid;
  int64_t mtime;
  long mtime_nsec;
  struct xattr xattrs[64];
  int nxattrs;
};

static void meta_clear(struct meta *m) {
  free(m->path);
  free(m->linkpath);
  free(m->longname);
  free(m->longlink);
  for (int i = 0; i < m->nxattrs; i++) {
    free(m->xattrs[i].name);
    free(m->xattrs[i].value);
  }
  memset(m, 0, sizeof(*m));
}

static char *dup_n(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (!d) die("malloc", "");
  memcpy(d, s, n);
  d[n] = 0;
  return d;
}

static void parse_pax(struct meta *m, const char *d, size_t len) {
  size_t pos = 0;
  while (pos < len) {
    char *end;
    unsigned long rl = strtoul(d + pos, &end, 10);
    if (end == d + pos || *end != ' ' || rl == 0 || pos + rl > len || d[pos + rl - 1] != '\n')
      refuse("a PAX header record is malformed");
    const char *key = end + 1;
    const char *rec_end = d + pos + rl - 1;
    const char *eq = memchr(key, '=', (size_t)(rec_end - key));
    if (!eq) refuse("a PAX header record has no '='");
    size_t klen = (size_t)(eq - key);
    const char *val = eq + 1;
    size_t vlen = (size_t)(rec_end - val);
#define KEY(s) (klen == strlen(s) && memcmp(key, s, klen) == 0)
    if (KEY("path")) free(m->path), m->path = dup_n(val, vlen);
    else if (KEY("linkpath")) free(m->linkpath), m->linkpath = dup_n(val, vlen);
    else if (KEY("size") || KEY("uid") || KEY("gid") || KEY("mtime")) {
      char *num = dup_n(val, vlen), *e;
      errno = 0;
      if (KEY("mtime")) {
        m->mtime = strtoll(num, &e, 10);
        m->mtime_nsec = 0;
        if (*e == '.') {
          long ns = 0;
          int digits = 0;
          for (e++; *e >= '0' && *e <= '9'; e++)
            if (digits++ < 9) ns = ns * 10 + (*e - '0');
          while (digits++ < 9) ns *= 10;
          m->mtime_nsec = ns;
        }
        m->has_mtime = 1;
      } else {
        unsigned long long v = strtoull(num, &e, 10);
        if (KEY("size")) m->size = v, m->has_size = 1;
        else if (KEY("uid")) m->uid = v, m->has_uid = 1;
        else m->gid = v, m->has_gid = 1;
      }
      if (errno || *e) refuse("PAX record %.*s has a malformed number", (int)klen, key);
      free(num);
    } else if (klen > 12 && memcmp(key, "SCHILY.xattr.", 13) == 0) {
      if (m->nxattrs >= 64) refuse("an entry has more than 64 extended attributes");
      struct xattr *x = &m->xattrs[m->nxattrs++];
      x->name = dup_n(key + 13, klen - 13);
      x->value = dup_n(val, vlen);
      x->len = vlen;
    } else if (klen >= 11 && memcmp(key, "GNU.sparse.", 11) == 0) {
      refuse("sparse files are not supported in image layers");
    }
#undef KEY
    pos += rl;
  }
}

// Reads headers until one names a real entry; returns 0 at the end-of-archive marker.
static int next_entry(int in, struct entry *e) {
  struct meta m = {0};
  unsigned char h[BLK];
  for (;;) {
    read_exact(in, h, BLK);
    int zero = 1;
    for (int i = 0; i < BLK && zero; i++) zero = h[i] == 0;
    if (zero) {
      meta_clear(&m);
      return 0;
    }
    unsigned sum = 0;
    for (int i = 0; i < BLK; i++) sum += (i >= 148 && i < 156) ? 0x20 : h[i];
    if (sum != parse_num(h + 148, 8)) refuse("a tar header checksum is wrong");
    char type = h[156] ? (char)h[156] : '0';
    uint64_t size = parse_num(h + 124, 12);
    if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
      if (size > MAX_META) refuse("a '%c' header of %llu bytes is too large", type, (unsigned long long)size);
      char *d = malloc(size + 1);
      if (!d) die("malloc", "");
      read_exact(in, d, size);
      d[size] = 0;
      skip_bytes(in, (BLK - size % BLK) % BLK);
      if (type == 'x') parse_pax(&m, d, size);
      else if (type == 'L') free(m.longname), m.longname = dup_n(d, strnlen(d, size));
      else if (type == 'K') free(m.longlink), m.longlink = dup_n(d, strnlen(d, size));
      free(d); // global 'g' headers are ignored, as GNU tar mostly does
      continue;
    }
    memset(e, 0, sizeof(*e));
    e->type = type == '7' ? '0' : type;
    char raw[MAX_PATH_LEN + 160];
    if (m.path) snprintf(raw, sizeof(raw), "%s", m.path);
    else if (m.longname) snprintf(raw, sizeof(raw), "%s", m.longname);
    else {
      char name[101], prefix[156] = "";
      cstr(name, sizeof(name), h, 100);
      if (memcmp(h + 257, "ustar\0", 6) == 0) cstr(prefix, sizeof(prefix), h + 345, 155);
      snprintf(raw, sizeof(raw), "%s%s%s", prefix, prefix[0] ? "/" : "", name);
    }
    normalize(e->path, raw, "entry");
    const char *longl = m.linkpath ? m.linkpath : m.longlink;
    if (longl && strlen(longl) >= MAX_PATH_LEN) refuse("entry \"%s\" has a link target that is too long", e->path);
    char rawlink[MAX_PATH_LEN];
    if (longl) memcpy(rawlink, longl, strlen(longl) + 1);
    else cstr(rawlink, sizeof(rawlink), h + 157, 100);
    if (e->type == '1') normalize(e->link, rawlink, "hard link target");
    else memcpy(e->link, rawlink, strlen(rawlink) + 1);
    e->size = m.has_size ? m.size : size;
    e->mode = parse_num(h + 100, 8) & 07777;
    e->uid = m.has_uid ? m.uid : parse_num(h + 108, 8);
    e->gid = m.has_gid ? m.gid : parse_num(h + 116, 8);
    e->mtime = m.has_mtime ? m.mtime : (int64_t)parse_num(h + 136, 12);
    e->mtime_nsec = m.has_mtime ? m.mtime_nsec : 0;
    e->devmajor = parse_num(h + 329, 8);
    e->devminor = parse_num(h + 337, 8);
    // Move the xattrs over; meta_clear must not free them.
    memcpy(e->xattrs, m.xattrs, sizeof(m.xattrs));
    e->nxattrs = m.nxattrs;
    m.nxattrs = 0;
    meta_clear(&m);
    return 1;
  }
}

static void entry_free_xattrs(struct entry *e) {
  for (int i = 0; i < e->nxattrs; i++) {
    free(e->xattrs[i].name);
    free(e->xattrs[i].value);
  }
  e->nxattrs = 0;
}
