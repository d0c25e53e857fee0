#!/usr/bin/env bash
# Installs the Debian packages kiln needs, only those that are missing.
# Idempotent and silent when everything is present.
set -euo pipefail
packages=(
  cmake ninja-build g++ antlr4 libantlr4-runtime-dev llvm-14-dev
  nlohmann-json3-dev libcurl4-openssl-dev googletest libgtest-dev
  python3 slurm-wlm slurmrestd munge curl slurm-wlm-jwt-plugin
  libpq-dev postgresql
  golang-go etcd-server rsync golang-github-modern-go-reflect2-dev libyaml-cpp-dev dpkg-dev make openssl
  golang-github-hashicorp-hcl-v2-dev jsonnet gnuplot-nox time git cmark-gfm
  libcpp-httplib-dev pkg-config
)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
