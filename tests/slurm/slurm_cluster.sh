#!/usr/bin/env bash
# Starts a real two-node Slurm on this machine from scratch in a temporary
# directory, runs the given command against it, and stops everything it
# started (also when the command fails or the script is interrupted).
#
#   tests/slurm/slurm_cluster.sh COMMAND [ARGS...]
#
# What runs (ports from 17000 up, overridable with KILN_SLURM_PORT_BASE):
#   munged      its own key and socket in the temp dir (AuthInfo=socket=...)
#   slurmctld   port BASE
#   slurmd      node1 (port BASE+1) and node2 (BASE+2), 4 emulated H100 each
#               (GRES backed by mknod character devices); node3 is defined
#               without GPUs (partition `cpu`) and never started
#   slurmrestd  127.0.0.1:BASE+3, JWT auth, as `nobody`
# The command sees KILN_SLURM_URL, KILN_SLURM_USER, SLURM_JWT, SLURM_CONF,
# KILN_SLURM_SHARED (a directory every node and the job user can write) and
# KILN_SLURM_RESTD ("$KILN_SLURM_RESTD stop|start" stops or restarts
# slurmrestd, for fault tests).
set -euo pipefail

base=${KILN_SLURM_PORT_BASE:-17000}
user=${KILN_SLURM_TEST_USER:-nobody}
for tool in munged slurmctld slurmd slurmrestd scontrol sinfo; do
  command -v "$tool" >/dev/null || { echo "slurm_cluster: $tool is not installed (scripts/setup.sh)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "slurm_cluster: must run as root (slurmd, mknod)" >&2; exit 2; }

D=$(mktemp -d /tmp/kiln-slurm.XXXXXX)
chmod 755 "$D"
pids=()
cleanup() {
  local rc=$?
  set +e
  # Jobs still in the queue (a failed test) would outlive slurmd in their
  # slurmstepd: cancel them while the controller still runs.
  if [ -f "$D/slurm.conf" ] && [ -n "$(SLURM_CONF=$D/slurm.conf squeue -h -o %i 2>/dev/null)" ]; then
    SLURM_CONF=$D/slurm.conf scancel --full $(SLURM_CONF=$D/slurm.conf squeue -h -o %i) 2>/dev/null
    for _ in $(seq 50); do [ -z "$(SLURM_CONF=$D/slurm.conf squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.1; done
  fi
  [ -f "$D/restd.pid" ] && kill "$(cat "$D/restd.pid")" 2>/dev/null
  # The command and slurmrestd first, then the daemons, munged last.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
  # Job processes still running under the test's slurmd are its children's
  # children; slurmstepd ends them when slurmd stops. Leave nothing behind.
  if [ -n "${KILN_SLURM_KEEP:-}" ]; then echo "slurm_cluster: kept $D" >&2; else rm -rf "$D"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$D"/{munge,state,spool/node1,spool/node2,log,shared}
chmod 755 "$D/munge"
chmod 1777 "$D/shared"

# --- munge: its own key and socket
dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$D/munge/munge.key"
munged -F --force --socket="$D/munge/munge.socket" --key-file="$D/munge/munge.key" \
  --pid-file="$D/munge/munged.pid" --log-file="$D/log/munged.log" \
  --seed-file="$D/munge/munged.seed" >"$D/log/munged.out" 2>&1 &
pids+=($!)

# --- fake GPUs: character devices with NVIDIA's major number
for i in 0 1 2 3 4 5 6 7; do mknod "$D/fakegpu$i" c 195 "$i"; done

# --- JWT key
dd if=/dev/urandom of="$D/jwt.key" bs=32 count=1 status=none
chmod 600 "$D/jwt.key"

host=$(hostname)
cat >"$D/slurm.conf" <<CONF
ClusterName=kilntest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$base
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$D/munge/munge.socket
CredType=cred/munge
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$D/jwt.key
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool/%n
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.%n.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.%n.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MpiDefault=none
GresTypes=gpu
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
MinJobAge=600
KillWait=2
InactiveLimit=0
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=node1 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((base + 1)) CPUs=8 RealMemory=8000 Gres=gpu:h100:4 State=UNKNOWN
NodeName=node2 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((base + 2)) CPUs=8 RealMemory=8000 Gres=gpu:h100:4 State=UNKNOWN
NodeName=node3 NodeHostname=$host NodeAddr=127.0.0.1 Port=$((base + 4)) CPUs=8 RealMemory=8000 State=UNKNOWN
PartitionName=gpu Nodes=node1,node2 Default=YES MaxTime=INFINITE State=UP
PartitionName=restricted Nodes=node1,node2 MaxTime=INFINITE State=UP AllowAccounts=ml-research AllowQos=normal
PartitionName=cpu Nodes=node3 MaxTime=INFINITE State=UP
CONF
cat >"$D/gres.conf" <<CONF
NodeName=node1 Name=gpu Type=h100 File=$D/fakegpu[0-3]
NodeName=node2 Name=gpu Type=h100 File=$D/fakegpu[4-7]
CONF
chmod 644 "$D/slurm.conf" "$D/gres.conf"
export SLURM_CONF=$D/slurm.conf

for _ in $(seq 50); do [ -S "$D/munge/munge.socket" ] && break; sleep 0.1; done
[ -S "$D/munge/munge.socket" ] || { echo "slurm_cluster: munged did not start:" >&2; cat "$D/log/munged.log" "$D/log/munged.out" >&2; exit 1; }

slurmctld -D -i -f "$D/slurm.conf" >"$D/log/slurmctld.out" 2>&1 &
pids+=($!)
for n in node1 node2; do
  slurmd -D -N "$n" -f "$D/slurm.conf" >"$D/log/slurmd.$n.out" 2>&1 &
  pids+=($!)
done

dump_logs() {
  for f in "$D"/log/*; do echo "=== $f" >&2; tail -n 30 "$f" >&2; done
}

# Both nodes idle (state strings such as "idle", "idle*" while registering).
ok=""
for _ in $(seq 150); do
  states=$(sinfo -h -p gpu -N -o '%N %t' 2>/dev/null | sort -u || true)
  if [ "$(echo "$states" | grep -c ' idle$' || true)" = 2 ]; then ok=1; break; fi
  sleep 0.2
done
[ -n "$ok" ] || { echo "slurm_cluster: nodes did not become idle: $states" >&2; dump_logs; exit 1; }

# --- slurmrestd as nobody, on loopback
cat >"$D/restd.sh" <<SH
#!/usr/bin/env bash
# stop | start: controls this test cluster's slurmrestd.
case "\$1" in
  stop)
    if [ -f "$D/restd.pid" ]; then
      p=\$(cat "$D/restd.pid"); kill "\$p" 2>/dev/null
      for _ in \$(seq 50); do kill -0 "\$p" 2>/dev/null || break; sleep 0.1; done
      kill -9 "\$p" 2>/dev/null; rm -f "$D/restd.pid"
    fi ;;
  start)
    SLURM_CONF="$D/slurm.conf" SLURM_JWT=daemon setsid slurmrestd -u nobody -g nogroup \
      -a rest_auth/jwt -s openapi/v0.0.38 127.0.0.1:$((base + 3)) >>"$D/log/slurmrestd.out" 2>&1 &
    echo \$! >"$D/restd.pid"
    for _ in \$(seq 100); do
      curl -s -o /dev/null "http://127.0.0.1:$((base + 3))/openapi/v3" && exit 0
      sleep 0.1
    done
    echo "slurmrestd did not start" >&2; tail -n 20 "$D/log/slurmrestd.out" >&2; exit 1 ;;
  *) echo "usage: \$0 stop|start" >&2; exit 2 ;;
esac
SH
chmod 755 "$D/restd.sh"
"$D/restd.sh" start || { dump_logs; exit 1; }

token=$(scontrol token username="$user" lifespan=7200 | sed -n 's/^SLURM_JWT=//p')
[ -n "$token" ] || { echo "slurm_cluster: scontrol token failed" >&2; dump_logs; exit 1; }

export KILN_SLURM_URL="http://127.0.0.1:$((base + 3))"
export KILN_SLURM_USER=$user
export SLURM_JWT=$token
export KILN_SLURM_SHARED=$D/shared
export KILN_SLURM_RESTD=$D/restd.sh
export KILN_SLURM_DIR=$D

# In the background, so that a signal runs the cleanup at once; with a time
# limit (KILN_SLURM_TIMEOUT seconds, below CTest's), so that a hung command
# still ends here and the cluster is torn down.
set +e
timeout -k 10 "${KILN_SLURM_TIMEOUT:-720}" "$@" &
cmd_pid=$!
pids+=("$cmd_pid")
wait "$cmd_pid"
rc=$?
set -e
if [ $rc = 124 ] || [ $rc = 137 ]; then
  echo "slurm_cluster: the command did not finish within ${KILN_SLURM_TIMEOUT:-720}s; stopped it" >&2
fi
if [ $rc != 0 ]; then dump_logs; fi
exit $rc
