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
