#!/usr/bin/env bash
# The slurm provider end to end against the real cluster of slurm_cluster.sh
# (which runs this script): apply, GRES, multi-node rendezvous, no-op plans,
# replacement, drift, destroy, the faults of issue 8, and examples/slurm-sweep.
#   slurm_cluster.sh bash integration.sh KILN SOURCE_DIR
set -uo pipefail
kiln=$1
src=$2
W=$(mktemp -d /tmp/kiln-slurm-it.XXXXXX)
trap 'rm -rf "$W"' EXIT
pass=0
failed=()
# No step may hang the suite: every kiln run and every check has a time
# limit; one that runs out fails with a message and the suite goes on (the
# cluster is torn down by slurm_cluster.sh either way).
step_timeout=${KILN_SLURM_STEP_TIMEOUT:-150}
check_timeout=${KILN_SLURM_CHECK_TIMEOUT:-60}
ok() { echo "[       OK ] $1"; pass=$((pass + 1)); }
bad() { echo "[  FAILED  ] $1"; failed+=("$1"); }
# check NAME COMMAND...: passes when the command succeeds within
# $check_timeout seconds (the helpers below are exported for it).
check() {
  local name=$1; shift
  timeout -k 5 "$check_timeout" bash -c '"$@"' check "$@"
  local rc=$?
  if [ $rc = 0 ]; then ok "$name"; return; fi
  [ $rc = 124 ] || [ $rc = 137 ] && echo "--- timed out after ${check_timeout}s: $*"
  bad "$name"
}
contains() { grep -qF -- "$2" "$1" || { echo "--- $1 does not contain: $2"; sed 's/^/    /' "$1" | tail -n 30; return 1; }; }
lacks() { ! grep -rqF -- "$2" "$1" || { echo "--- $1 contains: $2"; return 1; }; }
# Alive Slurm jobs (pending, running, completing) whose comment is for ADDRESS.
alive_jobs() { squeue -h -t PD,R -o '%i %k' | grep -cE " kiln:$1( |\$)" || true; }
queue_empty() {
  for _ in $(seq 50); do [ -z "$(squeue -h -t PD,R -o %i)" ] && return 0; sleep 0.2; done
  squeue; return 1
}
# No file named `script` under DIR (Slurm's saved batch scripts) holds TEXT;
# fails when there is none to look at.
not_in_scripts() {
  local files=()
  mapfile -t files < <(find "$1" -type f -name script)
  ((${#files[@]})) || { echo "--- no job scripts under $1"; return 1; }
  ! grep -lF -- "$2" "${files[@]}"
}
# FILE holds exactly one error (kiln's `error[...]` lines).
one_error() {
  [ "$(grep -c '^error' "$1")" = 1 ] || { echo "--- $1 has $(grep -c '^error' "$1") errors:"; grep '^error' "$1" | cut -c1-300; return 1; }
}
export -f one_error contains lacks alive_jobs queue_empty not_in_scripts
# kiln with a time limit; a run that runs out says so in its output file.
kiln_limited() {
  timeout -k 10 "$step_timeout" "$kiln" "$@"
  local rc=$?
  if [ $rc = 124 ] || [ $rc = 137 ]; then echo "TIMEOUT: kiln $* did not finish within ${step_timeout}s"; fi
  return $rc
}
run() { local dir=$1 out=$2; shift 2; kiln_limited -C "$dir" "$@" >"$out" 2>&1; }

provider_block() {
  cat <<KILN
provider slurm hpc {
  url         = env("KILN_SLURM_URL")
  user        = env("KILN_SLURM_USER")
  token       = env("SLURM_JWT")
  partition   = "gpu"
  account     = "${1:-ml-research}"
  qos         = "${2:-normal}"
  shared_root = env("KILN_SLURM_SHARED")
}
KILN
}

# ---------------------------------------------------------------- main flow
A=$W/main
mkdir -p "$A"
{ provider_block; cat <<'KILN'

cluster gpu {
  provider  = hpc
  partition = "gpu"
  gpu       = "H100:4"
  nodes     = 1..2
}

training_job one {
  provider = hpc
  cluster  = gpu
  gpu      = "H100:2"
  command  = ["bash", "-c", "echo CUDA=$CUDA_VISIBLE_DEVICES; echo secret=$${API_KEY:+set}; echo path=$PATH"]
  secrets  = { API_KEY = "s3cr3t-value-42" }
  wait     = true
}

training_job ddp {
  provider = hpc
  cluster  = gpu
  gpu      = "H100:1"
  nodes    = 2
  setup    = "echo ran > $KILN_OUTPUT/setup-$SLURM_NODEID"
  command  = "echo rank=$NODE_RANK/$KILN_NODE_RANK of $KILN_NUM_NODES world=$WORLD_SIZE master=$MASTER_ADDR:$MASTER_PORT addrs=$KILN_NODE_ADDRS cuda=$CUDA_VISIBLE_DEVICES setup=$(cat $KILN_OUTPUT/setup-$NODE_RANK)"
  wait     = true
}

training_job long {
  provider = hpc
  cluster  = gpu
  command  = "sleep 300"
  secrets  = { API_KEY = "s3cr3t-value-42" }
  max_runtime = 90s
}
KILN
} >"$A/main.kiln"

run "$A" "$W/apply1.txt" apply --auto-approve
check "apply submits and waits for the jobs" contains "$W/apply1.txt" "Apply complete"
logs=$KILN_SLURM_SHARED/logs
check "a GPU job sees its CUDA_VISIBLE_DEVICES" bash -c "grep -hE '^CUDA=[0-7],[0-7]\$' $logs/training_job_one-*.out"
check "secrets reach the job's environment" bash -c "grep -h '^secret=set\$' $logs/training_job_one-*.out"
check "the job's PATH is set" bash -c "grep -h '^path=/usr/local/sbin:' $logs/training_job_one-*.out"
check "a two-node job runs rank 0" bash -c "grep -h '^rank=0/0 of 2 world=2 master=127.0.0.1:' $logs/training_job_ddp-*.out"
check "a two-node job runs rank 1" bash -c "grep -h '^rank=1/1 of 2 world=2 master=127.0.0.1:' $logs/training_job_ddp-*.out"
check "setup ran on each node before the command" \
  bash -c "[ \$(grep -hcE '^rank=[01]/.* setup=ran\$' $logs/training_job_ddp-*.out) = 2 ]"
check "both ranks see the same master and node addresses" \
  bash -c "[ \$(grep -h '^rank=' $logs/training_job_ddp-*.out | sed 's/.*\(master=[^ ]* addrs=[^ ]*\).*/\1/' | sort -u | wc -l) = 1 ]"
check "time_limit comes from max_runtime (90s -> 2 minutes)" \
  bash -c "squeue -h -o '%k %l' | grep -q '^kiln:training_job.long submit=[0-9a-f]* 2:00\$'"
check "the token is not in kiln's files" lacks "$A/.kiln" "$SLURM_JWT"
check "the token is not in the apply output" lacks "$W/apply1.txt" "$SLURM_JWT"
check "the token is not in the shared root" lacks "$KILN_SLURM_SHARED" "$SLURM_JWT"
check "the secret is not in kiln's files" lacks "$A/.kiln" "s3cr3t-value-42"
check "the secret is not in the shared root" lacks "$KILN_SLURM_SHARED" "s3cr3t-value-42"
check "the secret is not in job scripts" not_in_scripts "$KILN_SLURM_DIR/state" "s3cr3t-value-42"
check "the secret is not in job comments" bash -c "! squeue -h -t all -o '%k' | grep -qF s3cr3t"

run "$A" "$W/plan2.txt" plan --detailed-exitcode
check "a second plan is a no-op" test $? = 0

sed -i 's/command  = "sleep 300"/command  = "sleep 301"/' "$A/main.kiln"
old_long=$(squeue -h -t PD,R -o '%i %k' | awk '/kiln:training_job.long /{print $1}')
run "$A" "$W/plan3.txt" plan
check "a changed command plans a replacement" contains "$W/plan3.txt" "training_job.long"
run "$A" "$W/apply3.txt" apply --auto-approve
check "the replacement applies" contains "$W/apply3.txt" "Apply complete"
check "the old job was cancelled" bash -c "[ -n '$old_long' ] && [ -z \"\$(squeue -h -t PD,R -j '$old_long' -o %i 2>/dev/null)\" ]"
check "exactly one job runs for the replaced address" test "$(alive_jobs training_job.long)" = 1

new_long=$(squeue -h -t PD,R -o '%i %k' | awk '/kiln:training_job.long /{print $1}')
scancel "$new_long"
sleep 1
run "$A" "$W/plan4.txt" plan
check "a job cancelled outside kiln shows as drift" contains "$W/plan4.txt" "cancelled"

# ---------------------------------------------------------------- faults
"$KILN_SLURM_RESTD" stop
run "$A" "$W/down.txt" plan
rc=$?
check "slurmrestd down: plan fails" test $rc = 1
check "slurmrestd down: one clear error" contains "$W/down.txt" "cannot reach slurmrestd at $KILN_SLURM_URL"
check "slurmrestd down: reported once" one_error "$W/down.txt"
"$KILN_SLURM_RESTD" start

# A malformed answer: a proxy in front of slurmrestd (port 17005) that cuts
# the job list short. The plan fails with one clear error; state is untouched.
cat >"$W/proxy.py" <<'PY'
import http.server, sys, urllib.request
upstream = sys.argv[2]
class P(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        req = urllib.request.Request(upstream + self.path, headers={k: v for k, v in self.headers.items() if k.lower().startswith("x-slurm")})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                status, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read()
        if self.path.startswith("/slurm/v0.0.38/jobs"):
            body = body[: len(body) // 2]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), P).serve_forever()
PY
python3 "$W/proxy.py" 17005 "$KILN_SLURM_URL" &
proxy=$!
for _ in $(seq 50); do curl -s -o /dev/null --max-time 1 http://127.0.0.1:17005/openapi/v3 && break; sleep 0.1; done
state_before=$(find "$A/.kiln" -type f -not -name '*.lock' -exec md5sum {} + | sort)
KILN_SLURM_URL=http://127.0.0.1:17005 run "$A" "$W/malformed.txt" plan
rc=$?
kill "$proxy" 2>/dev/null; wait "$proxy" 2>/dev/null
check "a malformed answer fails the plan" test $rc = 1
check "a malformed answer is one clear error" contains "$W/malformed.txt" "slurmrestd answered GET /slurm/v0.0.38/jobs with HTTP 200 and malformed JSON"
echo "--- the plan through the proxy:"; sed 's/^/    /' "$W/malformed.txt" | grep -v '^ *$' | tail -n 8
check "a malformed answer is reported once" one_error "$W/malformed.txt"
check "a malformed answer changes no state" test "$state_before" = "$(find "$A/.kiln" -type f -not -name '*.lock' -exec md5sum {} + | sort)"

SLURM_JWT="$SLURM_JWT-tampered" run "$A" "$W/token.txt" plan
check "a wrong token fails the plan" test $? = 1
check "a wrong token is explained" contains "$W/token.txt" "slurmctld refused the requests of user \`$KILN_SLURM_USER\`"
check "the wrong token is not printed" lacks "$W/token.txt" "tampered"
check "a wrong token is reported once" one_error "$W/token.txt"

F=$W/faults
mkdir -p "$F"
{ provider_block; cat <<'KILN'
cluster nope {
  provider  = hpc
  partition = "gpux"
}
KILN
} >"$F/main.kiln"
run "$F" "$W/part.txt" plan
check "an unknown partition lists the existing ones" \
  contains "$W/part.txt" "partition \`gpux\` does not exist; the cluster has: cpu, gpu, restricted"

{ provider_block physics; cat <<'KILN'
cluster r {
  provider  = hpc
  partition = "restricted"
}
KILN
} >"$F/main.kiln"
run "$F" "$W/account.txt" plan
check "an account the partition does not allow" \
  contains "$W/account.txt" "partition restricted allows the accounts ml-research; account \`physics\` is not one of them"

# Code upload is not the slurm provider's: one clear error at plan time.
mkdir -p "$F/code"
{ provider_block; cat <<'KILN'
training_job up {
  provider = hpc
  workdir  = "code"
  command  = "true"
}
KILN
} >"$F/main.kiln"
run "$F" "$W/workdir.txt" plan
check "workdir is refused by the slurm provider" test $? = 1
check "workdir's refusal says what to do" contains "$W/workdir.txt" "the slurm provider does not upload code: \`workdir\` is not supported"

# Without slurmdbd Slurm itself takes any account or QOS: kiln checks them
# against the partition's AllowAccounts/DenyAccounts/AllowQos/DenyQos.
{ provider_block ml-research urgent; cat <<'KILN'
cluster r {
  provider  = hpc
  partition = "restricted"
}
training_job j {
  provider = hpc
  cluster  = r
  command  = "true"
}
KILN
} >"$F/main.kiln"
run "$F" "$W/qos.txt" plan
check "a QOS the partition does not allow fails the plan" test $? = 1
check "a QOS the partition does not allow is named" \
  contains "$W/qos.txt" "partition restricted allows the QOS normal; qos \`urgent\` is not one of them"

{ provider_block; cat <<'KILN'
cluster big {
  provider  = hpc
  partition = "gpu"
  gpu       = "H100:8"
}
training_job huge {
  provider = hpc
  gpu      = "H100:4"
  nodes    = 3
  command  = "true"
}
KILN
} >"$F/main.kiln"
run "$F" "$W/big.txt" plan
check "a cluster larger than the partition's nodes" \
  contains "$W/big.txt" "partition gpu has 2 nodes with 4 x H100 each; cluster.big asks for 8 x H100 per node"
check "a job larger than the partition" \
  contains "$W/big.txt" "partition gpu has 2 nodes with 4 x H100 each; training_job.huge asks for 3 nodes"

{ provider_block; cat <<'KILN'
cluster cpu {
  provider  = hpc
  partition = "cpu"
  gpu       = "H100:1"
}
KILN
} >"$F/main.kiln"
run "$F" "$W/nogpu.txt" plan
check "a GPU request on a partition without GPUs" \
  contains "$W/nogpu.txt" "partition cpu has 1 node without GPUs; cluster.cpu asks for 1 x H100 per node"
check "nothing was submitted by the failed plans" test "$(squeue -h -o '%k' | grep -c 'kiln:\(cluster\|training_job.huge\)' || true)" = 0

# slurmrestd restarted in the middle of an apply: every job exactly once.
R=$W/restart
mkdir -p "$R"
{ provider_block; cat <<'KILN'
training_job many for i in ["a", "b", "c", "d", "e", "f"] {
  provider = hpc
  command  = "sleep 120"
}
KILN
} >"$R/main.kiln"
kiln_limited -C "$R" apply --auto-approve --parallelism 1 >"$W/restart1.txt" 2>&1 &
apply_pid=$!
for _ in $(seq 100); do [ "$(squeue -h -o %k | grep -c 'kiln:training_job.many')" -ge 1 ] && break; sleep 0.1; done
"$KILN_SLURM_RESTD" stop
sleep 2
"$KILN_SLURM_RESTD" start
wait $apply_pid
echo "--- the apply during the restart:"; sed 's/^/    /' "$W/restart1.txt" | grep -v '^ *$' | tail -n 12
# A submit whose answer is lost waits for slurmrestd to come back and asks
# whether the job exists before submitting again.
check "an apply across a slurmrestd restart completes" contains "$W/restart1.txt" "Apply complete"
run "$R" "$W/restart2.txt" apply --auto-approve
check "after a restart mid-apply, the next apply completes" grep -qE "Apply complete|No changes" "$W/restart2.txt"
dupes=0
for k in a b c d e f; do
  n=$(alive_jobs "training_job.many\\[\"$k\"\\]")
  [ "$n" = 1 ] || { echo "training_job.many[\"$k\"] has $n jobs"; dupes=1; }
done
check "after a restart mid-apply, every job exists exactly once" test $dupes = 0
run "$R" "$W/restart3.txt" plan --detailed-exitcode
check "after a restart mid-apply, the plan is a no-op" test $? = 0
run "$R" "$W/restart4.txt" destroy --auto-approve
check "destroy cancels the restarted apply's jobs" test "$(squeue -h -t PD,R -o %k | grep -c 'kiln:training_job.many' || true)" = 0

# A job an administrator cancels while apply waits for it.
C=$W/cancel
mkdir -p "$C"
{ provider_block; cat <<'KILN'
training_job waiter {
  provider = hpc
  command  = "echo started; sleep 120"
  wait     = true
}
KILN
} >"$C/main.kiln"
kiln_limited -C "$C" apply --auto-approve >"$W/cancel.txt" 2>&1 &
apply_pid=$!
for _ in $(seq 100); do
  id=$(squeue -h -t R -o '%i %k' | awk '/kiln:training_job.waiter /{print $1}')
  [ -n "$id" ] && break
  sleep 0.1
done
check "the waiting job runs" test -n "$id"
scancel "$id"
wait $apply_pid
check "an admin's cancel fails the waiting apply" test $? = 1
check "an admin's cancel is named" contains "$W/cancel.txt" "training job training_job.waiter (Slurm job $id) was cancelled"
run "$C" "$W/cancel-destroy.txt" destroy --auto-approve

run "$A" "$W/destroy.txt" destroy --auto-approve
check "destroy completes" contains "$W/destroy.txt" "Destroy complete"
check "destroy leaves the queue empty" queue_empty

# ---------------------------------------------------------------- endpoint
# Two replicas; a changed env is an in-place update that replaces the
# replicas one at a time while the other one serves.
E=$W/endpoint
mkdir -p "$E"
endpoint_config() {
  provider_block
  cat <<KILN
endpoint web {
  provider = hpc
  port     = 17090
  replicas = 2
  env      = { VERSION = "$1" }
  command  = ["python3", "-c", "import http.server, os\nclass H(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        self.send_response(200); self.end_headers(); self.wfile.write(('v=' + os.environ['VERSION'] + ' replica=' + os.environ['KILN_REPLICA'] + '\\\\n').encode())\n    def log_message(self, *a): pass\nhttp.server.HTTPServer(('0.0.0.0', int(os.environ['PORT'])), H).serve_forever()\n"]
  health_check = { timeout = 60s }
}
KILN
}
endpoint_config 1 >"$E/main.kiln"
run "$E" "$W/ep-apply1.txt" apply --auto-approve
check "a two-replica endpoint applies" contains "$W/ep-apply1.txt" "Apply complete"
ep_urls() { kiln_limited -C "$E" state show endpoint.web --json 2>/dev/null | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["attributes"]["urls"]))'; }
read -r -a urls <<<"$(ep_urls)"
check "the endpoint has two replica URLs" test "${#urls[@]}" = 2
check "replica 0 serves version 1" bash -c "curl -sf --max-time 5 '${urls[0]:-none}/' | grep -qx 'v=1 replica=0'"
check "replica 1 serves version 1" bash -c "curl -sf --max-time 5 '${urls[1]:-none}/' | grep -qx 'v=1 replica=1'"
old_ids=$(squeue -h -t PD,R -o '%i %k' | awk '/kiln:endpoint.web /{print $1}' | sort | tr '\n' ' ')
endpoint_config 2 >"$E/main.kiln"
run "$E" "$W/ep-plan2.txt" plan
check "a changed env updates the endpoint in place" contains "$W/ep-plan2.txt" "endpoint.web will be updated in place"
# While the update rolls, ask both replicas every 0.2 s; one line per round:
# how many answered.
(
  end=$((SECONDS + step_timeout))
  while [ $SECONDS -lt $end ]; do
    n=0
    for u in "${urls[@]}"; do curl -sf --max-time 1 -o /dev/null "$u/" && n=$((n + 1)); done
    echo "$n"
    sleep 0.2
  done
) >"$W/ep-serving.txt" 2>/dev/null &
poller=$!
run "$E" "$W/ep-apply2.txt" apply --auto-approve
kill "$poller" 2>/dev/null; wait "$poller" 2>/dev/null
check "the rolling update applies" contains "$W/ep-apply2.txt" "Apply complete"
check "replica 0 is replaced and ready before replica 1 is touched" bash -c "
  grep -n 'replacing replica 0\|replica 0 ready\|replacing replica 1\|replica 1 ready' '$W/ep-apply2.txt' | cut -d: -f3- |
    sed 's/ at .*//; s/^ *//' | tr '\n' '|' | grep -qx 'replacing replica 0|replica 0 ready|replacing replica 1|replica 1 ready|'"
check "some replica answered in every round of the update" \
  bash -c "[ \$(wc -l <'$W/ep-serving.txt') -ge 5 ] && ! grep -qx 0 '$W/ep-serving.txt'"
check "only one replica was down at a time (some rounds saw one answer)" grep -qx 1 "$W/ep-serving.txt"
read -r -a urls <<<"$(ep_urls)"
check "replica 0 serves version 2" bash -c "curl -sf --max-time 5 '${urls[0]:-none}/' | grep -qx 'v=2 replica=0'"
check "replica 1 serves version 2" bash -c "curl -sf --max-time 5 '${urls[1]:-none}/' | grep -qx 'v=2 replica=1'"
new_ids=$(squeue -h -t PD,R -o '%i %k' | awk '/kiln:endpoint.web /{print $1}' | sort | tr '\n' ' ')
check "both replicas are new jobs and the old ones ended" \
  bash -c "[ \$(echo $new_ids | wc -w) = 2 ] && [ -z \"\$(comm -12 <(tr ' ' '\n' <<<'$old_ids' | sort) <(tr ' ' '\n' <<<'$new_ids' | sort) | grep .)\" ]"
run "$E" "$W/ep-plan3.txt" plan --detailed-exitcode
check "after the rolling update, a plan is a no-op" test $? = 0
run "$E" "$W/ep-destroy.txt" destroy --auto-approve
check "destroy cancels every replica" test "$(alive_jobs endpoint.web)" = 0

# ---------------------------------------------------------------- example
S=$W/slurm-sweep
cp -r "$src/examples/slurm-sweep" "$S"
vars=(--var "slurm_url=$KILN_SLURM_URL" --var "slurm_user=$KILN_SLURM_USER" --var "shared_root=$KILN_SLURM_SHARED"
      --var "dataset_path=$KILN_SLURM_SHARED/datasets/imagenet" --var protect_data=false --var max_nodes=2)
run "$S" "$W/ex-apply.txt" apply --auto-approve "${vars[@]}"
check "examples/slurm-sweep applies" contains "$W/ex-apply.txt" "Apply complete"
check "the sweep wrote its metrics" bash -c "ls $KILN_SLURM_SHARED/datastores/*/metrics-0.0003.json"
check "the two-node run wrote rank 1" bash -c "grep -h 'rank 1 of 2 nodes, world 4' $KILN_SLURM_SHARED/datastores/*/ddp-rank-1.txt"
url=$(kiln_limited -C "$S" state show endpoint.serve --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["attributes"]["url"])')
check "the endpoint serves the best checkpoint" bash -c "curl -sf --max-time 10 '$url/' | grep -q '^serving file://'"
ep_job=$(squeue -h -t R -o '%i %k' | awk '/kiln:endpoint.serve /{print $1}')
check "the endpoint runs as a Slurm job" test -n "$ep_job"
scancel "$ep_job"
sleep 1
run "$S" "$W/ex-drift.txt" plan "${vars[@]}"
check "a replica cancelled outside kiln is drift" contains "$W/ex-drift.txt" "endpoint.serve has changed outside of kiln"
run "$S" "$W/ex-repair.txt" apply --auto-approve "${vars[@]}"
check "the next apply repairs the endpoint" contains "$W/ex-repair.txt" "Apply complete"
url=$(kiln_limited -C "$S" state show endpoint.serve --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["attributes"]["url"])')
check "the repaired endpoint serves" bash -c "curl -sf --max-time 10 '$url/' | grep -q '^serving file://'"
run "$S" "$W/ex-plan.txt" plan --detailed-exitcode "${vars[@]}"
check "examples/slurm-sweep: a second plan is a no-op" test $? = 0
run "$S" "$W/ex-destroy.txt" destroy --auto-approve "${vars[@]}"
check "examples/slurm-sweep: destroy completes" contains "$W/ex-destroy.txt" "Destroy complete"
check "examples/slurm-sweep: destroy leaves the queue empty" queue_empty

echo "[==========] $((pass + ${#failed[@]})) checks"
echo "[  PASSED  ] $pass checks"
if ((${#failed[@]})); then
  for f in "${failed[@]}"; do echo "[  FAILED  ] $f"; done
  exit 1
fi
