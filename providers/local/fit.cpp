// The whole plan's GPUs against this machine (Provider::CheckPlan): what
// the plan's clusters reserve and its endpoints (which run forever) need
// must fit the inventory; every job must fit its pool some day; and the
// plan says how many jobs will wait in the queue.
#include <algorithm>

#include "providers/local/provider_impl.h"

namespace kiln::local {

namespace {

struct Claim {
  std::string address, verb;  // "reserves" (cluster) or "needs"
  int count = 0;
};

std::string Claims(const std::vector<Claim>& claims) {
  std::string out;
  for (size_t i = 0; i < claims.size(); ++i) {
    out += i == 0 ? "" : i + 1 == claims.size() ? " and " : ", ";
    out += claims[i].address + " " + (i == 0 || claims[i].verb != claims[0].verb ? claims[i].verb + " " : "") +
           std::to_string(claims[i].count);
  }
  return out;
}

int Min(const json& range, int def) {
  int64_t min = def, max = def;
  if (!ParseRange(range, def, &min, &max)) return def;
  return static_cast<int>(std::max<int64_t>(min, 0));
}

}  // namespace

PlanCheckResponse LocalProvider::CheckPlan(const PlanCheckRequest& req) {
  PlanCheckResponse resp;
  auto error = [&](const std::string& address, const std::string& msg, const std::string& detail = "") {
    resp.diagnostics.push_back({address, Err(msg, {}, detail)});
  };
  struct Cluster {
    GpuRequest gpu;
    int size = 0;
    std::string model;
  };
  std::map<std::string, Cluster> clusters;
  for (const auto& r : req.resources) {
    if (r.kind != "cluster" || r.action == "delete") continue;
    Cluster c;
    std::string e;
    if (ContainsUnknown(r.config.value("gpu", json())) || !ParseGpu(r.config.value("gpu", json()), &c.gpu, &e))
      continue;
    c.size = c.gpu.count * std::max(1, Min(r.config.value("nodes", json()), 1));
    c.model = ModelName(c.gpu);
    clusters[r.address] = c;
  }
  // The cluster a job or endpoint is placed on: "" for none, "?" for one
  // this check cannot see (outside the plan, or unknown).
  auto cluster_of = [&](const PlanCheckResource& r) -> std::string {
    json ref = r.config.value("cluster", json());
    if (ref.is_null()) return "";
    for (const auto& d : r.dependencies)
      if (clusters.count(d)) return d;
    return "?";
  };
  auto label = [&](const std::string& model) { return (model.empty() ? "GPU" : model) + "s"; };
  auto machine_count = [&](const GpuRequest& g) {
    int n = 0;
    for (const auto& x : gpus_) n += Matches(x, g) ? 1 : 0;
    return n;
  };
  std::string machine = simulated_ ? "this machine (simulated)" : "this machine";

  // 1. Clusters and off-cluster endpoints, per GPU model, against the machine.
  std::map<std::string, std::vector<Claim>> by_model;
  std::map<std::string, GpuRequest> model_req;
  std::map<std::string, int> on_cluster;  // endpoints' GPUs per cluster
  std::map<std::string, std::vector<Claim>> cluster_claims;
  for (const auto& [address, c] : clusters) {
    if (c.size <= 0) continue;
    by_model[c.model].push_back({address, "reserves", c.size});
    model_req[c.model] = {c.gpu.model, c.gpu.memory, 0};
  }
  for (const auto& r : req.resources) {
    if (r.kind != "endpoint" || r.action == "delete") continue;
    GpuRequest g;
    std::string e;
    if (ContainsUnknown(r.config.value("gpu", json())) || !ParseGpu(r.config.value("gpu", json()), &g, &e)) continue;
    // The canary (a weight above 0) runs one more replica when replicas.min
    // is 1 (from 2 on, it is one of them).
    json canary = r.config.value("canary", json());
    int canaries = canary.is_object() && canary.value("weight", json(0)).is_number() &&
                           canary.value("weight", json(0)).get<int64_t>() > 0
                       ? 1
                       : 0;
    int min = Min(r.config.value("replicas", json()), 1);
    int need = g.count * (min + (min < 2 ? canaries : 0));
    if (need <= 0) continue;
    std::string cl = cluster_of(r);
    if (cl == "?") continue;
    if (cl.empty()) {
      by_model[ModelName(g)].push_back({r.address, "needs", need});
      model_req[ModelName(g)] = {g.model, g.memory, 0};
    } else {
      on_cluster[cl] += need;
      cluster_claims[cl].push_back({r.address, "needs", need});
    }
  }
  std::map<std::string, int> left;  // per model: what no cluster or endpoint takes
  for (const auto& [model, claims] : by_model) {
    int total = machine_count(model_req[model]), sum = 0;
    for (const auto& c : claims) sum += c.count;
    left[model] = total - sum;
    if (sum > total)
      error(claims[0].address, Claims(claims) + " of the " + std::to_string(total) + " " + label(model) + " of " +
                                   machine + ": " + std::to_string(sum) + " do not fit in " + std::to_string(total),
            "reserve fewer GPUs, run fewer replicas, or remove one of them");
  }
  // 2. Endpoints on a cluster share its reservation.
  for (const auto& [cl, need] : on_cluster) {
    int size = clusters[cl].size;
    if (need > size)
      error(cluster_claims[cl][0].address,
            Claims(cluster_claims[cl]) + " of the " + std::to_string(size) + " GPUs " + cl + " reserves",
            "give the cluster more GPUs or the endpoints fewer replicas");
  }
  // 3. Jobs: each must fit its pool some day; new ones queue when the
  // pool's GPUs are taken now.
  std::map<std::string, int> free_now;  // pool -> GPUs free now
  int new_jobs = 0, waiting = 0;
  std::vector<std::string> waiting_names;
  for (const auto& r : req.resources) {
    if (r.kind != "training_job" || r.action == "delete") continue;
    GpuRequest g;
    std::string e;
    if (ContainsUnknown(r.config.value("gpu", json())) || !ParseGpu(r.config.value("gpu", json()), &g, &e)) continue;
    int nodes = static_cast<int>(std::max<int64_t>(1, Int(r.config, "nodes", 1)));
    std::string cl = cluster_of(r);
    if (cl == "?") continue;
    int per = g.count;
    if (!cl.empty() && per == 0) per = clusters[cl].size / nodes;
    int need = per * nodes;
    if (need <= 0) continue;
    std::string pool_key = cl.empty() ? "machine:" + ModelName(g) : cl;
    int pool_size = 0;
    if (!cl.empty()) {
      pool_size = clusters[cl].size;
      if (need > pool_size) {
        error(r.address, "needs " + std::to_string(need) + " GPUs (" + std::to_string(nodes) + " node(s) × " +
                             std::to_string(per) + ") but " + cl + " reserves " + std::to_string(pool_size) +
                             ", so it could never start");
        continue;
      }
    } else {
      int total = machine_count(g);
      auto it = left.find(ModelName(g));
      pool_size = it == left.end() ? total : std::max(0, it->second);
      if (need > pool_size) {
        std::string why = need > total ? "" : ", after " + Claims(by_model[ModelName(g)]);
        error(r.address, "needs " + std::to_string(need) + " " + label(ModelName(g)) + " (" + std::to_string(nodes) +
                             " node(s) × " + std::to_string(per) + ") but " + machine + " has " +
                             std::to_string(total) + why + (why.empty() ? "" : ", " + std::to_string(pool_size) +
                             " are left for jobs") + ", so it could never start",
              "ask for fewer GPUs, or place it on a cluster that has them");
        continue;
      }
    }
    if (r.action != "create" && r.action != "replace") continue;
    ++new_jobs;
    if (!free_now.count(pool_key)) {
      // What is free now: the pool's size less what running things hold
      // (of a cluster that exists already, or of the unreserved GPUs).
      int held = 0;
      std::vector<int> pool;
      int p = 0;
      std::string e2;
      json probe = r.config;
      if (cl.empty() || ResolveRef(cl, "clusters", r.address).is_object()) {
        if (!cl.empty()) probe["cluster"] = cl;
        if (GpuPool(probe, r.address, 1, &pool, &p, &e2) || !pool.empty())
          for (int i : pool) held += GpuHeld(root_, i) ? 1 : 0;
      }
      int endpoints = cl.empty() ? 0 : on_cluster[cl];
      free_now[pool_key] = std::max(0, pool_size - held - endpoints);
    }
    if (need <= free_now[pool_key]) {
      free_now[pool_key] -= need;
    } else {
      ++waiting;
      waiting_names.push_back(r.address);
      free_now[pool_key] = 0;  // first in, first out: no overtaking
    }
  }
  if (waiting > 0) {
    std::string names;
    for (size_t i = 0; i < waiting_names.size() && i < 5; ++i) names += (i ? ", " : "") + waiting_names[i];
    if (waiting_names.size() > 5) names += ", ...";
    resp.diagnostics.push_back(
        {"", Warn(std::to_string(waiting) + " of " + std::to_string(new_jobs) +
                      " training jobs will wait for a free GPU (" + names + ")",
                  {}, "they queue first in, first out (status `pending`) and start as GPUs free up, "
                      "with no kiln process running")});
  }
  return resp;
}

}  // namespace kiln::local
