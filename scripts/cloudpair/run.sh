#!/usr/bin/env bash
# Starts two outpost-cloud instances on one PostgreSQL for trying the
# many-instance setup on one machine (docs/postgres.md):
#   - a private PostgreSQL cluster in a temporary directory (Unix socket
#     only; run as the postgres user when this script runs as root),
#   - instances A on 127.0.0.1:8001 and B on 127.0.0.1:8002,
#   - HAProxy on 127.0.0.1:8000 in front of both when haproxy is installed.
# Ctrl-C stops everything and removes the directory.
#   scripts/cloudpair/run.sh            # Admin: admin@outpost.local / cloudpair-password
set -euo pipefail
cd "$(dirname "$0")/../.."

bin=""
for d in "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")" /usr/lib/postgresql/*/bin; do
  if [ -x "$d/initdb" ] && [ -x "$d/postgres" ]; then bin=$d; break; fi
done
[ -n "$bin" ] || { echo "cloudpair: PostgreSQL not found (Debian: apt-get install postgresql)" >&2; exit 1; }

dir=$(mktemp -d /tmp/cloudpair.XXXXXX)
chmod 755 "$dir"
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$dir"
  as_pg=(runuser -u postgres --)
fi
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

"${as_pg[@]}" "$bin/initdb" -D "$dir/pg" -U postgres --auth=trust --no-sync -E UTF8 --locale=C >/dev/null
"${as_pg[@]}" "$bin/postgres" -D "$dir/pg" -c listen_addresses= -c unix_socket_directories="$dir" -p 5432 \
  >"$dir/postgres.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -S "$dir/.s.PGSQL.5432" ] && break; sleep 0.1; done
dsn="host=$dir port=5432 user=postgres dbname=postgres sslmode=disable"

go build -o "$dir/outpost-cloud" ./cloud/cmd/outpost-cloud
for i in a:8001 b:8002; do
  name=${i%%:*} port=${i##*:}
  mkdir -p "$dir/$name"
  cat >"$dir/cloud-$name.yaml" <<YAML
version: 1
data_dir: $dir/$name
listen: 127.0.0.1:$port
public_url: http://127.0.0.1:8000
trusted_proxies: [127.0.0.1]
store:
  driver: postgres
  dsn: "$dsn"
YAML
done
# A first: it creates the schema and the root Admin; B finds both.
OUTPOST_ADMIN_PASSWORD=cloudpair-password "$dir/outpost-cloud" -config "$dir/cloud-a.yaml" &
pids+=($!)
until curl -fsS http://127.0.0.1:8001/readyz >/dev/null 2>&1; do sleep 0.2; done
"$dir/outpost-cloud" -config "$dir/cloud-b.yaml" &
pids+=($!)
until curl -fsS http://127.0.0.1:8002/readyz >/dev/null 2>&1; do sleep 0.2; done

if command -v haproxy >/dev/null; then
  cat >"$dir/haproxy.cfg" <<CFG
defaults
    mode http
    timeout connect 5s
    timeout client 10m
    timeout server 10m
    timeout tunnel 1h
frontend outpost
    bind 127.0.0.1:8000
    default_backend clouds
backend clouds
    balance leastconn
    option httpchk GET /healthz
    server a 127.0.0.1:8001 check
    server b 127.0.0.1:8002 check
CFG
  haproxy -f "$dir/haproxy.cfg" &
  pids+=($!)
  echo "cloudpair: console and API at http://127.0.0.1:8000 (HAProxy), instances at :8001 and :8002"
else
  echo "cloudpair: instances at http://127.0.0.1:8001 and :8002 (install haproxy for a balancer on :8000)"
fi
echo "cloudpair: Admin admin@outpost.local / cloudpair-password; PostgreSQL: psql \"$dsn\"; Ctrl-C stops"
wait
