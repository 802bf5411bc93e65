#!/usr/bin/env bash
# deps.sh: install the Debian packages postern needs to build, test and benchmark,
# but only those that are missing. Non-interactive; runs `apt-get update` first because
# a fresh machine's package lists can be empty.
#   scripts/deps.sh           install what is missing (as root, or through sudo)
#   scripts/deps.sh --check   exit 0 when nothing is missing, 1 otherwise; installs nothing
set -euo pipefail

# Build: compilers and libraries. Test peers: swaks (with Net::SSLeay, which its --tls
# needs), postfix (smtpd, smtp-source, smtp-sink, posttls-finger), dnsmasq, openssl
# s_client, pflogsumm, python3, prlimit (util-linux), systemd-analyze (systemd: it checks
# the unit make install writes). Every integration test runs when all of these are here
# and the tests run as root: none is skipped on the CI path.
# Fuzzing: clang with libFuzzer. Benchmark: procps (ps), sysstat-free tools only.
PACKAGES=(
  g++ make pkg-config
  libevent-dev libssl-dev libconfig++-dev libc-ares-dev cpputest
  openssl ca-certificates
  python3 swaks libnet-ssleay-perl postfix dnsmasq-base pflogsumm util-linux systemd
  clang libclang-rt-14-dev
  procps iproute2 passwd
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [[ $status == installed ]] || missing+=("$pkg")
done

if [[ ${1:-} == --check ]]; then
  [[ ${#missing[@]} -eq 0 ]] && exit 0
  echo "missing packages: ${missing[*]}" >&2
  exit 1
fi

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

as_root=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "deps.sh: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  as_root=(sudo)
fi

echo "postern: installing missing packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Postfix is a test peer and the benchmark's rival: install it without configuring or
# starting it.
if printf '%s\n' "${missing[@]}" | grep -qx postfix; then
  echo "postfix postfix/main_mailer_type select No configuration" | "${as_root[@]}" debconf-set-selections
fi
"${as_root[@]}" apt-get update -qq >&2
"${as_root[@]}" apt-get install -y -qq --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >&2
