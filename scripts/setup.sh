#!/usr/bin/env bash
# Sets ImageSys up on this machine: the system packages that the product, its tests and its benchmarks
# use, then its npm packages and the build. This file owns the list of system packages: the README's
# first command and .ci/run both run it, so a new user and CI install the same things.
#
#   scripts/setup.sh           install what is missing (apt-get; sudo when not root), npm ci, build
#   scripts/setup.sh --check   only say what is missing (exit 1 when something is)
set -euo pipefail
cd "$(dirname "$0")/.."

# One line per need: required (the product needs it) or optional (tests and benchmarks: without
# it, what needs it is reported as skipped, and fails under CI=true); the Debian package(s) ('|'
# separates alternatives, the first with a real install candidate is taken); the program it brings;
# what uses it.
PACKAGES=(
  "required rsync            rsync          the sweeper (sync to n1-n3), the demo and their tests"
  "optional tinyproxy        tinyproxy      the proxy test's real HTTP proxy"
  "optional chromium|chromium-browser chromium the status page's browser tests"
  "optional libvips-tools    vipsthumbnail  npm run bench (the vipsthumbnail column)"
  "optional imagemagick      convert        npm run bench (the ImageMagick column)"
  "optional faketime         faketime       the skewed-clock tests (engines under libfaketime, test/skew.test.ts)"
  "optional prometheus       promtool       the shipped alert rules, checked and unit-tested (test/alerts.test.ts)"
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
command -v npm >/dev/null 2>&1 || die "npm is needed beside Node.js (Debian: apt-get install npm)"

installed() { # package name -> 0 when dpkg has it installed
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}
has_candidate() { # package name -> 0 when apt can install a real package (not Ubuntu's snap stand-in)
  local candidate
  candidate=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }')
  [ -n "$candidate" ] && [ "$candidate" != "(none)" ] && [[ "$candidate" != *snap* ]]
}
present() { # entry -> 0 when its program is there
  local alternatives=$1 program=$2 names name
  if [ "$program" = chromium ] && [ -n "${CHROMIUM_PATH:-}" ] && [ -x "$CHROMIUM_PATH" ]; then return 0; fi
  if command -v dpkg-query >/dev/null 2>&1; then
    IFS='|' read -ra names <<<"$alternatives"
    for name in "${names[@]}"; do installed "$name" && return 0; done
    return 1
  fi
  command -v "$program" >/dev/null 2>&1
}

missing=()      # entries of PACKAGES not present
for entry in "${PACKAGES[@]}"; do
  read -r _ alternatives program _ <<<"$entry"
  present "$alternatives" "$program" || missing+=("$entry")
done
required_missing() { # 0 when a required entry is among the arguments
  local entry
  for entry in "$@"; do [[ "$entry" == required* ]] && return 0; done
  return 1
}
describe() { # entries -> "program (package): use" lines
  local entry need alternatives program use
  for entry in "$@"; do
    read -r need alternatives program use <<<"$entry"
    echo "  $program (Debian package ${alternatives%%|*}, $need): $use"
  done
}
# Without a way to install: a missing required program stops here, optional ones are warned about.
cannot_install() { # message -> exits or returns
  echo "setup: $1" >&2
  describe "${missing[@]}" >&2
  if required_missing "${missing[@]}"; then exit 1; fi
  echo "setup: going on without the optional ones: what needs them is reported as skipped (and fails under CI=true)" >&2
  not_installed=("${missing[@]}")
  missing=()
}

not_installed=()  # optional entries left out
installed_now=0
if [ ${#missing[@]} -gt 0 ] && $check_only; then
  say "missing:"; describe "${missing[@]}"; exit 1
fi
if [ ${#missing[@]} -gt 0 ] && ! command -v apt-get >/dev/null 2>&1; then
  cannot_install "this system has no apt-get; install these with its package manager, then run scripts/setup.sh again:"
fi
sudo=()
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else cannot_install "not root and no sudo; as root, run apt-get install for:"; fi
fi
if [ ${#missing[@]} -gt 0 ]; then
  say "updating the package lists (apt-get update)"
  "${sudo[@]}" apt-get update -q >/dev/null
  to_install=()
  for entry in "${missing[@]}"; do
    read -r need alternatives program _ <<<"$entry"
    IFS='|' read -ra names <<<"$alternatives"
    chosen=""
    for name in "${names[@]}"; do has_candidate "$name" && { chosen=$name; break; }; done
    if [ -n "$chosen" ]; then to_install+=("$chosen"); continue; fi
    [ "$need" = required ] && die "no package provides $program here (tried ${alternatives//|/, }); install it by hand"
    echo "setup: no package provides $program here (tried ${alternatives//|/, }); going on without it" >&2
    not_installed+=("$entry")
  done
  if [ ${#to_install[@]} -gt 0 ]; then
    say "installing ${to_install[*]} (apt-get install; chromium takes a minute)"
    log=$(mktemp -t imagesys-setup-apt.XXXXXX)
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${to_install[@]}" >"$log" 2>&1 \
      || { tail -20 "$log" >&2; die "apt-get install failed (whole log: $log)"; }
    rm -f "$log"
    installed_now=${#to_install[@]}
  fi
elif $check_only; then
  say "every system package is installed"; exit 0
fi

say "installing npm packages (npm ci)"
npm ci --no-audit --no-fund --loglevel=error
say "building (tsc into dist/)"
npm run --silent build
without=""
[ ${#not_installed[@]} -eq 0 ] || without="; without $(for e in "${not_installed[@]}"; do read -r _ _ program _ <<<"$e"; printf '%s ' "$program"; done)"
say "ready: $(( ${#PACKAGES[@]} - ${#not_installed[@]} )) of ${#PACKAGES[@]} system packages present ($installed_now installed now)${without% }, npm packages installed, built"
