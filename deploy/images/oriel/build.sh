#!/bin/sh
# Builds the `oriel/oriel` image: FROM scratch, the given `oriel` binary
# (stripped) and the shared libraries it links (ldd), and this machine's
# iptables for an agent's firewall rules; nothing else — no shell, no
# package manager. Runs as root in the container unless the
# deployment says otherwise; the data directory is /data.
#
#   deploy/images/oriel/build.sh [path/to/oriel]     (default: target/release/oriel)
#
# Prints the image reference as its last line: oriel/oriel:<first 16 hex
# digits of the SHA-256 of the binary and this recipe>. Builds nothing when
# that tag exists.
set -eu
. "$(dirname "$0")/../scratch.sh"

bin=${1:-target/release/oriel}
[ -x "$bin" ] || { echo "build.sh: no executable at $bin (cargo build --release -p oriel)" >&2; exit 64; }
command -v docker >/dev/null || { echo "build.sh: docker is needed" >&2; exit 69; }

start_scratch_image oriel/oriel "$bin"
mkdir -p "$ctx/root/tmp" "$ctx/root/data" "$ctx/root/etc"
strip -o "$ctx/root/oriel" "$bin"
# The loader and every library the binary links, at their own paths.
copy_linked "$ctx/root" "$bin"
# iptables (the host's nf_tables build), for `oriel agent` in a container on
# the host's network: its firewall rules isolate session bridges (the
# agent's host_firewall). The extensions are loaded at run time (dlopen),
# so the whole xtables folder comes along.
ipt=$(PATH=$PATH:/usr/sbin:/sbin command -v iptables || true)
if [ -n "$ipt" ]; then
  multi=$(readlink -f "$ipt")
  mkdir -p "$ctx/root/usr/sbin" "$ctx/root/run"
  cp "$multi" "$ctx/root/usr/sbin/"
  ln -s "$(basename "$multi")" "$ctx/root/usr/sbin/iptables"
  ext=$(readlink -f "$(dirname "$(ldd "$multi" | awk '/libxtables/ { print $3 }')")/xtables")
  mkdir -p "$ctx/root$ext"
  cp -L "$ext"/*.so "$ctx/root$ext/"
  copy_linked "$ctx/root" "$multi" "$ext"/*.so
else
  echo "build.sh: no iptables on this machine: an agent in this image needs agent.host_firewall = false" >&2
fi
echo "root:x:0:0:root:/data:/oriel" > "$ctx/root/etc/passwd"
echo "oriel" > "$ctx/root/etc/hostname"
cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY root/ /
ENV ORIEL_GENERAL__DATA_DIR=/data ORIEL_HTTP__LISTEN=0.0.0.0:8443
VOLUME /data
ENTRYPOINT ["/oriel"]
DOCKERFILE
chmod 1777 "$ctx/root/tmp"
build_scratch_image "$ctx" "$tag" oriel/oriel:latest
