#!/usr/bin/env bash
# Builds kube-apiserver and kube-controller-manager (1.20) from Debian's
# `kubernetes` source package, once per machine, and caches them under
# $KILN_KUBE_CACHE (default /var/cache/kiln-kube). Does nothing when both
# binaries are already there. Prints the cache directory on stdout.
#
# The recipe (Debian 12, offline apart from the Debian mirror):
#  - packages: golang-go etcd-server rsync golang-github-modern-go-reflect2-dev
#  - a deb-src line built at run time from the mirror URI the machine already
#    uses (/etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list),
#    in a private apt configuration: the system's sources are not changed
#  - vendor/github.com/modern-go/reflect2 replaced by Debian's copy: the
#    vendored v1.0.1 crashes the apiserver under Go 1.19
#    (reflect2.UnsafeMapType.UnsafeIterate)
set -euo pipefail
cache="${KILN_KUBE_CACHE:-/var/cache/kiln-kube}"
bins=(kube-apiserver kube-controller-manager)
have_all() {
  local b
  for b in "${bins[@]}"; do [ -x "$cache/$b" ] || return 1; done
}
if have_all; then
  # Cached: check that both run (a truncated copy is reported, never removed).
  for b in "${bins[@]}"; do
    if ! "$cache/$b" --version 2>/dev/null | grep -q '^Kubernetes v1\.'; then
      echo "build_kube: $cache/$b is there but does not run (--version fails); move it away to rebuild" >&2
      exit 1
    fi
  done
  echo "$cache"
  exit 0
fi

log() { echo "build_kube: $*" >&2; }
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

need=(golang-go etcd-server rsync golang-github-modern-go-reflect2-dev dpkg-dev make)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

work="${KILN_KUBE_WORK:-$(mktemp -d /var/tmp/kiln-kube-build.XXXXXX)}"
mkdir -p "$work"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
log "work dir $work"

# The mirror URI and suite of the machine's Debian sources, read at run time.
uri="" suite=""
if [ -r /etc/apt/sources.list.d/debian.sources ]; then
  uri=$(awk '$1=="URIs:"{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  suite=$(awk '$1=="Suites:"{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$uri" ] && [ -r /etc/apt/sources.list ]; then
  read -r uri suite < <(awk '$1=="deb" && $2 !~ /^\[/ {print $2, $3; exit}' /etc/apt/sources.list)
fi
if [ -z "$uri" ]; then
  log "error: no Debian mirror URI found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
  exit 1
fi
suite="${suite:-bookworm}"

# A private apt configuration holding only the deb-src line.
apt_dir="$work/apt"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/parts"
echo "deb-src $uri $suite main" > "$apt_dir/sources.list"
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list"
          -o "Dir::Etc::SourceParts=$apt_dir/parts"
          -o "Dir::State::Lists=$apt_dir/lists"
          -o "Dir::Cache::Archives=$apt_dir/archives"
          -o "APT::Sandbox::User=root")
log "fetching the kubernetes source package"
apt-get "${apt_opts[@]}" update -qq
src="$work/src"
mkdir -p "$src"
(cd "$src" && apt-get "${apt_opts[@]}" source --download-only -qq kubernetes)
dsc=$(ls "$src"/kubernetes_*.dsc | head -n1)
(cd "$src" && dpkg-source --no-check -x "$(basename "$dsc")" tree >/dev/null)
tree="$src/tree"

# Debian's reflect2 instead of the vendored one.
rm -rf "$tree/vendor/github.com/modern-go/reflect2"
cp -r /usr/share/gocode/src/github.com/modern-go/reflect2 "$tree/vendor/github.com/modern-go/reflect2"
rm -f "$tree/vendor/github.com/modern-go/reflect2/go.mod"

log "building (several minutes)"
(cd "$tree" && HOME="$work" GOPROXY=off CGO_ENABLED=0 \
  KUBE_GIT_VERSION=v1.20.2 KUBE_GIT_TREE_STATE=clean KUBE_GIT_MAJOR=1 KUBE_GIT_MINOR=20 \
  nice -n "${KILN_KUBE_NICE:-10}" make WHAT="cmd/kube-apiserver cmd/kube-controller-manager" >&2)

$SUDO mkdir -p "$cache"
for b in "${bins[@]}"; do
  out=$(find "$tree/_output" -type f -name "$b" -perm -u+x | head -n1)
  [ -n "$out" ] || { log "error: $b was not built"; exit 1; }
  $SUDO install -m 0755 "$out" "$cache/$b.tmp"
  $SUDO mv "$cache/$b.tmp" "$cache/$b"
done
log "cached in $cache"
echo "$cache"
