#!/usr/bin/env bash
# Builds `oriel/host`: a Debian machine with systemd as PID 1 and Debian's
# PostgreSQL, as a container image (debootstrap minbase, `docker import`).
# It stands in for a single server in the RA1 test (oriel/tests/ra1.rs):
# the test copies the `oriel` binary, deploy/systemd/oriel.service and a
# configuration in, then uses systemctl and journalctl as an operator would.
# Nothing of Oriel is in the image.
#
#   deploy/images/host/build.sh [--suite bookworm] [--mirror URL]
#
# Run it with: docker run -d --privileged --cgroupns=host
#   -v /sys/fs/cgroup:/sys/fs/cgroup --tmpfs /run --tmpfs /run/lock IMAGE
#
# Tags `oriel/host:<recipe hash>` and `oriel/host:latest`, prints the first
# as its last line; builds nothing when that tag exists. Shares the .deb
# cache and lock of deploy/images/desktop/build.sh (ORIEL_IMAGE_CACHE).
# Needs root (debootstrap) and docker.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
suite=""
mirror=""
while [ $# -gt 0 ]; do
  case $1 in
    --suite) suite=${2:?--suite needs a value}; shift 2 ;;
    --suite=*) suite=${1#*=}; shift ;;
    --mirror) mirror=${2:?--mirror needs a value}; shift 2 ;;
    --mirror=*) mirror=${1#*=}; shift ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 64 ;;
  esac
done
die() {
  echo "build.sh: $*" >&2
  exit 1
}

# systemd as init, journalctl, PostgreSQL (the RA1 variant that uses it),
# and what the operator's commands in the test need (no shell tools more).
packages=(systemd systemd-sysv dbus postgresql ca-certificates procps iproute2)

if [ -z "$suite" ]; then
  suite=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
  suite=${suite:-bookworm}
fi
if [ -z "$mirror" ]; then
  mirror=$({ cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null || true; } | awk '
    /^URIs:/ && $2 !~ /security/ { print $2; exit }
    /^deb / && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }')
  mirror=${mirror:-http://deb.debian.org/debian}
fi
for tool in docker flock sha256sum; do
  command -v "$tool" >/dev/null || die "$tool is missing"
done

repo=${ORIEL_HOST_IMAGE_REPO:-oriel/host}
hash=$( { sha256sum "$here/build.sh" | cut -d' ' -f1; echo "suite=$suite"; } | sha256sum | cut -c1-16)
tag="$repo:$hash"
cache=${ORIEL_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/oriel-images}
mkdir -p "$cache/debs-$suite"
exec 9>"$cache/build.lock"
flock 9
if docker image inspect "$tag" >/dev/null 2>&1; then
  docker tag "$tag" "$repo:latest"
  echo "$tag"
  exit 0
fi

PATH=$PATH:/usr/sbin:/sbin
command -v debootstrap >/dev/null || die "debootstrap is missing (Debian: apt-get install debootstrap)"
[ "$(id -u)" = 0 ] || die "debootstrap needs root: run build.sh as root"
work=$(mktemp -d "${TMPDIR:-/var/tmp}/oriel-host.XXXXXX")
root="$work/root"
cleanup() {
  for m in proc sys dev/pts dev; do
    mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m" || true
  done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

include=$(IFS=,; echo "${packages[*]}")
log="$work/debootstrap.log"
debootstrap --variant=minbase --include="$include" --cache-dir="$cache/debs-$suite" \
  "$suite" "$root" "$mirror" >"$log" 2>&1 || { tail -n 30 "$log" >&2; die "debootstrap failed"; }
if [ -n "$(chroot "$root" dpkg --audit 2>&1)" ]; then
  chroot "$root" dpkg --audit >&2 || true
  die "some packages are not configured"
fi
[ -x "$root/lib/systemd/systemd" ] || die "systemd is missing from the image"
ls "$root"/usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || die "PostgreSQL is missing from the image"

# A container has no consoles, no hardware clock, no udev to settle: mask
# what would only fail or wait. PostgreSQL is installed with its cluster but
# left off until a test enables it.
for unit in getty@tty1.service console-getty.service systemd-udevd.service \
  systemd-udev-trigger.service systemd-udev-settle.service systemd-hwdb-update.service \
  systemd-remount-fs.service systemd-firstboot.service sys-kernel-debug.mount \
  sys-kernel-tracing.mount dev-hugepages.mount systemd-timesyncd.service; do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
chroot "$root" systemctl disable postgresql.service >/dev/null 2>&1 || true
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/var/cache/apt/* \
  "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/debootstrap
: >"$root/etc/machine-id"
: >"$root/etc/resolv.conf"
echo ra1 >"$root/etc/hostname"

tar --numeric-owner --xattrs --one-file-system -C "$root" -c . |
  docker import \
    --change 'ENV container=docker' \
    --change 'ENTRYPOINT ["/lib/systemd/systemd"]' \
    --change "LABEL org.opencontainers.image.title=oriel-host" \
    --message "a Debian host with systemd ($suite) for Oriel's RA1 test" \
    - "$tag" >/dev/null
docker tag "$tag" "$repo:latest"
echo "$tag"
