#!/bin/sh
# Builds the `oriel/nginx` image for the multi-server topologies
# (deploy/compose): FROM scratch, this machine's nginx (Debian's nginx-light
# with libnginx-mod-stream) and the libraries it links. The configuration
# comes from the deployment (mounted at /etc/nginx/nginx.conf); the image
# only adds the stream module's `load_module` line in /etc/nginx/modules.conf
# for it to include.
#
#   deploy/images/nginx/build.sh
#
# Prints the image reference as its last line: oriel/nginx:<hash>.
set -eu
. "$(dirname "$0")/../scratch.sh"

nginx=$(command -v nginx) || { echo "build.sh: nginx is needed (apt-get install nginx-light libnginx-mod-stream)" >&2; exit 69; }
module=/usr/lib/nginx/modules/ngx_stream_module.so
[ -f "$module" ] || { echo "build.sh: the stream module is needed (apt-get install libnginx-mod-stream)" >&2; exit 69; }

start_scratch_image oriel/nginx "$nginx" "$module"
root=$ctx/root
mkdir -p "$root/usr/sbin" "$root/usr/lib/nginx/modules" "$root/etc/nginx" "$root/var/lib/nginx" "$root/var/log/nginx" "$root/run" "$root/tmp"
cp "$nginx" "$root/usr/sbin/nginx"
cp "$module" "$root/usr/lib/nginx/modules/"
copy_linked "$root" "$nginx" "$module"
echo "load_module $module;" > "$root/etc/nginx/modules.conf"
cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/:/usr/sbin/nginx
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nginx
PASSWD
echo "nogroup:x:65534:" > "$root/etc/group"
chmod 1777 "$root/tmp"
cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY root/ /
ENTRYPOINT ["/usr/sbin/nginx", "-g", "daemon off;"]
DOCKERFILE
build_scratch_image "$ctx" "$tag" oriel/nginx:latest
