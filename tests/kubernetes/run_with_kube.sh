#!/usr/bin/env bash
# Runs a command against a real, throw-away Kubernetes API server:
# etcd (Debian's etcd-server), kube-apiserver and kube-controller-manager
# (1.20, built once by build_kube.sh) and a fake kubelet (fake_kubelet.py)
# with two nodes of 4 nvidia.com/gpu each, all in a temporary directory on
# loopback. Everything is stopped by a trap, also when the command fails.
#
# The command sees:
#   KILN_KUBE_SERVER      https://127.0.0.1:16443
#   KILN_KUBE_TOKEN       a cluster-admin token
#   KILN_KUBE_TOKEN_VIEW  a token of a user who may only read (403 on writes)
#   KILN_KUBE_CA          the apiserver's serving certificate bundle
#   KILN_KUBE_KUBECONFIG  a kubeconfig with contexts `admin` and `viewer`
#   KILN_KUBE_DIR         the temporary directory
# Ports: etcd 23790/23791, apiserver 16443, controller-manager 10257.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bins="$("$here/build_kube.sh")"
etcd_bin="$(command -v etcd || echo /usr/bin/etcd)"

dir="$(mktemp -d /tmp/kiln-kube.XXXXXX)"
pids=()
stop() {
  local code=$?
  for ((i=${#pids[@]}-1; i>=0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  if [ "$code" != 0 ] && [ -z "${KILN_KUBE_KEEP:-}" ]; then
    for f in apiserver controller-manager kubelet etcd; do
      echo "---- last lines of $f.log" >&2
      tail -n 15 "$dir/$f.log" >&2 || true
    done
  fi
  if [ -z "${KILN_KUBE_KEEP:-}" ]; then rm -rf "$dir"; else echo "kept $dir" >&2; fi
  exit "$code"
}
trap stop EXIT
trap 'exit 130' INT TERM

admin_token="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
view_token="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cat > "$dir/tokens.csv" <<CSV
$admin_token,kiln-admin,1,"system:masters"
$view_token,kiln-viewer,2,"kiln-viewers"
CSV
openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
mkdir -p "$dir/certs" "$dir/etcd"

"$etcd_bin" --data-dir "$dir/etcd" --name kiln-test \
  --listen-client-urls http://127.0.0.1:23790 --advertise-client-urls http://127.0.0.1:23790 \
  --listen-peer-urls http://127.0.0.1:23791 --initial-advertise-peer-urls http://127.0.0.1:23791 \
  --initial-cluster kiln-test=http://127.0.0.1:23791 >"$dir/etcd.log" 2>&1 &
pids+=($!)

"$bins/kube-apiserver" --etcd-servers=http://127.0.0.1:23790 --bind-address=127.0.0.1 \
  --advertise-address=127.0.0.1 --secure-port=16443 --cert-dir="$dir/certs" \
  --token-auth-file="$dir/tokens.csv" --authorization-mode=RBAC \
  --service-account-key-file="$dir/sa.pub" --service-account-signing-key-file="$dir/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc --service-cluster-ip-range=10.0.0.0/24 \
  --endpoint-reconciler-type=none >"$dir/apiserver.log" 2>&1 &
pids+=($!)

server=https://127.0.0.1:16443
ready=""
for _ in $(seq 240); do
  if curl -sk -H "Authorization: Bearer $admin_token" "$server/readyz" 2>/dev/null | grep -qx ok; then
    ready=1; break
  fi
  kill -0 "${pids[1]}" 2>/dev/null || { echo "kube-apiserver exited" >&2; exit 1; }
  sleep 0.5
done
[ -n "$ready" ] || { echo "kube-apiserver not ready within 120s" >&2; exit 1; }

# Certificates: the apiserver's self-signed bundle, as a CA file.
ca="$dir/certs/apiserver.crt"
cat > "$dir/kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: $server
    certificate-authority: $ca
users:
- name: admin
  user:
    token: $admin_token
- name: viewer
  user:
    token: $view_token
contexts:
- name: admin
  context: {cluster: test, user: admin}
- name: viewer
  context: {cluster: test, user: viewer, namespace: default}
current-context: admin
YAML

# The viewer may get and list everything and change nothing.
curl -sk -o /dev/null -w '' -H "Authorization: Bearer $admin_token" -H 'Content-Type: application/json' \
  -X POST "$server/apis/rbac.authorization.k8s.io/v1/clusterrolebindings" \
  -d '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"kiln-viewers"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},"subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group","name":"kiln-viewers"}]}'

"$bins/kube-controller-manager" --kubeconfig="$dir/kubeconfig" --leader-elect=false --port=0 \
  --bind-address=127.0.0.1 --secure-port=10257 \
  --controllers='*,-nodeipam,-nodelifecycle,-attachdetach,-persistentvolume-binder,-cloud-node-lifecycle,-route,-service' \
  --service-account-private-key-file="$dir/sa.key" --root-ca-file="$ca" \
  --use-service-account-credentials=false >"$dir/controller-manager.log" 2>&1 &
pids+=($!)

python3 "$here/fake_kubelet.py" "$server" "$admin_token" 2 4 NVIDIA-H100-80GB-HBM3 >"$dir/kubelet.log" 2>&1 &
pids+=($!)

# The nodes are there and schedulable, and the default service account
# exists (pods cannot be created before it).
for _ in $(seq 120); do
  n=$(curl -sk -H "Authorization: Bearer $admin_token" "$server/api/v1/nodes" |
      python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(1 for n in d["items"] if not n["spec"].get("taints") and any(c["type"]=="Ready" and c["status"]=="True" for c in n["status"].get("conditions") or [])))' 2>/dev/null || echo 0)
  sa=$(curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $admin_token" \
       "$server/api/v1/namespaces/default/serviceaccounts/default")
  [ "$n" = 2 ] && [ "$sa" = 200 ] && break
  sleep 0.5
done
[ "$n" = 2 ] || { echo "the fake nodes did not become ready" >&2; exit 1; }

export KILN_KUBE_SERVER="$server" KILN_KUBE_TOKEN="$admin_token" KILN_KUBE_TOKEN_VIEW="$view_token"
export KILN_KUBE_CA="$ca" KILN_KUBE_KUBECONFIG="$dir/kubeconfig" KILN_KUBE_DIR="$dir"
echo "run_with_kube: cluster ready in $SECONDS s" >&2
set +e
"$@"
code=$?
set -e
exit "$code"
