#!/usr/bin/env bash
# Runs a test binary against a real, throwaway PostgreSQL: initdb + postgres
# from Debian's `postgresql` package, as an ordinary user (nobody, when run as
# root as CI does), in a temporary directory, listening only on a Unix socket
# there. Stopped by a trap at the end, also when a test fails.
#
#   tests/postgres/run.sh TEST_BINARY [gtest flags...]
#
# The test binary gets, in its environment:
#   KILN_TEST_PG_CONN      connection string of the superuser `kiln`
#   KILN_TEST_PG_SOCKET    the socket directory
#   KILN_TEST_PG_RESTART   a command that restarts the server (fast shutdown)
#   KILN_TEST_PG_PASSWORD_ROLE  a role `kiln_pw` that needs the password `right-password`
set -euo pipefail
test_bin=$1
shift
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$pgbin" ] || [ ! -x "$pgbin/initdb" ]; then
  echo "postgres tests: no PostgreSQL server binaries (install the Debian package postgresql)" >&2
  exit 1
fi
tmp=$(mktemp -d /tmp/kiln-pg-XXXXXX)
chmod 0755 "$tmp"
as_user=()
if [ "$(id -u)" = 0 ]; then
  # PostgreSQL refuses to run as root.
  chown nobody:nogroup "$tmp"
  as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
fi
data=$tmp/data
sock=$tmp/sock
run() { "${as_user[@]}" "$@"; }
stop() {
  run "$pgbin/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap stop EXIT
run mkdir -p "$sock"
run "$pgbin/initdb" -D "$data" -U kiln --auth=trust --no-sync -E UTF8 >"$tmp/initdb.log" 2>&1 ||
  { cat "$tmp/initdb.log" >&2; exit 1; }
# The password role authenticates with scram; everyone else is trusted
# (the socket directory is the only way in).
run sh -c "printf 'local all kiln_pw scram-sha-256\nlocal all all trust\n' > '$data/pg_hba.conf'"
run "$pgbin/pg_ctl" -D "$data" -l "$tmp/server.log" -w -t 60 \
  -o "-k $sock -c listen_addresses= -c max_connections=50" start >/dev/null ||
  { cat "$tmp/server.log" >&2; exit 1; }
"$pgbin/psql" -h "$sock" -U kiln -d postgres -qAt \
  -c "CREATE ROLE kiln_pw LOGIN PASSWORD 'right-password'" \
  -c "GRANT CREATE ON DATABASE postgres TO kiln_pw" >/dev/null
cat >"$tmp/restart.sh" <<RESTART
#!/bin/sh
exec ${as_user[*]} "$pgbin/pg_ctl" -D "$data" -l "$tmp/server.log" -w -t 60 -m fast restart >/dev/null
RESTART
chmod 0755 "$tmp/restart.sh"
export KILN_TEST_PG_CONN="host=$sock user=kiln dbname=postgres"
export KILN_TEST_PG_SOCKET="$sock"
export KILN_TEST_PG_RESTART="$tmp/restart.sh"
export KILN_TEST_PG_PSQL="$pgbin/psql"
export KILN_TEST_PG_PASSWORD_ROLE=kiln_pw
status=0
"$test_bin" "$@" || status=$?
if [ "$status" != 0 ]; then
  echo "--- server log (last 40 lines) ---" >&2
  tail -n 40 "$tmp/server.log" >&2 || true
fi
exit "$status"
