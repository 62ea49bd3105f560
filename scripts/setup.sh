#!/usr/bin/env bash
# Sets ImageSys up on this machine: the system packages that the product, its tests and its benchmarks
# use, then its npm packages and the build. This file owns the list of system packages: the README's
# first command and .ci/run both run it, so a new user and CI install the same things.
#
#   scripts/setup.sh           install what is missing (apt-get; sudo when not root), npm ci, build
#   scripts/setup.sh --check   only say what is missing (exit 1 when something is)
set -euo pipefail
cd "$(dirname "$0")/.."

# One line per need: Debian package(s) ('|' separates alternatives, the first with an install
# candidate is taken), the program it brings, and what uses it.
PACKAGES=(
  "rsync            rsync          the sweeper (sync to n1-n3) and its tests"
  "tinyproxy        tinyproxy      the proxy test's real HTTP proxy"
  "chromium|chromium-browser chromium the status page's browser tests"
  "libvips-tools    vipsthumbnail  npm run bench (the vipsthumbnail column)"
  "imagemagick      convert        npm run bench (the ImageMagick column)"
)
NODE_MIN="20.19"

say() { echo "setup: $*"; }
die() { echo "setup: $*" >&2; exit 1; }

check_only=false
case "${1:-}" in
  --check) check_only=true ;;
  "") ;;
  -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown option $1 (try --help)" ;;
esac

# Node first: everything else is pointless without it.
command -v node >/dev/null 2>&1 || die "Node.js $NODE_MIN or later is needed (https://nodejs.org, or your system's nodejs package)"
node -e "
  const [want, have] = [process.argv[1], process.versions.node].map((v) => v.split('.').map(Number));
  process.exit(have[0] > want[0] || (have[0] === want[0] && have[1] >= want[1]) ? 0 : 1);
" "$NODE_MIN" || die "Node.js $NODE_MIN or later is needed; this is $(node --version)"

installed() { # package name -> 0 when dpkg has it installed
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}
has_candidate() { # package name -> 0 when apt can install it
  local candidate
  candidate=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }')
  [ -n "$candidate" ] && [ "$candidate" != "(none)" ]
}

missing=()      # entries of PACKAGES not present
for entry in "${PACKAGES[@]}"; do
  read -r alternatives program _ <<<"$entry"
  present=false
  if command -v dpkg-query >/dev/null 2>&1; then
    IFS='|' read -ra names <<<"$alternatives"
    for name in "${names[@]}"; do installed "$name" && present=true; done
  else
    command -v "$program" >/dev/null 2>&1 && present=true
  fi
  $present || missing+=("$entry")
done

describe() { # entries -> "program (package: use)" lines
  for entry in "$@"; do
    read -r alternatives program use <<<"$entry"
    echo "  $program (Debian package ${alternatives%%|*}): $use"
  done
}

if [ ${#missing[@]} -gt 0 ]; then
  if $check_only; then
    say "missing:"; describe "${missing[@]}"; exit 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: this system has no apt-get; install these with its package manager, then run scripts/setup.sh again:" >&2
    describe "${missing[@]}" >&2
    exit 1
  fi
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup: not root and no sudo; as root, run apt-get install for:" >&2; describe "${missing[@]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  say "updating the package lists (apt-get update)"
  "${sudo[@]}" apt-get update -q >/dev/null
  to_install=()
  for entry in "${missing[@]}"; do
    read -r alternatives program _ <<<"$entry"
    IFS='|' read -ra names <<<"$alternatives"
    chosen=""
    for name in "${names[@]}"; do has_candidate "$name" && { chosen=$name; break; }; done
    [ -n "$chosen" ] || die "no package provides $program here (tried ${alternatives//|/, }); install it by hand"
    to_install+=("$chosen")
  done
  say "installing ${to_install[*]} (apt-get install; chromium takes a minute)"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${to_install[@]}" >/tmp/imagesys-setup-apt.log 2>&1 \
    || { tail -20 /tmp/imagesys-setup-apt.log >&2; die "apt-get install failed (whole log: /tmp/imagesys-setup-apt.log)"; }
elif $check_only; then
  say "every system package is installed"; exit 0
fi

say "installing npm packages (npm ci)"
npm ci --no-audit --no-fund --loglevel=error
say "building (tsc into dist/)"
npm run --silent build
say "ready: ${#PACKAGES[@]} system packages present (${#missing[@]} installed now), npm packages installed, built"
