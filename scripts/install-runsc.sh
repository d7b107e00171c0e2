#!/usr/bin/env bash
# Installs gVisor's runsc from Debian 13 (trixie) into .toolchain/runsc. Idempotent: when the
# pinned version is there, it only checks. Run by setup.sh; safe to run alone (as root).
#
# Why trixie's: Debian 12's runsc (0.0~20221219) rejects the statx calls of Debian 12's own glibc,
# so `ls -l`, `stat` and everything built on them fail inside a gVisor environment. Trixie's is a
# static Go binary, so unpacking it pulls in nothing else; it is never installed with dpkg -i
# (that could drag trixie's libc onto the host). The host's apt sources are left unchanged: the
# download goes through a private source list, lists dir and cache that exist only for it, and
# apt checks the archive's signature against Debian's archive keyring like any other download.
#
# Mirror: the host's own Debian mirror (the one apt already uses for bookworm), or
# $WARREN_RUNSC_MIRROR (e.g. when the host's mirror carries bookworm only).
source "$(dirname "$0")/lib.sh"
need_root

# The exact Debian version (binNMU suffix included, as built for amd64, these hosts' architecture).
RUNSC_VERSION="0.0~20240729.0-4+b7"
RUNSC_DIR="$TOOLCHAIN/runsc"
RUNSC_BIN="$RUNSC_DIR/usr/bin/runsc"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg

if [ -x "$RUNSC_BIN" ] && [ "$(cat "$RUNSC_DIR/VERSION" 2>/dev/null)" = "$RUNSC_VERSION" ]; then
  echo "runsc $RUNSC_VERSION (already in $RUNSC_DIR)"
  exit 0
fi

mirror="${WARREN_RUNSC_MIRROR:-}"
if [ -z "$mirror" ]; then
  # apt's own reading of the host's sources (one-line and deb822): the main archive serving
  # bookworm, the same choice the base image makes (storage/image-apt-sources.ts).
  mirror=$(apt-get indextargets --format '$(REPO_URI)' 'Identifier: Packages' 'Release: bookworm' \
    'Component: main' | awk 'NR == 1')
fi
if [ -z "$mirror" ]; then
  echo "install-runsc: no Debian mirror for bookworm in the host's apt sources;" \
    "set WARREN_RUNSC_MIRROR=http://deb.debian.org/debian and run again" >&2
  exit 1
fi
# debian-archive-keyring ships each release's keys also as their own file; bookworm's package
# (2023.3+deb12u1 and later) already has trixie's.
if [ ! -r "$KEYRING" ] || [ ! -r /usr/share/keyrings/debian-archive-trixie-automatic.gpg ]; then
  echo "install-runsc: $KEYRING lacks Debian 13's archive key; install a current" \
    "debian-archive-keyring (apt-get install debian-archive-keyring) and run again" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/deb"
echo "deb [signed-by=$KEYRING] ${mirror%/} trixie main" > "$tmp/sources.list"
# apt downloads as the unprivileged _apt user: it must reach the dirs it writes into.
chmod 755 "$tmp"
chown _apt "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/deb" 2>/dev/null || true
apt_private=(
  -o "Dir::Etc::SourceList=$tmp/sources.list" -o "Dir::Etc::SourceParts=-"
  -o "Dir::State::Lists=$tmp/lists" -o "Dir::Cache=$tmp/cache"
  -o "Acquire::Languages=none" -o "APT::Get::List-Cleanup=0"
)
echo "fetching runsc $RUNSC_VERSION from ${mirror%/} trixie"
# -o Acquire::AllowInsecureRepositories stays at its default (false): an unsigned or badly
# signed Release file fails the update, and `download` then finds no candidate.
if ! apt-get -qq "${apt_private[@]}" update; then
  echo "install-runsc: apt-get update of ${mirror%/} trixie failed (see above)" >&2
  exit 1
fi
if ! (cd "$tmp/deb" && apt-get -qq "${apt_private[@]}" download "runsc=$RUNSC_VERSION"); then
  echo "install-runsc: runsc $RUNSC_VERSION is not in ${mirror%/} trixie any more;" \
    "update RUNSC_VERSION in scripts/install-runsc.sh (apt-cache policy runsc, with a trixie source)" >&2
  exit 1
fi

# Unpack beside the old tree, check it runs, then swap, so a failure leaves the old one intact.
staging="$RUNSC_DIR.new"
rm -rf "$staging"
# On a fresh clone this may run before anything else made the toolchain directory.
mkdir -p "$TOOLCHAIN"
dpkg-deb -x "$tmp"/deb/runsc_*.deb "$staging"
got=$("$staging/usr/bin/runsc" --version | awk 'NR == 1')
if [ "$got" != "runsc version ${RUNSC_VERSION%%-*}" ]; then
  echo "install-runsc: unpacked runsc reports '$got', expected ${RUNSC_VERSION%%-*}" >&2
  rm -rf "$staging"
  exit 1
fi
echo "$RUNSC_VERSION" > "$staging/VERSION"
rm -rf "$RUNSC_DIR"
mv "$staging" "$RUNSC_DIR"
echo "runsc $RUNSC_VERSION installed in $RUNSC_DIR"
