#include "providers/kubernetes/render.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

namespace kiln::kube {

using json = nlohmann::json;

namespace {

const ResourceType kNamespace{"v1", "Namespace", "namespaces", false};
const ResourceType kQuota{"v1", "ResourceQuota", "resourcequotas"};
const ResourceType kLimitRange{"v1", "LimitRange", "limitranges"};
const ResourceType kSecret{"v1", "Secret", "secrets"};
const ResourceType kService{"v1", "Service", "services"};
const ResourceType kClaim{"v1", "PersistentVolumeClaim", "persistentvolumeclaims"};
const ResourceType kDeployment{"apps/v1", "Deployment", "deployments"};
const ResourceType kJob{"batch/v1", "Job", "jobs"};

std::string Str(const json& obj, const char* key, const std::string& def = "") {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_string()) return def;
  return obj[key].get<std::string>();
}

int64_t Int(const json& obj, const char* key, int64_t def) {
  if (!obj.is_object() || !obj.contains(key) || !obj[key].is_number()) return def;
  return obj[key].get<int64_t>();
}

json Metadata(const RenderContext& ctx, const std::string& name, bool namespaced = true) {
  json md = {{"name", name},
             {"labels", {{kManagedByLabel, "kiln"}, {kAddressHashLabel, AddressHash(ctx.address)}}},
             {"annotations", {{kAddressAnnotation, ctx.address}}}};
  if (namespaced) md["namespace"] = ctx.ns;
  return md;
}

Object Make(const ResourceType& t, json md, json rest) {
  json body = {{"apiVersion", t.api_version}, {"kind", t.kind}, {"metadata", std::move(md)}};
  for (auto& [k, v] : rest.items()) body[k] = v;
  return {t, body};
}

std::string SecretName(const std::string& name) { return name + "-secrets"; }

// Container resources: GPUs as nvidia.com/gpu limits (and requests, which
// the quota counts), cpus and memory as requests and limits.
json Resources(const json& config) {
  json res = json::object();
  GpuSpec gpu;
  ParseGpuValue(config.value("gpu", json()), &gpu);
  json limits = json::object();
  if (gpu.count > 0) limits[kGpuResource] = std::to_string(gpu.count);
  if (int64_t cpus = Int(config, "cpus", 0); cpus > 0) limits["cpu"] = std::to_string(cpus);
  if (int64_t mem = Int(config, "memory", 0); mem > 0) limits["memory"] = BytesQuantity(mem);
  if (!limits.empty()) {
    res["limits"] = limits;
    res["requests"] = limits;
  }
  return res;
}

json Command(const json& command) {
  if (command.is_string()) return json::array({"/bin/sh", "-c", command.get<std::string>()});
  if (command.is_array()) return command;
  return json();
}

std::string EnvName(const std::string& name) {
  std::string out;
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : '_';
  return out;
}

// env (plain values), then secrets by reference to the Secret, then kiln's.
json Env(const json& config, const std::string& name, const std::map<std::string, std::string>& extra) {
  json env = json::array();
  std::map<std::string, json> by_name;
  if (config.contains("env") && config["env"].is_object())
    for (const auto& [k, v] : config["env"].items())
      by_name[k] = {{"name", k}, {"value", v.is_string() ? v.get<std::string>() : v.dump()}};
  if (config.contains("secrets") && config["secrets"].is_object())
    for (const auto& [k, v] : config["secrets"].items())
      by_name[k] = {{"name", k}, {"valueFrom", {{"secretKeyRef", {{"name", SecretName(name)}, {"key", k}}}}}};
  for (const auto& [k, v] : extra) by_name[k] = {{"name", k}, {"value", v}};
  for (auto& [k, v] : by_name) env.push_back(v);
  return env;
}

// The Secret holding `secrets`, when there are any.
void AddSecret(const json& config, const RenderContext& ctx, const std::string& name, Rendered* out) {
  if (!config.contains("secrets") || !config["secrets"].is_object() || config["secrets"].empty()) return;
  json data = json::object();
  for (const auto& [k, v] : config["secrets"].items()) data[k] = Base64(v.is_string() ? v.get<std::string>() : v.dump());
  out->objects.push_back(Make(kSecret, Metadata(ctx, SecretName(name)), {{"type", "Opaque"}, {"data", data}}));
}

json GpuAffinity(const RenderContext& ctx) {
  if (ctx.gpu_products.empty()) return json();
  return {{"nodeAffinity",
           {{"requiredDuringSchedulingIgnoredDuringExecution",
             {{"nodeSelectorTerms",
               json::array({{{"matchExpressions",
                              json::array({{{"key", kGpuProductLabel}, {"operator", "In"},
                                            {"values", ctx.gpu_products}}})}}})}}}}}};
}

// Volumes and mounts of the output and input datastores.
void Volumes(const RenderContext& ctx, json* pod_spec, json* container, std::map<std::string, std::string>* env) {
  json volumes = json::array(), mounts = json::array();
  if (!ctx.output_claim.empty()) {
    volumes.push_back({{"name", "output"}, {"persistentVolumeClaim", {{"claimName", ctx.output_claim}}}});
    mounts.push_back({{"name", "output"}, {"mountPath", "/kiln/output"}});
    (*env)["KILN_OUTPUT"] = "/kiln/output";
  }
  for (const auto& [input, claim] : ctx.input_claims) {
    std::string vol = "input-" + DnsName("x." + input).substr(0, 40);
    volumes.push_back({{"name", vol}, {"persistentVolumeClaim", {{"claimName", claim}, {"readOnly", true}}}});
    mounts.push_back({{"name", vol}, {"mountPath", "/kiln/inputs/" + input}, {"readOnly", true}});
    (*env)["KILN_INPUT_" + EnvName(input)] = "/kiln/inputs/" + input;
  }
  if (!volumes.empty()) {
    (*pod_spec)["volumes"] = volumes;
    (*container)["volumeMounts"] = mounts;
  }
}

bool NeedImage(const json& config, Rendered* out) {
  if (Str(config, "image").empty()) {
    out->error = "the kubernetes provider runs containers: set `image`";
    out->error_attribute = "image";
    return false;
  }
  if (Command(config.value("command", json())).is_null()) {
    out->error = "`command` must be a string or a list of strings";
    out->error_attribute = "command";
    return false;
  }
  return true;
}

}  // namespace

std::string Object::Describe() const {
  std::string ns_ = ns();
  return type.kind + " " + (ns_.empty() ? "" : ns_ + "/") + name();
}

std::string AddressHash(const std::string& address) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : address) h = (h ^ c) * 16777619u;
  char buf[9];
  snprintf(buf, sizeof buf, "%08x", h);
  return buf;
}

std::string DnsName(const std::string& address) {
  // Drop the kind: the segment before the resource name.
  std::string a = address;
  static const char* kKinds[] = {"cluster.", "datastore.", "training_job.", "endpoint."};
  for (const char* k : kKinds) {
    size_t at = a.rfind(k);
    if (at != std::string::npos && (at == 0 || a[at - 1] == '.')) {
      a = a.substr(0, at) + a.substr(at + std::string(k).size());
      break;
    }
  }
  std::string out;
  for (char c : a) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool ok = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9');
    if (ok) out += l;
    else if (!out.empty() && out.back() != '-') out += '-';
  }
  // "module-" prefixes say nothing in a name.
  for (size_t at; (at = out.find("module-")) != std::string::npos && (at == 0 || out[at - 1] == '-');)
    out.erase(at, 7);
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.empty() || !(out[0] >= 'a' && out[0] <= 'z')) out = "k-" + out;
  // Room for "-canary", "-secrets" and "-NN" suffixes inside 63.
  if (out.size() > 40) {
    out = out.substr(0, 31);
    while (!out.empty() && out.back() == '-') out.pop_back();
    out += "-" + AddressHash(address);
  }
  return out;
}

std::string ResolveAddress(const std::string& self, const std::string& ref) {
  if (ref.rfind("module.", 0) == 0) return ref;
  std::string prefix;
  static const char* kKinds[] = {".training_job.", ".endpoint.", ".cluster.", ".datastore."};
  for (const char* kind : kKinds) {
    size_t at = self.rfind(kind);
    if (at != std::string::npos && at + 1 > prefix.size()) prefix = self.substr(0, at + 1);
  }
  return prefix + ref;
}

std::string BytesQuantity(int64_t bytes) {
  static const char* kSuffix[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  if (bytes <= 0) return "0";
  int best = -1;
  int64_t unit = 1;
  for (int i = 0; i < 6; ++i) {
    unit *= 1024;
    if (bytes % unit != 0) break;
    best = i;
  }
  if (best < 0) return std::to_string(bytes);
  int64_t div = 1;
  for (int i = 0; i <= best; ++i) div *= 1024;
  return std::to_string(bytes / div) + kSuffix[best];
}

std::string DecimalQuantity(double value) {
  double milli = std::round(value * 1000);
  if (std::fmod(milli, 1000) == 0) return std::to_string(static_cast<int64_t>(milli / 1000));
  return std::to_string(static_cast<int64_t>(milli)) + "m";
}

bool ParseQuantity(const std::string& s, double* out) {
  if (s.empty()) return false;
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' || s[i] == '+' || s[i] == '-'))
    ++i;
  if (i == 0) return false;
  double v = 0;
  try {
    v = std::stod(s.substr(0, i));
  } catch (...) {
    return false;
  }
  std::string suffix = s.substr(i);
  static const std::map<std::string, double> kMul = {
      {"", 1},      {"m", 1e-3},  {"k", 1e3},  {"M", 1e6},  {"G", 1e9},  {"T", 1e12},
      {"P", 1e15},  {"E", 1e18},  {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0},
      {"Ti", 1099511627776.0}, {"Pi", 1125899906842624.0}, {"Ei", 1152921504606846976.0}};
  auto it = kMul.find(suffix);
  if (it == kMul.end()) return false;
  *out = v * it->second;
  return true;
}

bool SameQuantity(const json& a, const json& b) {
  if (a == b) return true;
  auto text = [](const json& j) { return j.is_string() ? j.get<std::string>() : j.is_number() ? j.dump() : std::string(); };
  double x = 0, y = 0;
  return ParseQuantity(text(a), &x) && ParseQuantity(text(b), &y) && std::fabs(x - y) <= 1e-9 * std::max(1.0, std::fabs(x));
}

bool ParseGpuValue(const json& v, GpuSpec* out) {
  *out = {};
  if (v.is_null()) return true;
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    size_t colon = s.find(':');
    out->model = s.substr(0, colon);
    out->count = 1;
    if (colon != std::string::npos) {
      try {
        out->count = std::stoi(s.substr(colon + 1));
      } catch (...) {
        return false;
      }
    }
    return true;
  }
  if (!v.is_object() || v.contains("$unknown")) return false;
  out->model = Str(v, "model");
  out->memory = Int(v, "memory", 0);
  out->count = static_cast<int>(Int(v, "count", 1));
  return true;
}

bool ParseRangeValue(const json& v, int64_t def, int64_t* min, int64_t* max) {
  if (v.is_null()) {
    *min = *max = def;
    return true;
  }
  if (v.is_number_integer()) {
    *min = *max = v.get<int64_t>();
    return true;
  }
  if (v.is_object() && v.contains("min") && v["min"].is_number_integer()) {
    *min = v["min"].get<int64_t>();
    *max = v.contains("max") && v["max"].is_number_integer() ? v["max"].get<int64_t>() : *min;
    return true;
  }
  return false;
}

ReplicaPlan PlanReplicas(const json& config) {
  ReplicaPlan p;
  ParseRangeValue(config.value("replicas", json()), 1, &p.min, &p.max);
  json autoscale = config.value("autoscale", json());
  p.autoscaled = autoscale.is_object() && p.max > p.min;
  json canary = config.value("canary", json());
  int64_t weight = canary.is_object() ? Int(canary, "weight", 0) : 0;
  if (weight > 0) {
    // Traffic follows replica proportions: the Service selects both tracks.
    p.canary = std::max<int64_t>(1, (p.min * weight + 50) / 100);
    p.stable = std::max<int64_t>(p.min - p.canary, weight >= 100 ? 0 : 1);
  } else {
    p.stable = p.min;
  }
  return p;
}

Rendered RenderCluster(const json& config, const RenderContext& ctx) {
  Rendered out;
  json ns_md = Metadata(ctx, ctx.ns, false);
  if (config.contains("labels") && config["labels"].is_object())
    for (const auto& [k, v] : config["labels"].items())
      if (v.is_string()) ns_md["labels"][k] = v;
  out.objects.push_back(Make(kNamespace, ns_md, json::object()));
  GpuSpec gpu;
  if (!ParseGpuValue(config.value("gpu", json()), &gpu)) {
    out.error = "`gpu` is not MODEL:COUNT";
    out.error_attribute = "gpu";
    return out;
  }
  int64_t nmin = 1, nmax = 1;
  ParseRangeValue(config.value("nodes", json()), 1, &nmin, &nmax);
  // The team may hold what its largest size holds: gpu x nodes.max.
  json hard = json::object();
  if (gpu.count > 0) hard["requests." + std::string(kGpuResource)] = std::to_string(gpu.count * nmax);
  if (int64_t cpus = Int(config, "cpus", 0); cpus > 0) hard["requests.cpu"] = std::to_string(cpus * nmax);
  if (int64_t mem = Int(config, "memory", 0); mem > 0) hard["requests.memory"] = BytesQuantity(mem * nmax);
  if (!hard.empty())
    out.objects.push_back(Make(kQuota, Metadata(ctx, "kiln-quota"), {{"spec", {{"hard", hard}}}}));
  // Containers without requests still count against a cpu/memory quota
  // through these defaults; no container asks more GPUs than a node has.
  json limit = {{"type", "Container"}, {"defaultRequest", {{"cpu", "100m"}, {"memory", "256Mi"}}}};
  if (gpu.count > 0) {
    limit["max"] = {{kGpuResource, std::to_string(gpu.count)}};
    // Without it the server defaults the limit to `max`: every container
    // would ask for a node's GPUs.
    limit["default"] = {{kGpuResource, "0"}};
  }
  out.objects.push_back(Make(kLimitRange, Metadata(ctx, "kiln-limits"), {{"spec", {{"limits", json::array({limit})}}}}));
  return out;
}

Rendered RenderDatastore(const json& config, const RenderContext& ctx) {
  Rendered out;
  std::string type = Str(config, "type", "filesystem");
  if (type == "object") {
    out.error = "the kubernetes provider has no object stores; use type = \"filesystem\" or \"volume\" (a PersistentVolumeClaim)";
    out.error_attribute = "type";
    return out;
  }
  int64_t size = Int(config, "size", 0);
  if (size <= 0) {
    out.error = "a PersistentVolumeClaim needs a `size`";
    out.error_attribute = "size";
    return out;
  }
  std::string mode = type == "volume" ? "ReadWriteOnce" : "ReadWriteMany";
  out.objects.push_back(Make(kClaim, Metadata(ctx, DnsName(ctx.address)),
                             {{"spec", {{"accessModes", json::array({mode})},
                                        {"resources", {{"requests", {{"storage", BytesQuantity(size)}}}}}}}}));
  return out;
}

Rendered RenderTrainingJob(const json& config, const RenderContext& ctx) {
  Rendered out;
  if (!NeedImage(config, &out)) return out;
  std::string name = DnsName(ctx.address);
  int64_t nodes = Int(config, "nodes", 1);
  if (nodes < 1) {
    out.error = "`nodes` must be at least 1";
    out.error_attribute = "nodes";
    return out;
  }
  AddSecret(config, ctx, name, &out);
  GpuSpec gpu;
  ParseGpuValue(config.value("gpu", json()), &gpu);
  std::vector<std::string> addrs;
  for (int64_t i = 0; i < nodes; ++i)
    addrs.push_back(name + "-" + std::to_string(i) + "." + name + "." + ctx.ns + ".svc.cluster.local");
  if (nodes > 1) {
    // Pods find each other by name: NAME-i.NAME.NS.svc.
    json md = Metadata(ctx, name);
    out.objects.push_back(Make(kService, md,
                               {{"spec", {{"clusterIP", "None"},
                                          {"publishNotReadyAddresses", true},
                                          {"selector", {{"kiln.dev/job", name}}},
                                          {"ports", json::array({{{"name", "rendezvous"}, {"port", kMasterPort},
                                                                  {"protocol", "TCP"}}})}}}}));
  }
  for (int64_t i = 0; i < nodes; ++i) {
    std::map<std::string, std::string> extra;
    json pod_spec = {{"restartPolicy", "Never"}};
    json container = {{"name", "main"}, {"image", Str(config, "image")}, {"command", Command(config["command"])}};
    Volumes(ctx, &pod_spec, &container, &extra);
    std::string job_name = nodes > 1 ? name + "-" + std::to_string(i) : name;
    if (nodes > 1) {
      std::string all;
      for (const auto& a : addrs) all += (all.empty() ? "" : ",") + a;
      int per = std::max(gpu.count, 1);
      extra["KILN_NODE_RANK"] = extra["NODE_RANK"] = std::to_string(i);
      extra["KILN_NUM_NODES"] = std::to_string(nodes);
      extra["KILN_NODE_ADDRS"] = all;
      extra["KILN_MASTER_ADDR"] = extra["MASTER_ADDR"] = addrs[0];
      extra["KILN_MASTER_PORT"] = extra["MASTER_PORT"] = std::to_string(kMasterPort);
      extra["KILN_GPUS_PER_NODE"] = std::to_string(gpu.count);
      extra["WORLD_SIZE"] = std::to_string(nodes * per);
      pod_spec["hostname"] = job_name;
      pod_spec["subdomain"] = name;
      // One pod per node.
      pod_spec["affinity"] = {{"podAntiAffinity",
                               {{"requiredDuringSchedulingIgnoredDuringExecution",
                                 json::array({{{"labelSelector", {{"matchLabels", {{"kiln.dev/job", name}}}}},
                                               {"topologyKey", "kubernetes.io/hostname"}}})}}}};
    }
    json env = Env(config, name, extra);
    if (!env.empty()) container["env"] = env;
    json res = Resources(config);
    if (!res.empty()) container["resources"] = res;
    if (json aff = GpuAffinity(ctx); !aff.is_null()) {
      if (pod_spec.contains("affinity")) pod_spec["affinity"].update(aff);
      else pod_spec["affinity"] = aff;
    }
    pod_spec["containers"] = json::array({container});
    json spec = {{"backoffLimit", Int(config, "retries", 0)},
                 {"template", {{"metadata", {{"labels", {{"kiln.dev/job", name}, {kManagedByLabel, "kiln"}}}}},
                               {"spec", pod_spec}}}};
    if (int64_t ms = Int(config, "max_runtime", 0); ms > 0) spec["activeDeadlineSeconds"] = (ms + 999) / 1000;
    out.objects.push_back(Make(kJob, Metadata(ctx, job_name), {{"spec", spec}}));
  }
  return out;
}

Rendered RenderEndpoint(const json& config, const RenderContext& ctx) {
  Rendered out;
  if (!NeedImage(config, &out)) return out;
  std::string name = DnsName(ctx.address);
  int64_t port = Int(config, "port", 8080);
  if (port < 1 || port > 65535) {
    out.error = "`port` must be in 1..65535";
    out.error_attribute = "port";
    return out;
  }
  ReplicaPlan rp = PlanReplicas(config);
  AddSecret(config, ctx, name, &out);
  json hc = config.value("health_check", json::object());
  int64_t interval = std::max<int64_t>(1, (Int(hc, "interval", 10000) + 999) / 1000);
  auto deployment = [&](const std::string& track, const std::string& model, int64_t replicas, bool set_replicas) {
    std::map<std::string, std::string> extra = {{"PORT", std::to_string(port)}, {"KILN_MODEL", model}};
    json container = {{"name", "main"}, {"image", Str(config, "image")}, {"command", Command(config["command"])},
                      {"ports", json::array({{{"name", "http"}, {"containerPort", port}, {"protocol", "TCP"}}})},
                      {"readinessProbe", {{"httpGet", {{"path", Str(hc, "path", "/health")}, {"port", port}}},
                                          {"periodSeconds", interval}}}};
    json pod_spec = json::object();
    Volumes(ctx, &pod_spec, &container, &extra);
    container["env"] = Env(config, name, extra);
    json res = Resources(config);
    if (!res.empty()) container["resources"] = res;
    if (json aff = GpuAffinity(ctx); !aff.is_null()) pod_spec["affinity"] = aff;
    pod_spec["containers"] = json::array({container});
    json labels = {{"kiln.dev/endpoint", name}, {"kiln.dev/track", track}};
    json spec = {{"selector", {{"matchLabels", labels}}},
                 {"template", {{"metadata", {{"labels", labels}}}, {"spec", pod_spec}}}};
    if (set_replicas) spec["replicas"] = replicas;
    std::string dname = track == "stable" ? name : name + "-canary";
    return Make(kDeployment, Metadata(ctx, dname), {{"spec", spec}});
  };
  // With an HPA, it owns the stable replica count: kiln leaves it out.
  out.objects.push_back(deployment("stable", Str(config, "model"), rp.stable, !rp.autoscaled));
  json canary = config.value("canary", json());
  if (rp.canary > 0) out.objects.push_back(deployment("canary", Str(canary, "model"), rp.canary, true));
  out.objects.push_back(Make(kService, Metadata(ctx, name),
                             {{"spec", {{"selector", {{"kiln.dev/endpoint", name}}},
                                        {"ports", json::array({{{"name", "http"}, {"port", port},
                                                                {"targetPort", port}, {"protocol", "TCP"}}})}}}}));
  if (rp.autoscaled) {
    json as = config["autoscale"];
    std::string metric = Str(as, "metric", "rps");
    static const std::map<std::string, std::string> kMetric = {
        {"rps", "http_requests_per_second"}, {"concurrency", "http_requests_in_flight"},
        {"gpu_utilization", "DCGM_FI_DEV_GPU_UTIL"}};
    auto it = kMetric.find(metric);
    double target = as.contains("target") && as["target"].is_number() ? as["target"].get<double>() : 1;
    ResourceType hpa{ctx.hpa_api_version, "HorizontalPodAutoscaler", "horizontalpodautoscalers"};
    json metrics = json::array({{{"type", "Pods"},
                                 {"pods", {{"metric", {{"name", it == kMetric.end() ? metric : it->second}}},
                                           {"target", {{"type", "AverageValue"},
                                                       {"averageValue", DecimalQuantity(target)}}}}}}});
    out.objects.push_back(Make(hpa, Metadata(ctx, name),
                               {{"spec", {{"scaleTargetRef", {{"apiVersion", "apps/v1"}, {"kind", "Deployment"},
                                                              {"name", name}}},
                                          {"minReplicas", std::max<int64_t>(1, rp.stable)},
                                          {"maxReplicas", std::max<int64_t>(1, rp.max - rp.canary)},
                                          {"metrics", metrics}}}}));
  }
  return out;
}

bool Covers(const json& live, const json& want, std::string* where) {
  if (want.is_object()) {
    if (!live.is_object()) return false;
    for (const auto& [k, v] : want.items()) {
      std::string sub;
      json lv = live.contains(k) ? live[k] : json();
      if (!Covers(lv, v, &sub)) {
        *where = k + (sub.empty() ? "" : (sub[0] == '[' ? "" : ".") + sub);
        return false;
      }
    }
    return true;
  }
  if (want.is_array()) {
    if (!live.is_array() || live.size() != want.size()) return false;
    for (size_t i = 0; i < want.size(); ++i) {
      std::string sub;
      if (!Covers(live[i], want[i], &sub)) {
        *where = "[" + std::to_string(i) + "]" + (sub.empty() ? "" : (sub[0] == '[' ? "" : ".") + sub);
        return false;
      }
    }
    return true;
  }
  if (live == want) return true;
  return want.is_string() && SameQuantity(live, want);
}

}  // namespace kiln::kube
