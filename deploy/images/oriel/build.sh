#!/bin/sh
# Builds the `oriel/oriel` image: FROM scratch, the given `oriel` binary
# (stripped) and the shared libraries it links (ldd), nothing else — no
# shell, no package manager. Runs as root in the container unless the
# deployment says otherwise; the data directory is /data.
#
#   deploy/images/oriel/build.sh [path/to/oriel]     (default: target/release/oriel)
#
# Prints the image reference as its last line: oriel/oriel:<first 16 hex
# digits of the binary's SHA-256>. Builds nothing when that tag exists.
set -eu
. "$(dirname "$0")/../scratch.sh"

bin=${1:-target/release/oriel}
[ -x "$bin" ] || { echo "build.sh: no executable at $bin (cargo build --release -p oriel)" >&2; exit 64; }
command -v docker >/dev/null || { echo "build.sh: docker is needed" >&2; exit 69; }

hash=$(sha256sum "$bin" | cut -c1-16)
tag="oriel/oriel:$hash"
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "$tag"
  exit 0
fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/root/tmp" "$ctx/root/data" "$ctx/root/etc"
strip -o "$ctx/root/oriel" "$bin"
# The loader and every library the binary links, at their own paths.
copy_linked "$ctx/root" "$bin"
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
