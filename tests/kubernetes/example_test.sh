#!/usr/bin/env bash
# examples/k8s-serving against the test API server (run by run_with_kube.sh):
# apply creates the namespace, quota, PVC, Job, Deployments, Service and HPA;
# the Job completes and the rollout finishes; a second plan is a no-op;
# destroy removes everything.
set -euo pipefail
kiln_bin="$1"
# Every kiln run is bounded: a hang fails with a message.
kiln() {
  local rc=0
  timeout -k 10 240 "$kiln_bin" "$@" || rc=$?
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then echo "kiln $* did not finish within 240 s (killed)"; fi
  return "$rc"
}
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d /tmp/kiln-k8s-example.XXXXXX)"
trap 'rm -rf "$work"' EXIT
cp -r "$here/../../examples/k8s-serving/." "$work/"
cd "$work"
export NO_COLOR=1
fail() { echo "FAIL: $*" >&2; exit 1; }
get() {  # PATH -> HTTP status, body in $work/body.json
  curl -s --cacert "$KILN_KUBE_CA" -H "Authorization: Bearer $KILN_KUBE_TOKEN" -o "$work/body.json" \
    -w '%{http_code}' "$KILN_KUBE_SERVER$1"
}
field() { python3 -c "import json,sys; d=json.load(open('$work/body.json')); print(eval(sys.argv[1]))" "$1"; }

start=$SECONDS
kiln apply --auto-approve > apply.log 2>&1 || { cat apply.log; fail "apply"; }
echo "apply: $((SECONDS - start)) s"

[ "$(get /api/v1/namespaces/ml-team)" = 200 ] || fail "namespace"
[ "$(get /api/v1/namespaces/ml-team/resourcequotas/kiln-quota)" = 200 ] || fail "quota"
[ "$(field "d['spec']['hard']['requests.nvidia.com/gpu']")" = 8 ] || fail "quota GPUs"
[ "$(get /api/v1/namespaces/ml-team/limitranges/kiln-limits)" = 200 ] || fail "limit range"
[ "$(get /api/v1/namespaces/ml-team/persistentvolumeclaims/checkpoints)" = 200 ] || fail "pvc"
[ "$(get /apis/batch/v1/namespaces/ml-team/jobs/finetune)" = 200 ] || fail "job"
[ "$(field "d['status'].get('succeeded')")" = 1 ] || fail "job did not complete"
[ "$(field "d['spec']['template']['spec']['volumes'][0]['persistentVolumeClaim']['claimName']")" = checkpoints ] || fail "job volume"
grep -q hf_example body.json && fail "secret value in the Job spec"
[ "$(get /apis/apps/v1/namespaces/ml-team/deployments/chat)" = 200 ] || fail "deployment"
[ "$(field "d['status'].get('availableReplicas')")" = 1 ] || fail "stable replicas not available"
[ "$(get /apis/apps/v1/namespaces/ml-team/deployments/chat-canary)" = 200 ] || fail "canary"
[ "$(field "d['status'].get('availableReplicas')")" = 1 ] || fail "canary replicas not available"
[ "$(get /api/v1/namespaces/ml-team/services/chat)" = 200 ] || fail "service"
[ "$(field "d['spec']['ports'][0]['protocol']")" = TCP ] || fail "service protocol"
[ "$(get /apis/autoscaling/v2beta2/namespaces/ml-team/horizontalpodautoscalers/chat)" = 200 ] || fail "hpa"
[ "$(field "(d['spec']['minReplicas'], d['spec']['maxReplicas'])")" = "(1, 3)" ] || fail "hpa range"
[ "$(get /api/v1/namespaces/ml-team/secrets/chat-secrets)" = 200 ] || fail "secret"
[ "$(kiln output chat_url)" = "http://chat.ml-team.svc.cluster.local:8000" ] || fail "url output"

set +e
kiln plan --detailed-exitcode > plan2.log 2>&1
code=$?
set -e
[ "$code" = 0 ] || { cat plan2.log; fail "second plan is not a no-op (exit $code)"; }

# An image change and the canary taken away: an in-place update that waits
# for the new rollout, deletes the canary Deployment and moves the HPA's
# range back to the whole of `replicas`; the plan after it is a no-op.
sed -i -e 's/vllm-openai:v0.6.3/vllm-openai:v0.6.4/' -e '/^  canary /d' serve.kiln
kiln plan > plan3.log 2>&1 || { cat plan3.log; fail "plan of the update"; }
grep -q "endpoint.chat will be updated in place" plan3.log || { cat plan3.log; fail "update is not in place"; }
start=$SECONDS
kiln apply --auto-approve > apply2.log 2>&1 || { cat apply2.log; fail "apply of the update"; }
echo "update: $((SECONDS - start)) s"
[ "$(get /apis/apps/v1/namespaces/ml-team/deployments/chat)" = 200 ] || fail "deployment after update"
[ "$(field "d['spec']['template']['spec']['containers'][0]['image']")" = vllm/vllm-openai:v0.6.4 ] || fail "image not updated"
[ "$(field "d['status'].get('updatedReplicas') == d['status'].get('replicas') == d['status'].get('availableReplicas')")" = True ] ||
  fail "apply returned before the new rollout completed"
[ "$(get /apis/apps/v1/namespaces/ml-team/deployments/chat-canary)" = 404 ] || fail "canary not deleted"
[ "$(get /apis/autoscaling/v2beta2/namespaces/ml-team/horizontalpodautoscalers/chat)" = 200 ] || fail "hpa after update"
[ "$(field "(d['spec']['minReplicas'], d['spec']['maxReplicas'])")" = "(2, 4)" ] || fail "hpa range after update"
set +e
kiln plan --detailed-exitcode > plan4.log 2>&1
code=$?
set -e
[ "$code" = 0 ] || { cat plan4.log; fail "plan after the update is not a no-op (exit $code)"; }

start=$SECONDS
kiln destroy --auto-approve > destroy.log 2>&1 || { cat destroy.log; fail "destroy"; }
echo "destroy: $((SECONDS - start)) s"
[ "$(get /api/v1/namespaces/ml-team)" = 404 ] || fail "namespace still there"
echo "example k8s-serving: ok"
