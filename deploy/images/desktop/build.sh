#!/usr/bin/env bash
# Builds Oriel's desktop workspace image from Debian packages, without any
# container registry: debootstrap (minbase) + the packages in ./packages + a
# browser + ./entrypoint, imported with `docker import`.
#
#   deploy/images/desktop/build.sh [--browser firefox-esr|chromium|none]
#                                  [--suite bookworm] [--mirror URL] [--quiet]
#
# Tags `oriel/desktop:<recipe hash>` and `oriel/desktop:latest` (other
# browsers: `latest-none`, `latest-chromium`) and prints the first tag as its
# last line of output. The recipe hash covers this script, the
# entrypoint, the package list, the browser and the suite: when an image with
# that tag exists, nothing is built. Parallel runs wait for each other (flock).
#
# Environment: ORIEL_IMAGE_CACHE (default ~/.cache/oriel-images) keeps
# downloaded .deb files between builds; ORIEL_IMAGE_REPO (default
# oriel/desktop) names the image. Needs root (debootstrap), docker, flock.
# See deploy/images/README.md for the contract the image fulfils.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
browser=firefox-esr
suite=""
mirror=""
quiet=0
while [ $# -gt 0 ]; do
  case $1 in
    --browser) browser=${2:?--browser needs a value}; shift 2 ;;
    --browser=*) browser=${1#*=}; shift ;;
    --suite) suite=${2:?--suite needs a value}; shift 2 ;;
    --suite=*) suite=${1#*=}; shift ;;
    --mirror) mirror=${2:?--mirror needs a value}; shift 2 ;;
    --mirror=*) mirror=${1#*=}; shift ;;
    --quiet) quiet=1; shift ;;
    -h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
  esac
done
case $browser in
  firefox-esr | chromium | none) ;;
  *) echo "build.sh: --browser must be firefox-esr, chromium or none" >&2; exit 64 ;;
esac

started=$(date +%s)
step_no=0
steps=8 # the step lines below
step() {
  step_no=$((step_no + 1))
  printf '==> [%d/%d] %s (%ds)\n' "$step_no" "$steps" "$*" "$(($(date +%s) - started))" >&2
}
die() {
  echo "build.sh: $*" >&2
  exit 1
}

# The same Debian release and mirror as this machine's apt, unless told.
apt_sources() {
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true
}
if [ -z "$suite" ]; then
  suite=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
  suite=${suite:-bookworm}
fi
if [ -z "$mirror" ]; then
  mirror=$(apt_sources | awk '
    /^URIs:/ && $2 !~ /security/ { print $2; exit }
    /^deb / && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }')
  mirror=${mirror:-http://deb.debian.org/debian}
fi

step "checking tools"
for tool in docker flock sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is missing"
done
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "the Docker engine does not answer (docker version)"

repo=${ORIEL_IMAGE_REPO:-oriel/desktop}
mapfile -t packages < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$here/packages")
# debootstrap resolves dependencies but not virtual packages: name a provider.
case $browser in
  firefox-esr) packages+=(firefox-esr dbus-x11) ;; # dconf-service needs a dbus-session-bus
  chromium) packages+=(chromium dbus-x11) ;;
esac
hash=$(
  {
    sha256sum "$here/build.sh" "$here/entrypoint" "$here/packages" | cut -d' ' -f1
    echo "suite=$suite browser=$browser"
  } | sha256sum | cut -c1-16
)
tag="$repo:$hash"
# `latest` is the default variant's; the others have their own.
if [ "$browser" = firefox-esr ]; then latest="$repo:latest"; else latest="$repo:latest-$browser"; fi

cache=${ORIEL_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/oriel-images}
mkdir -p "$cache/debs-$suite"
exec 9>"$cache/build.lock"
flock 9

if docker image inspect "$tag" >/dev/null 2>&1; then
  docker tag "$tag" "$latest"
  echo "build.sh: $tag is up to date (recipe unchanged)" >&2
  echo "$tag"
  exit 0
fi

PATH=$PATH:/usr/sbin:/sbin
for tool in debootstrap chroot tar; do
  command -v "$tool" >/dev/null || die "$tool is missing (Debian: apt-get install debootstrap)"
done
[ "$(id -u)" = 0 ] || die "debootstrap needs root: run build.sh as root"

work=$(mktemp -d "${TMPDIR:-/var/tmp}/oriel-desktop.XXXXXX")
root="$work/root"
cleanup() {
  # debootstrap unmounts what it mounted; be sure nothing is left before rm.
  for m in proc sys dev/pts dev; do
    mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m" || true
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

step "debootstrap $suite (minbase) from $mirror with ${#packages[@]} packages: ${packages[*]}"
include=$(IFS=,; echo "${packages[*]}")
log="$work/debootstrap.log"
if [ "$quiet" = 1 ]; then
  debootstrap --variant=minbase --include="$include" --cache-dir="$cache/debs-$suite" \
    "$suite" "$root" "$mirror" >"$log" 2>&1 || { tail -n 30 "$log" >&2; die "debootstrap failed"; }
else
  # One line per package group, not the full chatter.
  debootstrap --variant=minbase --include="$include" --cache-dir="$cache/debs-$suite" \
    "$suite" "$root" "$mirror" 2>&1 | tee "$log" |
    awk '
      /^I: (Retrieving Release|Resolving|Checking|Installing|Unpacking the|Configuring the|Base system)|^E:|^W:/ { print "    " $0; fflush(); next }
      /^I: (Retrieving|Unpacking|Configuring) [^ ]+/ {
        n[$2]++
        if (n[$2] % 50 == 0) { printf "    %s %d packages (%s)\n", tolower($2), n[$2], $3; fflush() }
      }' >&2 || true
  grep -q '^I: Base system installed successfully' "$log" || { tail -n 30 "$log" >&2; die "debootstrap failed"; }
fi

step "checking the packages"
if grep -q '^W: Failure while configuring' "$log" || [ -n "$(chroot "$root" dpkg --audit 2>&1)" ]; then
  chroot "$root" dpkg --audit >&2 || true
  die "some packages are not configured (a virtual dependency without a provider in ./packages?)"
fi
for binary in Xtigervnc vncpasswd xterm openbox tini; do
  chroot "$root" sh -c "command -v $binary" >/dev/null || die "$binary is missing from the image"
done
case $browser in
  firefox-esr) chroot "$root" sh -c 'command -v firefox-esr' >/dev/null || die "firefox-esr is missing" ;;
  chromium) chroot "$root" sh -c 'command -v chromium' >/dev/null || die "chromium is missing" ;;
esac

step "creating the user oriel (1000:1000) and installing the entrypoint"
chroot "$root" groupadd --gid 1000 oriel
chroot "$root" useradd --uid 1000 --gid 1000 --home-dir /home/oriel --create-home --shell /bin/bash oriel
chmod 0700 "$root/home/oriel"
install -m 0755 "$here/entrypoint" "$root/usr/local/bin/oriel-desktop"
chmod 1777 "$root/tmp"
# Nothing in a workspace may gain privileges: no setuid or setgid files
# (no-new-privileges makes them inert anyway; this is the second lock).
find "$root" -xdev -type f -perm /6000 -exec chmod ug-s {} +
# The default browser in openbox's menu and for xdg-open.
if [ "$browser" != none ]; then
  ln -sf "/usr/bin/$browser" "$root/usr/local/bin/x-www-browser"
fi

step "removing documentation, caches and logs"
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
  "$root"/usr/share/lintian "$root"/usr/share/linda \
  "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/var/cache/debconf/*-old \
  "$root"/var/log/* "$root"/var/lib/dpkg/*-old "$root"/debootstrap "$root"/tmp/* "$root"/root/.bash_history
find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name 'locale.alias' ! -name 'C.UTF-8' ! -name 'en*' -exec rm -rf {} + 2>/dev/null || true
: >"$root/etc/machine-id"
: >"$root/etc/resolv.conf"
echo oriel >"$root/etc/hostname"

step "importing into docker as $tag"
size=$(du -sm --one-file-system "$root" | cut -f1)
created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
tar --numeric-owner --xattrs --one-file-system -C "$root" -c . |
  docker import \
    --change 'USER 1000:1000' \
    --change 'WORKDIR /home/oriel' \
    --change 'ENV HOME=/home/oriel LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'EXPOSE 5900/tcp' \
    --change 'ENTRYPOINT ["/usr/bin/tini", "-g", "--", "/usr/local/bin/oriel-desktop"]' \
    --change "LABEL org.opencontainers.image.title=oriel-desktop" \
    --change "LABEL org.opencontainers.image.created=$created" \
    --change "LABEL dev.oriel.workspace.contract=1" \
    --change "LABEL dev.oriel.workspace.recipe=$hash" \
    --change "LABEL dev.oriel.workspace.suite=$suite" \
    --change "LABEL dev.oriel.workspace.browser=$browser" \
    --change "LABEL dev.oriel.workspace.vnc-port=5900" \
    --message "oriel desktop workspace ($suite, browser $browser)" \
    - "$tag" >/dev/null

step "tagging $latest"
docker tag "$tag" "$latest"

# Older recipes of the same variant are garbage now; keep any a container uses.
for old in $(docker image ls --filter "label=dev.oriel.workspace.browser=$browser" \
  --filter "label=dev.oriel.workspace.suite=$suite" --format '{{.Repository}}:{{.Tag}}' "$repo"); do
  case $old in "$tag" | "$latest" | *"<none>"*) continue ;; esac
  docker image rm "$old" >/dev/null 2>&1 && echo "    removed the older recipe $old" >&2 || true
done

step "done: ${size} MiB root filesystem in $(($(date +%s) - started)) s"
echo "$tag"
