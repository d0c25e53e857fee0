// The kubernetes provider over a scripted transport: discovery, the errors
// users see, and the field-manager conflict rule. The real server is
// exercised by tests/kubernetes/integration.
#include <gtest/gtest.h>

#include <unistd.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "providers/kubernetes/kubernetes_provider.h"
#include "providers/kubernetes/render.h"

namespace kiln {
namespace {

using json = nlohmann::json;

// Answers by "METHOD path-without-query" (the first queued answer; the last
// one repeats), 404 otherwise; records every request.
class Script : public kube::Transport {
 public:
  kube::HttpResponse Do(const kube::HttpRequest& req) override {
    std::lock_guard<std::mutex> lock(mu);
    requests.push_back(req);
    std::string key = req.method + " " + req.path.substr(0, req.path.find('?'));
    auto it = answers.find(key);
    if (it == answers.end() || it->second.empty())
      return {404, json({{"kind", "Status"}, {"reason", "NotFound"}, {"message", key + " not found"}}).dump(), ""};
    kube::HttpResponse r = it->second.front();
    if (it->second.size() > 1) it->second.pop_front();
    return r;
  }
  void On(const std::string& key, int status, const json& body) { answers[key].push_back({status, body.dump(), ""}); }
  std::mutex mu;
  std::map<std::string, std::deque<kube::HttpResponse>> answers;
  std::vector<kube::HttpRequest> requests;
};

json Discovery(bool v2) {
  json versions = json::array({{{"groupVersion", "autoscaling/v1"}}, {{"groupVersion", "autoscaling/v2beta2"}}});
  if (v2) versions.push_back({{"groupVersion", "autoscaling/v2"}});
  return {{"kind", "APIGroupList"},
          {"groups", json::array({{{"name", "apps"}, {"versions", json::array({{{"groupVersion", "apps/v1"}}})}},
                                  {{"name", "batch"}, {"versions", json::array({{{"groupVersion", "batch/v1"}}})}},
                                  {{"name", "autoscaling"}, {"versions", versions}}})}};
}

class KubeProvider : public ::testing::Test {
 protected:
  void SetUp() override {
    script_ = std::make_shared<Script>();
    auto s = script_;
    provider_ = NewKubernetesProvider(
        [s](const kube::Connection&) {
          struct Shared : kube::Transport {
            std::shared_ptr<Script> s;
            kube::HttpResponse Do(const kube::HttpRequest& r) override { return s->Do(r); }
          };
          auto t = std::make_unique<Shared>();
          t->s = s;
          return t;
        },
        nullptr);
  }
  ProviderDiagnostics Configure(const json& extra = json::object()) {
    json config = {{"server", "https://k8s.test:6443"}, {"token", "t"}};
    config.update(extra);
    return provider_->Configure({config}).diagnostics;
  }
  std::shared_ptr<Script> script_;
  std::unique_ptr<Provider> provider_;
};

TEST_F(KubeProvider, DiscoveryPicksTheHpaVersion) {
  script_->On("GET /apis", 200, Discovery(false));
  ASSERT_FALSE(HasErrors(Configure({{"namespace", "ns"}})));
  script_->On("GET /api/v1/nodes", 200, {{"items", json::array()}});
  script_->On("PATCH /apis/autoscaling/v2beta2/namespaces/ns/horizontalpodautoscalers/web", 201, json::object());
  json config = {{"image", "s"}, {"command", "x"}, {"model", "m"}, {"replicas", {{"min", 1}, {"max", 3}}},
                 {"autoscale", {{"metric", "rps"}, {"target", 5}}}, {"port", 8080}};
  for (const char* k : {"PATCH /apis/apps/v1/namespaces/ns/deployments/web", "PATCH /api/v1/namespaces/ns/services/web"})
    script_->On(k, 200, json::object());
  PlanResponse plan = provider_->Plan({"endpoint", "endpoint.web", nullptr, config});
  EXPECT_FALSE(HasErrors(plan.diagnostics)) << ErrorText(plan.diagnostics);
  EXPECT_EQ(plan.planned["url"], "http://web.ns.svc.cluster.local:8080");
  EXPECT_EQ(plan.planned["namespace"], "ns");
  bool hpa_dry_run = false;
  for (const auto& r : script_->requests)
    if (r.path.find("/apis/autoscaling/v2beta2/") == 0) {
      hpa_dry_run = true;
      EXPECT_NE(r.path.find("fieldManager=kiln"), std::string::npos);
      EXPECT_NE(r.path.find("dryRun=All"), std::string::npos);
      EXPECT_EQ(r.path.find("force=true"), std::string::npos);
      EXPECT_EQ(r.content_type, "application/apply-patch+yaml");
    }
  EXPECT_TRUE(hpa_dry_run);
}

TEST_F(KubeProvider, UnauthorizedAndUnreachableAreOneClearError) {
  script_->On("GET /apis", 401, {{"kind", "Status"}, {"message", "Unauthorized"}, {"reason", "Unauthorized"}});
  ProviderDiagnostics d = Configure();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].summary,
            "the Kubernetes API server at https://k8s.test:6443 rejected the credentials (401 Unauthorized) during "
            "GET /apis: check the provider's `token` (or the kubeconfig user)");
  EXPECT_EQ(d[0].attribute, Path({"token"}));
  ProviderDiagnostics missing = provider_->Configure({json::object()}).diagnostics;
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].summary, "the kubernetes provider needs `server` (with `token`) or `kubeconfig`");
}

json ConflictStatus(const std::string& manager) {
  return {{"kind", "Status"}, {"status", "Failure"}, {"reason", "Conflict"}, {"code", 409},
          {"message", "Apply failed with 1 conflict: conflict with \"" + manager + "\" using apps/v1: .spec.replicas"},
          {"details", {{"causes", json::array({{{"reason", "FieldManagerConflict"},
                                                 {"message", "conflict with \"" + manager + "\" using apps/v1"},
                                                 {"field", ".spec.replicas"}}})}}}};
}

TEST_F(KubeProvider, ConflictIsTakenBackOnlyWhenThePlanRepairsDrift) {
  script_->On("GET /apis", 200, Discovery(true));
  ASSERT_FALSE(HasErrors(Configure({{"namespace", "ns"}})));
  script_->On("GET /api/v1/nodes", 200, {{"items", json::array()}});
  script_->On("PATCH /apis/apps/v1/namespaces/ns/deployments/web", 409, ConflictStatus("kubectl"));
  script_->On("PATCH /apis/apps/v1/namespaces/ns/deployments/web", 200, json::object());
  script_->On("PATCH /api/v1/namespaces/ns/services/web", 200, json::object());
  json config = {{"image", "s:2"}, {"command", "x"}, {"model", "m"}, {"replicas", 2}, {"port", 8080}};
  // Refresh saw replicas 5: the plan sets it back, so the field is taken back.
  json drifted = config;
  drifted["replicas"] = 5;
  drifted["status"] = "ready";
  PlanResponse plan = provider_->Plan({"endpoint", "endpoint.web", drifted, config});
  EXPECT_FALSE(HasErrors(plan.diagnostics)) << ErrorText(plan.diagnostics);
  int forced = 0;
  for (const auto& r : script_->requests)
    if (r.path.find("/deployments/web") != std::string::npos && r.path.find("force=true") != std::string::npos) ++forced;
  EXPECT_EQ(forced, 1);

  // The recorded replicas equal the configuration's: nobody saw the change,
  // so the conflict is reported with the manager and the field.
  script_->answers.clear();
  script_->On("GET /api/v1/nodes", 200, {{"items", json::array()}});
  script_->On("PATCH /apis/apps/v1/namespaces/ns/deployments/web", 409, ConflictStatus("ops-team"));
  json recorded = config;
  recorded["image"] = "s:1";
  recorded["status"] = "ready";
  plan = provider_->Plan({"endpoint", "endpoint.web", recorded, config});
  ASSERT_TRUE(HasErrors(plan.diagnostics));
  EXPECT_EQ(plan.diagnostics[0].summary, "Deployment ns/web: field manager \"ops-team\" owns .spec.replicas (409 conflict)");
  EXPECT_EQ(plan.diagnostics[0].attribute, Path({"replicas"}));
  EXPECT_NE(plan.diagnostics[0].detail.find("force_conflicts = true"), std::string::npos);

  // Refresh reported drift in a field without an attribute of its own: the
  // plan sets it back, so the conflicting fields are taken back.
  script_->answers.clear();
  script_->requests.clear();
  script_->On("GET /api/v1/nodes", 200, {{"items", json::array()}});
  script_->On("PATCH /apis/apps/v1/namespaces/ns/deployments/web", 409, ConflictStatus("ops-team"));
  script_->On("PATCH /apis/apps/v1/namespaces/ns/deployments/web", 200, json::object());
  script_->On("PATCH /api/v1/namespaces/ns/services/web", 200, json::object());
  json seen = config;
  seen["status"] = "drifted: Deployment ns/web spec.template.spec.containers[0].env[1].value was changed outside kiln";
  plan = provider_->Plan({"endpoint", "endpoint.web", seen, config});
  EXPECT_FALSE(HasErrors(plan.diagnostics)) << ErrorText(plan.diagnostics);
  forced = 0;
  for (const auto& r : script_->requests)
    if (r.path.find("/deployments/web") != std::string::npos && r.path.find("force=true") != std::string::npos) ++forced;
  EXPECT_EQ(forced, 1);
}

// State holds `secrets` redacted as one "(sensitive)": read takes the names
// from the live Secret, so the Deployment's env (secretKeyRefs by name) is
// not drift; with the Secret gone it is.
TEST_F(KubeProvider, RedactedSecretsInStateAreNotDrift) {
  script_->On("GET /apis", 200, Discovery(true));
  ASSERT_FALSE(HasErrors(Configure({{"namespace", "ns"}})));
  json config = {{"image", "s:1"}, {"command", "x"}, {"model", "m"}, {"replicas", 1}, {"port", 8080},
                 {"env", {{"A", "b"}}}, {"secrets", {{"TOKEN", "s3cret"}}}};
  kube::RenderContext ctx;
  ctx.address = "endpoint.web";
  ctx.ns = "ns";
  kube::Rendered live = kube::RenderEndpoint(config, ctx);
  ASSERT_TRUE(live.error.empty()) << live.error;
  for (const auto& o : live.objects) {
    std::string base = o.type.api_version == "v1" ? "/api/v1" : "/apis/" + o.type.api_version;
    script_->On("GET " + base + "/namespaces/ns/" + o.type.plural + "/" + o.name(), 200, o.body);
  }
  json state = config;
  state["secrets"] = "(sensitive)";
  state["status"] = "ready";
  state["namespace"] = "ns";
  ReadResponse read = provider_->Read({"endpoint", "endpoint.web", state});
  ASSERT_FALSE(HasErrors(read.diagnostics)) << ErrorText(read.diagnostics);
  EXPECT_EQ(read.state["status"].get<std::string>().rfind("drifted", 0), std::string::npos) << read.state.dump();
  EXPECT_EQ(read.state["secrets"], "(sensitive)");  // the names stay out of state

  script_->answers.erase("GET /api/v1/namespaces/ns/secrets/web-secrets");
  read = provider_->Read({"endpoint", "endpoint.web", state});
  ASSERT_FALSE(HasErrors(read.diagnostics)) << ErrorText(read.diagnostics);
  EXPECT_EQ(read.state["status"], "drifted: Deployment ns/web spec.template.spec.containers[0].env was changed outside kiln");
}

// A plan's refresh of several endpoints: one list call per collection with
// the managed-by selector, no GET per object; an object missing from the
// list is looked up by name and, gone, is drift.
TEST_F(KubeProvider, ReadBatchListsEachCollectionOnce) {
  script_->On("GET /apis", 200, Discovery(true));
  ASSERT_FALSE(HasErrors(Configure({{"namespace", "ns"}})));
  json config = {{"image", "s:1"}, {"command", "x"}, {"model", "m"}, {"replicas", 1}, {"port", 8080}};
  std::map<std::string, json> lists;  // collection -> items
  ReadBatchRequest batch;
  for (const char* name : {"a", "b", "c"}) {
    kube::RenderContext ctx;
    ctx.address = std::string("endpoint.") + name;
    ctx.ns = "ns";
    for (auto o : kube::RenderEndpoint(config, ctx).objects) {
      std::string base = o.type.api_version == "v1" ? "/api/v1" : "/apis/" + o.type.api_version;
      o.body.erase("apiVersion");  // as in a list's items
      o.body.erase("kind");
      if (std::string(name) != "c" || o.type.kind != "Service") lists[base + "/namespaces/ns/" + o.type.plural].push_back(o.body);
    }
    json state = config;
    state["status"] = "ready";
    state["namespace"] = "ns";
    batch.reads.push_back({"endpoint", std::string("endpoint.") + name, state});
  }
  for (const auto& [path, items] : lists) script_->On("GET " + path, 200, {{"kind", "List"}, {"items", items}});
  ReadBatchResponse resp = provider_->ReadBatch(batch);
  ASSERT_EQ(resp.results.size(), 3u);
  for (int i = 0; i < 2; ++i) {
    ASSERT_FALSE(HasErrors(resp.results[i].diagnostics)) << ErrorText(resp.results[i].diagnostics);
    EXPECT_EQ(resp.results[i].state["status"].get<std::string>().rfind("drifted", 0), std::string::npos)
        << resp.results[i].state.dump();
  }
  EXPECT_EQ(resp.results[2].state["status"], "drifted: Service ns/c is missing");
  int lists_sent = 0, gets = 0;
  for (const auto& r : script_->requests) {
    if (r.path.find("labelSelector=app.kubernetes.io%2Fmanaged-by%3Dkiln") != std::string::npos) ++lists_sent;
    else if (r.method == "GET" && r.path != "/apis") ++gets;
  }
  EXPECT_EQ(lists_sent, 2);  // deployments, services
  EXPECT_EQ(gets, 1);        // the Service missing from the list
}

TEST_F(KubeProvider, InventoryFromNodeLabelsThroughTheCatalog) {
  script_->On("GET /apis", 200, Discovery(true));
  ASSERT_FALSE(HasErrors(Configure()));
  script_->On("GET /api/v1/nodes", 200,
              {{"items", json::array({{{"metadata", {{"name", "n1"}, {"labels", {{"nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3"}}}}},
                                       {"status", {{"allocatable", {{"nvidia.com/gpu", "8"}}}}}},
                                      {{"metadata", {{"name", "cpu1"}}}, {"status", {{"allocatable", {{"cpu", "4"}}}}}}})}});
  script_->On("GET /api/v1/pods", 200,
              {{"items", json::array({{{"spec", {{"nodeName", "n1"},
                                                 {"containers", json::array({{{"resources", {{"limits", {{"nvidia.com/gpu", "3"}}}}}}})}}},
                                       {"status", {{"phase", "Running"}}}},
                                      {{"spec", {{"nodeName", "n1"},
                                                 {"containers", json::array({{{"resources", {{"limits", {{"nvidia.com/gpu", "2"}}}}}}})}}},
                                       {"status", {{"phase", "Succeeded"}}}}})}});
  InventoryResponse inv = provider_->Inventory();
  ASSERT_FALSE(HasErrors(inv.diagnostics)) << ErrorText(inv.diagnostics);
  ASSERT_EQ(inv.nodes.size(), 2u);
  ASSERT_EQ(inv.nodes[0].gpus.size(), 1u);
  EXPECT_EQ(inv.nodes[0].gpus[0].model, "H100");
  EXPECT_EQ(inv.nodes[0].gpus[0].count, 8);
  EXPECT_EQ(inv.nodes[0].gpus[0].free, 5);  // the finished pod holds none
  EXPECT_TRUE(inv.nodes[1].gpus.empty());
}

TEST(KubeConfigFile, ContextsAndErrors) {
  std::string dir = std::filesystem::temp_directory_path().string();
  std::string path = dir + "/kiln-kubeconfig-" + std::to_string(getpid()) + ".yaml";
  std::ofstream(path) << "apiVersion: v1\nkind: Config\ncurrent-context: dev\n"
                         "clusters:\n- name: c\n  cluster:\n    server: https://h:6443/\n    certificate-authority: ca.pem\n"
                         "users:\n- name: u\n  user:\n    token: abc\n"
                         "contexts:\n- name: dev\n  context: {cluster: c, user: u, namespace: team}\n"
                         "- name: broken\n  context: {cluster: gone, user: u}\n";
  kube::Connection c;
  std::string error;
  ASSERT_TRUE(kube::LoadKubeconfig(path, "", &c, &error)) << error;
  EXPECT_EQ(c.server, "https://h:6443");
  EXPECT_EQ(c.token, "abc");
  EXPECT_EQ(c.namespace_, "team");
  EXPECT_EQ(c.ca_file, dir + "/ca.pem");
  EXPECT_FALSE(kube::LoadKubeconfig(path, "broken", &c, &error));
  EXPECT_EQ(error, "kubeconfig " + path + ": context `broken` names cluster `gone`, which is not defined");
  EXPECT_FALSE(kube::LoadKubeconfig(path, "prod", &c, &error));
  EXPECT_EQ(error, "kubeconfig " + path + " has no context `prod` (it has: dev, broken)");
  std::ofstream(path) << "clusters: [\n";
  EXPECT_FALSE(kube::LoadKubeconfig(path, "", &c, &error));
  EXPECT_EQ(error.rfind("kubeconfig " + path + " is not valid YAML", 0), 0u) << error;
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace kiln
