#!/usr/bin/env python3
"""Writes one ML platform of N resources in Kiln, HCL (Terraform style) and
Jsonnet, with the same objects, attributes and references in each.

    gen.py N OUT_DIR [--langs kiln,hcl,jsonnet]

OUT_DIR/kiln, OUT_DIR/hcl and OUT_DIR/jsonnet each hold the platform; the
counts are printed (one line per language) and written to OUT_DIR/counts.json.

The platform, for N resources (N >= 100):
  clusters      C = max(1, N // 1000)  GPU pools, each with labels
  datastores    D = max(1, N // 10)
  sweeps        S = max(1, N // 100)   one resource with a for/for_each over
                                       10 learning rates each: 10 * S instances
  training jobs J = N - C - D - 10 * S each reading one pool and one store,
                                       with string interpolation of computed
                                       attributes (ids, uris)
Inputs/variables: image, token (sensitive), team, learning_rates; locals:
gpu, data_root. Declarations are split into files of 2,000.
"""
import json
import os
import shutil
import sys

PER_FILE = 2000
LRS = ["1e-5", "3e-5", "1e-4", "3e-4", "1e-3", "3e-3", "1e-2", "3e-2", "1e-1", "3e-1"]


class Counts:
    def __init__(self):
        self.objects = 0      # resource instances
        self.attributes = 0   # attributes of resource instances (top level)
        self.references = 0   # references to inputs, locals, resources, loop values (per instance)
        self.bytes = 0        # source bytes

    def as_dict(self):
        return dict(objects=self.objects, attributes=self.attributes, references=self.references,
                    bytes=self.bytes)


def plan(n):
    c = max(1, n // 1000)
    d = max(1, n // 10)
    s = max(1, n // 100)
    j = n - c - d - 10 * s
    if j < 0:
        raise SystemExit("gen: N must be at least 100")
    return c, d, s, j


# Each writer emits the same declarations; `count` is called with the
# attributes and references of each instance, in the same places for every
# language, so the three counts agree by construction and the peers' own
# counts (hcl_bench, the JSON jsonnet prints, kiln validate) check them.
def cluster_attrs(i):
    return 4, 1   # gpu, nodes, region, labels; refs: team


def store_attrs(i):
    return 3, 1   # size, path, versioned; refs: data_root


def job_attrs(i):
    # cluster, image, command, gpu, nodes, env, secrets, output, max_runtime
    # refs: pool, image, store.uri, gpu, pool.id, pool.region, token, store
    return 9, 8


def sweep_attrs(k):
    # cluster, image, command, gpu, env, output, max_runtime (per instance)
    # refs: pool, image, lr, gpu, lr, store.uri, store (per instance)
    return 7, 7


def write_kiln(out, n):
    c, d, s, j = plan(n)
    files = {}
    cur = []
    main = []
    main.append('input image: string = "ghcr.io/acme/train:1"\n')
    main.append('input token: string sensitive = "secret"\n')
    main.append('input team: string = "ml"\n')
    main.append('input learning_rates: list<string> = [%s]\n' % ", ".join('"%s"' % x for x in LRS))
    main.append('let gpu = "H100:8"\n')
    main.append('let data_root = "/data"\n\n')
    main.append('provider bench platform {}\n\n')
    for i in range(c):
        main.append('cluster pool_%d {\n  gpu = "H100:8"\n  nodes = 1..16\n  region = "r%d"\n'
                    '  labels = { team = team, pool = "pool-%d" }\n}\n' % (i, i % 7, i))
    for i in range(d):
        main.append('datastore store_%d {\n  size = 2TB\n  path = "${data_root}/%d"\n  versioned = %s\n}\n'
                    % (i, i, "true" if i % 2 == 0 else "false"))
    files["main.kiln"] = main
    decls = []
    for k in range(s):
        p, st = k % c, k % d
        decls.append(
            'training_job sweep_%d for lr in learning_rates {\n'
            '  cluster = pool_%d\n  image = image\n'
            '  command = ["python", "sweep.py", "--lr", "${lr}"]\n'
            '  gpu = gpu\n'
            '  env = { LR = "${lr}", DATA = "${store_%d.uri}/sweep-%d" }\n'
            '  output = store_%d\n  max_runtime = 2h\n}\n' % (k, p, st, k, st))
    for i in range(j):
        p, st = i % c, i % d
        decls.append(
            'training_job job_%d {\n'
            '  cluster = pool_%d\n  image = image\n'
            '  command = ["python", "train.py", "--data", "${store_%d.uri}/shard-%d"]\n'
            '  gpu = gpu\n  nodes = %d\n'
            '  env = { RUN = "job-%d-on-${pool_%d.id}", REGION = pool_%d.region }\n'
            '  secrets = { TOKEN = token }\n'
            '  output = store_%d\n  max_runtime = %dh\n}\n'
            % (i, p, st, i, 1 + i % 4, i, p, p, st, 1 + i % 12))
    for f in range(0, len(decls), PER_FILE):
        files["jobs_%d.kiln" % (f // PER_FILE)] = decls[f:f + PER_FILE]
    return files


def write_hcl(out, n):
    c, d, s, j = plan(n)
    files = {}
    main = []
    main.append('variable "image" {\n  type    = string\n  default = "ghcr.io/acme/train:1"\n}\n\n')
    main.append('variable "token" {\n  type      = string\n  sensitive = true\n  default   = "secret"\n}\n\n')
    main.append('variable "team" {\n  type    = string\n  default = "ml"\n}\n\n')
    main.append('variable "learning_rates" {\n  type    = list(string)\n  default = [%s]\n}\n\n'
                % ", ".join('"%s"' % x for x in LRS))
    main.append('locals {\n  gpu       = "H100:8"\n  data_root = "/data"\n}\n\n')
    main.append('provider "bench" {}\n\n')
    for i in range(c):
        main.append('resource "cluster" "pool_%d" {\n  gpu    = "H100:8"\n  nodes  = { min = 1, max = 16 }\n'
                    '  region = "r%d"\n  labels = { team = var.team, pool = "pool-%d" }\n}\n\n' % (i, i % 7, i))
    for i in range(d):
        main.append('resource "datastore" "store_%d" {\n  size      = 2000000000000\n'
                    '  path      = "${local.data_root}/%d"\n  versioned = %s\n}\n\n'
                    % (i, i, "true" if i % 2 == 0 else "false"))
    files["main.tf"] = main
    decls = []
    for k in range(s):
        p, st = k % c, k % d
        decls.append(
            'resource "training_job" "sweep_%d" {\n'
            '  for_each    = { for lr in var.learning_rates : lr => lr }\n'
            '  cluster     = cluster.pool_%d.id\n  image       = var.image\n'
            '  command     = ["python", "sweep.py", "--lr", "${each.value}"]\n'
            '  gpu         = local.gpu\n'
            '  env         = { LR = "${each.key}", DATA = "${datastore.store_%d.uri}/sweep-%d" }\n'
            '  output      = datastore.store_%d.id\n  max_runtime = "2h"\n}\n\n' % (k, p, st, k, st))
    for i in range(j):
        p, st = i % c, i % d
        decls.append(
            'resource "training_job" "job_%d" {\n'
            '  cluster     = cluster.pool_%d.id\n  image       = var.image\n'
            '  command     = ["python", "train.py", "--data", "${datastore.store_%d.uri}/shard-%d"]\n'
            '  gpu         = local.gpu\n  nodes       = %d\n'
            '  env         = { RUN = "job-%d-on-${cluster.pool_%d.id}", REGION = cluster.pool_%d.region }\n'
            '  secrets     = { TOKEN = var.token }\n'
            '  output      = datastore.store_%d.id\n  max_runtime = "%dh"\n}\n\n'
            % (i, p, st, i, 1 + i % 4, i, p, p, st, 1 + i % 12))
    for f in range(0, len(decls), PER_FILE):
        files["jobs_%d.tf" % (f // PER_FILE)] = decls[f:f + PER_FILE]
    return files


def write_jsonnet(out, n):
    # Jsonnet has no unknown values: computed attributes (id, uri) are hidden
    # fields, so references to them evaluate like any other.
    c, d, s, j = plan(n)
    files = {}
    decls = []
    for k in range(s):
        p, st = k % c, k % d
        decls.append(
            '  sweep_%d: {\n    [lr]: {\n      cluster: c.pool_%d.id,\n      image: v.image,\n'
            '      command: ["python", "sweep.py", "--lr", lr],\n      gpu: v.gpu,\n'
            '      env: { LR: lr, DATA: d.store_%d.uri + "/sweep-%d" },\n'
            '      output: d.store_%d.id,\n      max_runtime: "2h",\n    }\n'
            '    for lr in v.learning_rates\n  },\n' % (k, p, st, k, st))
    for i in range(j):
        p, st = i % c, i % d
        decls.append(
            '  job_%d: {\n    cluster: c.pool_%d.id,\n    image: v.image,\n'
            '    command: ["python", "train.py", "--data", d.store_%d.uri + "/shard-%d"],\n'
            '    gpu: v.gpu,\n    nodes: %d,\n'
            '    env: { RUN: "job-%d-on-" + c.pool_%d.id, REGION: c.pool_%d.region },\n'
            '    secrets: { TOKEN: v.token },\n'
            '    output: d.store_%d.id,\n    max_runtime: "%dh",\n  },\n'
            % (i, p, st, i, 1 + i % 4, i, p, p, st, 1 + i % 12))
    parts = []
    for f in range(0, len(decls), PER_FILE):
        name = "jobs_%d.libsonnet" % (f // PER_FILE)
        parts.append(name)
        files[name] = ["function(v, c, d)\n{\n"] + decls[f:f + PER_FILE] + ["}\n"]
    main = []
    main.append('local v = {\n  image: "ghcr.io/acme/train:1",\n  token: "secret",\n  team: "ml",\n'
                '  learning_rates: [%s],\n  gpu: "H100:8",\n  data_root: "/data",\n};\n'
                % ", ".join('"%s"' % x for x in LRS))
    main.append('local cluster = {\n')
    for i in range(c):
        main.append('  pool_%d: { id:: "cluster.pool_%d", gpu: "H100:8", nodes: { min: 1, max: 16 }, '
                    'region: "r%d", labels: { team: v.team, pool: "pool-%d" } },\n' % (i, i, i % 7, i))
    main.append('};\nlocal datastore = {\n')
    for i in range(d):
        main.append('  store_%d: { id:: "datastore.store_%d", uri:: "file:///data/%d", size: 2000000000000, '
                    'path: v.data_root + "/%d", versioned: %s },\n'
                    % (i, i, i, i, "true" if i % 2 == 0 else "false"))
    main.append('};\n{\n  cluster: cluster,\n  datastore: datastore,\n  training_job: %s,\n}\n'
                % " + ".join("(import '%s')(v, cluster, datastore)" % p for p in parts))
    files["main.jsonnet"] = main
    return files


WRITERS = {"kiln": write_kiln, "hcl": write_hcl, "jsonnet": write_jsonnet}


def count(n):
    c, d, s, j = plan(n)
    k = Counts()
    for i in range(c):
        a, r = cluster_attrs(i)
        k.objects += 1; k.attributes += a; k.references += r
    for i in range(d):
        a, r = store_attrs(i)
        k.objects += 1; k.attributes += a; k.references += r
    for q in range(s):
        a, r = sweep_attrs(q)
        k.objects += len(LRS); k.attributes += a * len(LRS); k.references += r * len(LRS)
    for i in range(j):
        a, r = job_attrs(i)
        k.objects += 1; k.attributes += a; k.references += r
    return k


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    langs = list(WRITERS)
    for a in argv[1:]:
        if a.startswith("--langs="):
            langs = a.split("=", 1)[1].split(",")
    if len(args) != 2 or any(l not in WRITERS for l in langs):
        sys.stderr.write("usage: gen.py N OUT_DIR [--langs=kiln,hcl,jsonnet]\n")
        return 2
    n = int(args[0])
    out = args[1]
    result = {"n": n}
    for lang in langs:
        d = os.path.join(out, lang)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        files = WRITERS[lang](d, n)
        k = count(n)
        for name, chunks in files.items():
            data = "".join(chunks).encode()
            k.bytes += len(data)
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        result[lang] = k.as_dict()
        print("%-8s N=%d objects=%d attributes=%d references=%d files=%d bytes=%d"
              % (lang, n, k.objects, k.attributes, k.references, len(files), k.bytes))
    with open(os.path.join(out, "counts.json"), "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
