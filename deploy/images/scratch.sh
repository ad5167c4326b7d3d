# Shared by the FROM-scratch image recipes (oriel/, postgres/, nginx/):
# sourced, not run.

# copy_linked ROOT FILE...: copies the loader and every shared library the
# FILEs link (ldd) into ROOT, at their own paths.
copy_linked() {
  root=$1
  shift
  for f in "$@"; do ldd "$f"; done | awk '/=> \// { print $3 } /^[ \t]*\// { print $1 }' | sort -u | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

# start_scratch_image REPO FILE...: sets $tag to REPO:<first 16 hex digits of
# the SHA-256 of the FILEs, the calling recipe and this file>; when that
# image exists, prints the tag and exits (nothing to build); otherwise sets
# $ctx to a fresh build context, removed when the recipe exits.
start_scratch_image() {
  repo=$1
  shift
  hash=$(cat "$@" "$0" "$(dirname "$0")/../scratch.sh" | sha256sum | cut -c1-16)
  tag="$repo:$hash"
  if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "$tag"
    exit 0
  fi
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' EXIT
}

# build_scratch_image CTX TAG LATEST: builds CTX (its Dockerfile) as TAG,
# tags it LATEST too, prints TAG; the build's output only when it fails.
build_scratch_image() {
  if ! out=$(DOCKER_BUILDKIT=0 docker build --quiet --tag "$2" "$1" 2>&1); then
    echo "$out" >&2
    exit 1
  fi
  docker tag "$2" "$3"
  echo "$2"
}
