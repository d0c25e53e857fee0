#!/usr/bin/env python3
"""A fake kubelet for the kubernetes provider's integration tests.

It stands in for the nodes of a real cluster against a real kube-apiserver
and kube-controller-manager: it registers NODES nodes with nvidia.com/gpu
capacity and the nvidia.com/gpu.product label, removes the not-ready taint
the apiserver puts on them, binds pending pods (to the node with the fewest
pods: one pod per node when there are as many nodes as pods), marks them
Running and Ready (pods of Jobs: Succeeded), deletes pods that carry a
deletionTimestamp (namespace deletion hangs otherwise) and binds pending
PersistentVolumeClaims to hostPath PersistentVolumes it creates.

Images drive failures for the fault tests:
  an image containing "never-ready" runs but never becomes Ready;
  an image containing "fail" fails (exit code 1).

Standard library only. Usage: fake_kubelet.py SERVER TOKEN [NODES] [GPUS] [PRODUCT]
"""
import json
import ssl
import sys
import time
import urllib.error
import urllib.request

SERVER, TOKEN = sys.argv[1], sys.argv[2]
NODES = int(sys.argv[3]) if len(sys.argv) > 3 else 2
GPUS = sys.argv[4] if len(sys.argv) > 4 else "4"
PRODUCT = sys.argv[5] if len(sys.argv) > 5 else "NVIDIA-H100-80GB-HBM3"
CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE


def log(*args):
    print("fake_kubelet:", *args, file=sys.stderr, flush=True)


def call(method, path, body=None, content_type="application/json"):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(SERVER + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + TOKEN)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, context=CTX, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, {"message": text.decode(errors="replace")}


def now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def node_names():
    return ["kiln-node-%d" % i for i in range(NODES)]


def ensure_nodes():
    for name in node_names():
        code, node = call("GET", "/api/v1/nodes/" + name)
        if code == 404:
            code, node = call("POST", "/api/v1/nodes", {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": {
                    "kubernetes.io/hostname": name,
                    "nvidia.com/gpu.product": PRODUCT,
                    "nvidia.com/gpu.count": GPUS}}})
            log("created node", name, code)
        if code >= 300:
            continue
        taints = node.get("spec", {}).get("taints") or []
        kept = [t for t in taints if not t["key"].startswith("node.kubernetes.io/")]
        if len(kept) != len(taints):
            call("PATCH", "/api/v1/nodes/" + name, {"spec": {"taints": kept or None}},
                 "application/merge-patch+json")
        conds = node.get("status", {}).get("conditions") or []
        if not any(c["type"] == "Ready" and c["status"] == "True" for c in conds) or \
                node.get("status", {}).get("capacity", {}).get("nvidia.com/gpu") != GPUS:
            cap = {"cpu": "64", "memory": "512Gi", "pods": "110", "nvidia.com/gpu": GPUS}
            call("PATCH", "/api/v1/nodes/%s/status" % name, {"status": {
                "capacity": cap, "allocatable": cap,
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                "message": "fake kubelet", "lastHeartbeatTime": now(),
                                "lastTransitionTime": now()}],
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                              {"type": "Hostname", "address": name}]}},
                 "application/merge-patch+json")


def is_job_pod(pod):
    return any(o.get("kind") == "Job" for o in pod["metadata"].get("ownerReferences") or [])


def container_statuses(pod, state, ready):
    out = []
    for c in pod["spec"]["containers"]:
        out.append({"name": c["name"], "image": c["image"], "imageID": "fake://" + c["image"],
                    "ready": ready, "restartCount": 0, "started": True, "state": state})
    return out


def cond(kind, status):
    return {"type": kind, "status": status, "lastTransitionTime": now()}


def anti_affinity_labels(pod):
    """matchLabels of the pod's required anti-affinity on the hostname."""
    terms = (((pod["spec"].get("affinity") or {}).get("podAntiAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or [])
    return [t.get("labelSelector", {}).get("matchLabels", {}) for t in terms
            if t.get("topologyKey") == "kubernetes.io/hostname"]


def sync_pods():
    code, pods = call("GET", "/api/v1/pods")
    if code != 200:
        return
    load = {n: 0 for n in node_names()}
    for p in pods["items"]:
        n = p["spec"].get("nodeName")
        if n in load and p.get("status", {}).get("phase") in (None, "Pending", "Running"):
            load[n] += 1
    for p in pods["items"]:
        md, ns, name = p["metadata"], p["metadata"]["namespace"], p["metadata"]["name"]
        base = "/api/v1/namespaces/%s/pods/%s" % (ns, name)
        if md.get("deletionTimestamp"):
            call("DELETE", base, {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0})
            continue
        node = p["spec"].get("nodeName")
        if not node:
            # Least loaded node that no pod matching a required anti-affinity
            # is on (finished pods included, so ranks never share a node).
            taken = set()
            for sel in anti_affinity_labels(p):
                for q in pods["items"]:
                    labels = q["metadata"].get("labels") or {}
                    if q["spec"].get("nodeName") and all(labels.get(k) == v for k, v in sel.items()):
                        taken.add(q["spec"]["nodeName"])
            free = [n for n in load if n not in taken]
            if not free:
                continue
            node = min(free, key=lambda k: (load[k], k))
            code, _ = call("POST", base + "/binding", {
                "apiVersion": "v1", "kind": "Binding", "metadata": {"name": name, "namespace": ns},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node}})
            if code >= 300:
                continue
            load[node] += 1
            p["spec"]["nodeName"] = node
        phase = p.get("status", {}).get("phase")
        image = " ".join(c["image"] for c in p["spec"]["containers"])
        if phase in ("Succeeded", "Failed"):
            continue
        started = {"startedAt": now()}
        if is_job_pod(p):
            if phase == "Running" and "never-ends" in image:
                continue
            if phase != "Running":
                status = {"phase": "Running", "hostIP": "127.0.0.1", "podIP": "10.1.0.1", "startTime": now(),
                          "conditions": [cond("PodScheduled", "True"), cond("Initialized", "True"),
                                         cond("Ready", "True"), cond("ContainersReady", "True")],
                          "containerStatuses": container_statuses(p, {"running": started}, True)}
            else:
                code_ = 1 if "fail" in image else 0
                term = {"terminated": {"exitCode": code_, "reason": "Error" if code_ else "Completed",
                                       "startedAt": now(), "finishedAt": now()}}
                status = {"phase": "Failed" if code_ else "Succeeded",
                          "conditions": [cond("PodScheduled", "True"), cond("Ready", "False")],
                          "containerStatuses": container_statuses(p, term, False)}
        else:
            ready = "never-ready" not in image
            if phase == "Running":
                continue
            status = {"phase": "Running", "hostIP": "127.0.0.1", "podIP": "10.1.0.2", "startTime": now(),
                      "conditions": [cond("PodScheduled", "True"), cond("Initialized", "True"),
                                     cond("Ready", "True" if ready else "False"),
                                     cond("ContainersReady", "True" if ready else "False")],
                      "containerStatuses": container_statuses(p, {"running": started}, ready)}
        call("PATCH", base + "/status", {"status": status}, "application/merge-patch+json")


def sync_claims():
    code, claims = call("GET", "/api/v1/persistentvolumeclaims")
    if code != 200:
        return
    for c in claims["items"]:
        if c.get("status", {}).get("phase") == "Bound" or c["metadata"].get("deletionTimestamp"):
            continue
        ns, name = c["metadata"]["namespace"], c["metadata"]["name"]
        size = c["spec"].get("resources", {}).get("requests", {}).get("storage", "1Gi")
        modes = c["spec"].get("accessModes") or ["ReadWriteOnce"]
        pv = "pv-%s-%s" % (ns, name)
        call("POST", "/api/v1/persistentvolumes", {
            "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv[:253]},
            "spec": {"capacity": {"storage": size}, "accessModes": modes,
                     "persistentVolumeReclaimPolicy": "Delete",
                     "hostPath": {"path": "/tmp/kiln-fake-pv/" + pv},
                     "claimRef": {"namespace": ns, "name": name, "uid": c["metadata"]["uid"]}}})
        call("PATCH", "/api/v1/namespaces/%s/persistentvolumeclaims/%s/status" % (ns, name),
             {"status": {"phase": "Bound", "accessModes": modes, "capacity": {"storage": size}}},
             "application/merge-patch+json")
    # Volumes whose claim is gone go with it (reclaim policy Delete).
    code, vols = call("GET", "/api/v1/persistentvolumes")
    if code != 200:
        return
    live = {(c["metadata"]["namespace"], c["metadata"]["name"]) for c in claims["items"]}
    for v in vols["items"]:
        ref = v["spec"].get("claimRef") or {}
        if (ref.get("namespace"), ref.get("name")) not in live:
            call("DELETE", "/api/v1/persistentvolumes/" + v["metadata"]["name"])


def main():
    log("serving", NODES, "node(s) with", GPUS, "x", PRODUCT)
    last_nodes = 0.0
    while True:
        try:
            if time.time() - last_nodes > 5:
                ensure_nodes()
                last_nodes = time.time()
            sync_pods()
            sync_claims()
        except Exception as e:  # the apiserver restarting, a timeout: try again
            log("error:", repr(e))
        time.sleep(0.25)


if __name__ == "__main__":
    main()
