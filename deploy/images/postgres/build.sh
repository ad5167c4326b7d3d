#!/bin/sh
# Builds the `oriel/postgres` image for the multi-server topologies
# (deploy/compose): FROM scratch, this machine's PostgreSQL server (Debian's
# postgresql package: postgres, initdb and their libraries and share files)
# and busybox (Debian's busybox-static) for the entrypoint. No registry.
#
#   deploy/images/postgres/build.sh
#
# The container initialises /data on first start (user `oriel`, database
# `oriel`, password from ORIEL_PG_PASSWORD, scram-sha-256 from any address)
# and runs the server on port 5432 as the unprivileged user `postgres`.
# Prints the image reference as its last line: oriel/postgres:<hash of the
# server binary and this script>.
set -eu
. "$(dirname "$0")/../scratch.sh"

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$pgbin" ] && [ -x "$pgbin/postgres" ] || { echo "build.sh: no PostgreSQL server (apt-get install postgresql)" >&2; exit 69; }
version=$(basename "$(dirname "$pgbin")")
share=/usr/share/postgresql/$version
busybox=$(command -v busybox) || { echo "build.sh: busybox is needed (apt-get install busybox-static)" >&2; exit 69; }

start_scratch_image oriel/postgres "$pgbin/postgres"
root=$ctx/root
mkdir -p "$root/bin" "$root/tmp" "$root/data" "$root/etc" "$root/run/postgresql" "$root$pgbin" "$(dirname "$root$share")"
cp "$busybox" "$root/bin/busybox"
for app in sh mkdir chown chmod cat echo test su id; do ln -s busybox "$root/bin/$app"; done
for b in postgres initdb pg_ctl; do cp "$pgbin/$b" "$root$pgbin/$b"; done
cp -r "$share" "$root$share"
# Debian's server reads the system's time zone data.
mkdir -p "$root/usr/share"
cp -r /usr/share/zoneinfo "$root/usr/share/zoneinfo"
# Libraries the server and initdb link, and the server's own modules.
libdir=/usr/lib/postgresql/$version/lib
[ -d "$libdir" ] && mkdir -p "$root$libdir" && cp -r "$libdir/." "$root$libdir/"
copy_linked "$root" "$pgbin/postgres" "$pgbin/initdb"
# Locale-independent: C.UTF-8 needs no locale files.
cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/:/bin/sh
postgres:x:70:70:postgres:/data:/bin/sh
PASSWD
echo "postgres:x:70:" > "$root/etc/group"
cat > "$root/entrypoint" <<ENTRY
#!/bin/sh
set -eu
chown postgres:postgres /data /run/postgresql
chmod 700 /data
if ! test -s /data/PG_VERSION; then
  echo "\${ORIEL_PG_PASSWORD:?set ORIEL_PG_PASSWORD}" > /tmp/pw
  chown postgres /tmp/pw
  su postgres -s /bin/sh -c "$pgbin/initdb -D /data -U oriel --pwfile=/tmp/pw --auth=scram-sha-256 -E UTF8 --locale=C" >/dev/null
  echo "host all all 0.0.0.0/0 scram-sha-256" >> /data/pg_hba.conf
  su postgres -s /bin/sh -c "$pgbin/postgres --single -D /data postgres" <<SQL >/dev/null
CREATE DATABASE oriel OWNER oriel;
SQL
  cat /dev/null > /tmp/pw
fi
exec su postgres -s /bin/sh -c "exec $pgbin/postgres -D /data -c listen_addresses='*' -c unix_socket_directories=/run/postgresql"
ENTRY
chmod 755 "$root/entrypoint"
chmod 1777 "$root/tmp"
cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY root/ /
ENV LANG=C.UTF-8 TZ=UTC
VOLUME /data
EXPOSE 5432
ENTRYPOINT ["/entrypoint"]
DOCKERFILE
build_scratch_image "$ctx" "$tag" oriel/postgres:latest
