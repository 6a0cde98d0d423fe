# Sourced by scripts/test.sh. Makes sure the servers the tests talk to are there, starting what is
# missing (as root, from Debian's packages and PyPI), and exports where they are:
#   DATABASE_URL (Postgres, database cc_export_test), AMQP_URL (RabbitMQ), S3_ENDPOINT_URL
#   (moto's S3 server on a free loopback port, stopped when the caller exits) and AWS_* for it.
# Anything that cannot be had fails loudly: tests never skip a missing service.

port_open() { (exec 3<>"/dev/tcp/$1/$2") >/dev/null 2>&1; }
wait_port() { # host port seconds what
  for _ in $(seq "$(( $3 * 5 ))"); do port_open "$1" "$2" && return 0; sleep 0.2; done
  echo "services: $4 is not listening on $1:$2 after $3 s" >&2; return 1
}
as_root() { [ "$(id -u)" = 0 ] || { echo "services: $1 is missing and this is not root: start it, then rerun" >&2; return 1; }; }
apt_install() { as_root "$1" && { apt-get update -qq >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }; }

# --- Postgres (trust auth on 127.0.0.1, as CI machines have it)
if ! port_open 127.0.0.1 5432; then
  command -v pg_ctlcluster >/dev/null || apt_install postgresql postgresql
  as_root postgresql && pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  wait_port 127.0.0.1 5432 30 postgres
fi
export PGHOST=127.0.0.1 PGPORT=5432 PGUSER="${PGUSER:-postgres}"
if ! psql -d postgres -Atqc "select 1" >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  # A fresh Debian install asks for a password on TCP: allow the local test user in.
  conf=$(su postgres -c "psql -Atqc 'show hba_file'")
  sed -i '1i host all all 127.0.0.1/32 trust' "$conf"; su postgres -c "psql -qc 'select pg_reload_conf()'" >/dev/null
fi
psql -d postgres -Atqc "select 1 from pg_database where datname = 'cc_export_test'" | grep -q 1 \
  || psql -d postgres -qc "create database cc_export_test"
export DATABASE_URL="${TEST_DATABASE_URL:-postgres://$PGUSER@127.0.0.1:5432/cc_export_test}"

# --- RabbitMQ
if ! port_open 127.0.0.1 5672; then
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server rabbitmq-server
  as_root rabbitmq && rabbitmq-server -detached
  wait_port 127.0.0.1 5672 90 rabbitmq
fi
export AMQP_URL="${TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2f}"

# --- S3: moto's server (MinIO is archived)
python3 -c "import moto.server, flask" 2>/dev/null || python3 -m pip install -q 'moto[server]>=5,<6'
moto_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
moto_log=$(mktemp)
python3 -m moto.server -H 127.0.0.1 -p "$moto_port" >"$moto_log" 2>&1 &
MOTO_PID=$!
stop_moto() { kill "$MOTO_PID" 2>/dev/null; wait "$MOTO_PID" 2>/dev/null; rm -f "$moto_log"; }
wait_port 127.0.0.1 "$moto_port" 30 "moto (log: $(cat "$moto_log"))"
export S3_ENDPOINT_URL="http://127.0.0.1:$moto_port" S3_FORCE_PATH_STYLE=true
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
echo "services: postgres $DATABASE_URL, rabbitmq 127.0.0.1:5672, s3 (moto) $S3_ENDPOINT_URL"
