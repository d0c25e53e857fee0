// The kubernetes provider against a real kube-apiserver 1.20 (with
// kube-controller-manager, etcd and the fake kubelet), through the real kiln
// binary. KilnRun by tests/kubernetes/run_with_kube.sh, which starts the server
// and exports KILN_KUBE_SERVER, KILN_KUBE_TOKEN, KILN_KUBE_TOKEN_VIEW,
// KILN_KUBE_CA and KILN_KUBE_KUBECONFIG.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "providers/kubernetes/client.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using kube::ResourceType;

const ResourceType kNs{"v1", "Namespace", "namespaces", false};
const ResourceType kQuota{"v1", "ResourceQuota", "resourcequotas"};
const ResourceType kDeploy{"apps/v1", "Deployment", "deployments"};
const ResourceType kSvc{"v1", "Service", "services"};
const ResourceType kJob{"batch/v1", "Job", "jobs"};
const ResourceType kPvc{"v1", "PersistentVolumeClaim", "persistentvolumeclaims"};
const ResourceType kSecret{"v1", "Secret", "secrets"};
const ResourceType kPod{"v1", "Pod", "pods"};

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

struct KilnRun {
  int code = -1;
  std::string out;
};

// Every kiln run is bounded: a hang fails the test with a message instead
// of holding the suite until CTest's timeout.
constexpr int kKilnTimeoutS = 240;

KilnRun Kiln(const std::string& dir, const std::string& args) {
  std::string cmd = "cd '" + dir + "' && NO_COLOR=1 timeout -k 10 " + std::to_string(kKilnTimeoutS) + " '" +
                    std::string(KILN_BINARY) + "' " + args + " 2>&1";
  KilnRun r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (r.code == 124 || r.code == 137)
    r.out += "\n[test] kiln " + args + " did not finish within " + std::to_string(kKilnTimeoutS) + " s (killed)\n";
  return r;
}

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::unique_ptr<kube::Client> AdminClient() {
  kube::Connection c;
  c.server = Env("KILN_KUBE_SERVER");
  c.token = Env("KILN_KUBE_TOKEN");
  c.ca_file = Env("KILN_KUBE_CA");
  return std::make_unique<kube::Client>(kube::NewCurlTransport(c), c.server);
}

// The provider block: token through env(), the CA file of the test server.
std::string Provider(const std::string& extra = "", const std::string& token_env = "KILN_KUBE_TOKEN") {
  return "provider kubernetes k8s {\n  server = \"" + Env("KILN_KUBE_SERVER") + "\"\n  token = env(\"" + token_env +
         "\")\n  ca_file = \"" + Env("KILN_KUBE_CA") + "\"\n" + extra + "}\n\n";
}

class Kube : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(Env("KILN_KUBE_SERVER").empty()) << "run through tests/kubernetes/run_with_kube.sh";
    std::string t = (fs::temp_directory_path() / "kiln-kube-it-XXXXXX").string();
    dir_ = mkdtemp(t.data());
    client_ = AdminClient();
  }
  void TearDown() override {
    Kiln(dir_, "destroy --auto-approve");
    fs::remove_all(dir_);
  }
  void Write(const std::string& text) { std::ofstream(dir_ + "/main.kiln") << text; }
  json Get(const ResourceType& t, const std::string& ns, const std::string& name) {
    kube::Result r = client_->Get(t, ns, name);
    return r.ok() ? r.body : json();
  }
  std::string dir_;
  std::unique_ptr<kube::Client> client_;
};

TEST_F(Kube, EndpointLifecycleDriftAndDestroy) {
  auto config = [&](const std::string& image, int replicas) {
    return Provider() + "cluster serve_a {\n  provider = k8s\n  gpu = \"H100:4\"\n  nodes = 2\n}\n\n"
           "endpoint web {\n  provider = k8s\n  cluster = serve_a\n  model = \"m1\"\n  image = \"" + image +
           "\"\n  command = \"serve\"\n  port = 8000\n  replicas = " + std::to_string(replicas) +
           "\n  gpu = \"H100:1\"\n  secrets = { TOKEN = \"s3cret\" }\n}\n";
  };
  Write(config("registry.local/server:1", 2));
  KilnRun apply = Kiln(dir_, "apply --auto-approve");
  ASSERT_EQ(apply.code, 0) << apply.out;
  json d = Get(kDeploy, "serve-a", "web");
  ASSERT_TRUE(d.is_object());
  EXPECT_EQ(d["metadata"]["labels"]["app.kubernetes.io/managed-by"], "kiln");
  EXPECT_EQ(d["metadata"]["annotations"]["kiln.dev/address"], "endpoint.web");
  EXPECT_EQ(d["status"]["availableReplicas"], 2);  // apply waited for the rollout
  EXPECT_EQ(d.dump().find("s3cret"), std::string::npos);
  json q = Get(kQuota, "serve-a", "kiln-quota");
  EXPECT_EQ(q["spec"]["hard"]["requests.nvidia.com/gpu"], "8");
  json svc = Get(kSvc, "serve-a", "web");
  EXPECT_EQ(svc["spec"]["ports"][0]["protocol"], "TCP");
  EXPECT_TRUE(Get(kSecret, "serve-a", "web-secrets").is_object());
  KilnRun url = Kiln(dir_, "state show endpoint.web");
  EXPECT_TRUE(Has(url.out, "http://web.serve-a.svc.cluster.local:8000")) << url.out;

  KilnRun again = Kiln(dir_, "plan --detailed-exitcode");
  EXPECT_EQ(again.code, 0) << again.out;  // no changes

  // An image and replica change is an in-place update that waits.
  Write(config("registry.local/server:2", 3));
  KilnRun plan = Kiln(dir_, "plan");
  EXPECT_TRUE(Has(plan.out, "endpoint.web will be updated in place")) << plan.out;
  apply = Kiln(dir_, "apply --auto-approve");
  ASSERT_EQ(apply.code, 0) << apply.out;
  d = Get(kDeploy, "serve-a", "web");
  EXPECT_EQ(d["spec"]["template"]["spec"]["containers"][0]["image"], "registry.local/server:2");
  EXPECT_EQ(d["status"]["updatedReplicas"], 3);
  EXPECT_EQ(d["status"]["availableReplicas"], 3);

  // Scaled by another field manager: drift in `replicas`, repaired by the
  // next apply, which takes the field back.
  json scale = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"},
                {"metadata", {{"name", "web"}, {"namespace", "serve-a"}}}, {"spec", {{"replicas", 5}}}};
  kube::Result scaled = client_->Call("PATCH", "/apis/apps/v1/namespaces/serve-a/deployments/web?fieldManager=kubectl&force=true",
                                      "application/apply-patch+yaml", scale.dump());
  ASSERT_TRUE(scaled.ok()) << scaled.error;
  plan = Kiln(dir_, "plan --detailed-exitcode");
  EXPECT_EQ(plan.code, 2) << plan.out;
  EXPECT_TRUE(Has(plan.out, "changed outside of kiln")) << plan.out;
  EXPECT_TRUE(Has(plan.out, "replicas")) << plan.out;
  apply = Kiln(dir_, "apply --auto-approve");
  ASSERT_EQ(apply.code, 0) << apply.out;
  EXPECT_EQ(Get(kDeploy, "serve-a", "web")["spec"]["replicas"], 3);
  EXPECT_EQ(Kiln(dir_, "plan --detailed-exitcode").code, 0);

  // Edited by another field manager in a field without an attribute of its
  // own (an env value kiln sets): drift in `status`, taken back by apply.
  json edit = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"},
               {"metadata", {{"name", "web"}, {"namespace", "serve-a"}}},
               {"spec", {{"template", {{"spec", {{"containers", json::array({{{"name", "main"},
                   {"env", json::array({{{"name", "PORT"}, {"value", "9999"}}})}}})}}}}}}}};
  kube::Result edited = client_->Call("PATCH", "/apis/apps/v1/namespaces/serve-a/deployments/web?fieldManager=ops&force=true",
                                      "application/apply-patch+yaml", edit.dump());
  ASSERT_TRUE(edited.ok()) << edited.error;
  plan = Kiln(dir_, "plan --detailed-exitcode");
  EXPECT_EQ(plan.code, 2) << plan.out;
  EXPECT_TRUE(Has(plan.out, "spec.template.spec.containers[0].env[")) << plan.out;
  EXPECT_TRUE(Has(plan.out, "was changed outside kiln")) << plan.out;
  apply = Kiln(dir_, "apply --auto-approve");
  ASSERT_EQ(apply.code, 0) << apply.out;
  EXPECT_TRUE(Has(apply.out, "from field manager \"ops\"")) << apply.out;
  bool port_back = false;
  d = Get(kDeploy, "serve-a", "web");
  for (const auto& e : d["spec"]["template"]["spec"]["containers"][0]["env"])
    if (e.value("name", "") == "PORT") port_back = e.value("value", "") == "8000";
  EXPECT_TRUE(port_back) << d.dump();
  EXPECT_EQ(Kiln(dir_, "plan --detailed-exitcode").code, 0);

  KilnRun destroy = Kiln(dir_, "destroy --auto-approve");
  ASSERT_EQ(destroy.code, 0) << destroy.out;
  EXPECT_TRUE(Get(kDeploy, "serve-a", "web").is_null());
  EXPECT_TRUE(Get(kNs, "", "serve-a").is_null());
}

TEST_F(Kube, MultiNodeJobRunsOnePodPerNodeAndCompletes) {
  Write(Provider() +
        "cluster train_a {\n  provider = k8s\n  gpu = \"H100:4\"\n  nodes = 2\n}\n\n"
        "training_job pretrain {\n  provider = k8s\n  cluster = train_a\n  image = \"trainer:1\"\n"
        "  command = \"torchrun train.py\"\n  nodes = 2\n  gpu = \"H100:4\"\n  retries = 1\n  max_runtime = 10m\n"
        "  env = { EPOCHS = \"1\" }\n  secrets = { HF = \"tok\" }\n  wait = true\n}\n");
  KilnRun apply = Kiln(dir_, "apply --auto-approve");
  ASSERT_EQ(apply.code, 0) << apply.out;
  for (int i = 0; i < 2; ++i) {
    json job = Get(kJob, "train-a", "pretrain-" + std::to_string(i));
    ASSERT_TRUE(job.is_object());
    EXPECT_EQ(job["status"]["succeeded"], 1);
    EXPECT_EQ(job["spec"]["backoffLimit"], 1);
    EXPECT_EQ(job["spec"]["activeDeadlineSeconds"], 600);
    EXPECT_EQ(job.dump().find("\"tok\""), std::string::npos);
  }
  EXPECT_EQ(Get(kSvc, "train-a", "pretrain")["spec"]["clusterIP"], "None");
  // One pod per node.
  kube::Result pods = client_->List(kPod, "train-a", "kiln.dev/job=pretrain");
  ASSERT_TRUE(pods.ok());
  ASSERT_EQ(pods.body["items"].size(), 2u);
  EXPECT_NE(pods.body["items"][0]["spec"]["nodeName"], pods.body["items"][1]["spec"]["nodeName"]);
  KilnRun show = Kiln(dir_, "state show training_job.pretrain");
  EXPECT_TRUE(Has(show.out, "succeeded")) << show.out;
  EXPECT_EQ(Kiln(dir_, "plan --detailed-exitcode").code, 0);
}

// The compiler's catalog check (E0440/E0441: GPUs per node against the
// cluster's `gpu`) passes for these; the provider's live checks refuse: the
// namespace's ResourceQuota against GPUs x replicas, and the nodes'
// allocatable nvidia.com/gpu (H100 x 4 each) against a request with no
// cluster or a GPU model no node has. Each message names both sides.
TEST_F(Kube, GpuRequestsAboveQuotaOrNodesAreRefusedAtPlan) {
  std::string small = Provider() + "cluster small {\n  provider = k8s\n  gpu = \"H100:2\"\n}\n\n";
  Write(small);
  KilnRun apply = Kiln(dir_, "apply --auto-approve");
  ASSERT_EQ(apply.code, 0) << apply.out;
  Write(small +
        "endpoint big {\n  provider = k8s\n  cluster = small\n  model = \"m\"\n  image = \"s\"\n  command = \"x\"\n"
        "  gpu = \"H100:2\"\n  replicas = 2\n}\n\n"
        "endpoint huge {\n  provider = k8s\n  model = \"m\"\n  image = \"s\"\n  command = \"x\"\n  gpu = \"H100:8\"\n}\n");
  KilnRun plan = Kiln(dir_, "plan");
  EXPECT_EQ(plan.code, 1) << plan.out;
  EXPECT_FALSE(Has(plan.out, "E044")) << plan.out;  // not the compiler's check
  EXPECT_TRUE(Has(plan.out, "endpoint.big needs 4 nvidia.com/gpu (2 × H100 × 2 pods) but the ResourceQuota "
                            "small/kiln-quota allows 2 (0 in use)"))
      << plan.out;
  EXPECT_TRUE(Has(plan.out, "endpoint.huge needs a node with 8 × H100 allocatable, but no node has that "
                            "(kiln-node-0: 4 × H100, kiln-node-1: 4 × H100)"))
      << plan.out;
  // Quota in use counts: a second endpoint within the quota alone, after
  // one that takes all of it.
  Write(small +
        "endpoint first {\n  provider = k8s\n  cluster = small\n  model = \"m\"\n  image = \"s\"\n  command = \"x\"\n"
        "  gpu = \"H100:2\"\n}\n");
  apply = Kiln(dir_, "apply --auto-approve");
  ASSERT_EQ(apply.code, 0) << apply.out;
  Write(small +
        "endpoint first {\n  provider = k8s\n  cluster = small\n  model = \"m\"\n  image = \"s\"\n  command = \"x\"\n"
        "  gpu = \"H100:2\"\n}\n\n"
        "training_job second {\n  provider = k8s\n  cluster = small\n  image = \"t\"\n  command = \"x\"\n"
        "  gpu = \"H100:1\"\n}\n");
  plan = Kiln(dir_, "plan");
  EXPECT_EQ(plan.code, 1) << plan.out;
  EXPECT_TRUE(Has(plan.out, "training_job.second needs 1 nvidia.com/gpu (1 × H100 × 1 pod) but the ResourceQuota "
                            "small/kiln-quota allows 2 (2 in use)"))
      << plan.out;
  Write(Provider() + "cluster wide {\n  provider = k8s\n  gpu = \"A100:1\"\n}\n");
  plan = Kiln(dir_, "plan");
  EXPECT_EQ(plan.code, 1) << plan.out;
  EXPECT_TRUE(Has(plan.out, "needs a node with 1 × A100-40GB allocatable")) << plan.out;
  EXPECT_TRUE(Has(plan.out, "kiln-node-0: 4 × H100")) << plan.out;
  EXPECT_TRUE(Get(kNs, "", "wide").is_null());
}

TEST_F(Kube, ServerValidationIsSeenAtPlan) {
  Write(Provider("  namespace = \"default\"\n") +
        "endpoint bad {\n  provider = k8s\n  model = \"m\"\n  image = \"nginx\"\n  command = \"x\"\n"
        "  env = { \"1BAD\" = \"x\" }\n}\n");
  KilnRun plan = Kiln(dir_, "plan");
  EXPECT_EQ(plan.code, 1) << plan.out;
  EXPECT_TRUE(Has(plan.out, "the API server rejects Deployment default/bad")) << plan.out;
  EXPECT_TRUE(Has(plan.out, "valid environment variable name")) << plan.out;
  EXPECT_TRUE(Get(kDeploy, "default", "bad").is_null());  // a dry run changes nothing
}

TEST_F(Kube, UnreachableWrongTokenAndForbidden) {
  Write("provider kubernetes k8s {\n  server = \"https://127.0.0.1:1\"\n  token = \"x\"\n"
        "  insecure_skip_tls_verify = true\n}\n\ndatastore d {\n  provider = k8s\n  size = 1GiB\n}\n");
  KilnRun r = Kiln(dir_, "plan");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Has(r.out, "cannot reach the Kubernetes API server at https://127.0.0.1:1")) << r.out;

  Write("provider kubernetes k8s {\n  server = \"" + Env("KILN_KUBE_SERVER") +
        "\"\n  token = \"wrong\"\n  insecure_skip_tls_verify = true\n}\n\ndatastore d {\n  provider = k8s\n  size = 1GiB\n}\n");
  r = Kiln(dir_, "plan");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Has(r.out, "rejected the credentials (401 Unauthorized)")) << r.out;

  Write(Provider("", "KILN_KUBE_TOKEN_VIEW") + "datastore d {\n  provider = k8s\n  size = 1GiB\n}\n");
  r = Kiln(dir_, "apply --auto-approve");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Has(r.out, "forbidden (403)")) << r.out;
  EXPECT_TRUE(Has(r.out, "cannot patch resource \"persistentvolumeclaims\"")) << r.out;
  EXPECT_TRUE(Get(kPvc, "default", "d").is_null());
}

TEST_F(Kube, KubeconfigContext) {
  Write("provider kubernetes k8s {\n  kubeconfig = \"" + Env("KILN_KUBE_KUBECONFIG") +
        "\"\n  context = \"admin\"\n  namespace = \"default\"\n}\n\n"
        "datastore scratch {\n  provider = k8s\n  type = \"volume\"\n  size = 2GiB\n  force_destroy = true\n}\n");
  KilnRun r = Kiln(dir_, "apply --auto-approve");
  ASSERT_EQ(r.code, 0) << r.out;
  json pvc = Get(kPvc, "default", "scratch");
  ASSERT_TRUE(pvc.is_object());
  EXPECT_EQ(pvc["spec"]["resources"]["requests"]["storage"], "2Gi");
  EXPECT_EQ(pvc["spec"]["accessModes"][0], "ReadWriteOnce");
  Write("provider kubernetes k8s {\n  kubeconfig = \"" + Env("KILN_KUBE_KUBECONFIG") +
        "\"\n  context = \"nope\"\n}\n\ndatastore scratch {\n  provider = k8s\n  size = 2GiB\n}\n");
  r = Kiln(dir_, "plan");
  EXPECT_EQ(r.code, 1);
  EXPECT_TRUE(Has(r.out, "has no context `nope` (it has: admin, viewer)")) << r.out;
  Write("provider kubernetes k8s {\n  kubeconfig = \"" + Env("KILN_KUBE_KUBECONFIG") +
        "\"\n  context = \"admin\"\n  namespace = \"default\"\n}\n\n"
        "datastore scratch {\n  provider = k8s\n  type = \"volume\"\n  size = 2GiB\n  force_destroy = true\n}\n");
}

// Secrets live in a Secret; state keeps them redacted. A changed value
// updates the Secret, removed secrets delete it, and every plan after an
// apply is a no-op (and returns: a plan after a Secret once hung).
TEST_F(Kube, SecretsChangeAndGoAway) {
  auto config = [&](const std::string& secrets) {
    return Provider("  namespace = \"default\"\n") +
           "endpoint vault {\n  provider = k8s\n  model = \"m\"\n  image = \"s:1\"\n  command = \"x\"\n" +
           (secrets.empty() ? "" : "  secrets = { " + secrets + " }\n") + "}\n";
  };
  auto env_names = [&]() {
    std::string names;
    json d = Get(kDeploy, "default", "vault");
    for (const auto& e : d["spec"]["template"]["spec"]["containers"][0]["env"]) names += e.value("name", "") + " ";
    return names;
  };
  Write(config("A = \"one\", B = \"two\""));
  KilnRun r = Kiln(dir_, "apply --auto-approve");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(Get(kSecret, "default", "vault-secrets")["data"]["A"], kube::Base64("one"));
  EXPECT_EQ(env_names(), "A B KILN_MODEL PORT ");
  r = Kiln(dir_, "plan --detailed-exitcode");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_FALSE(Has(r.out, "one")) << r.out;

  Write(config("A = \"uno\", B = \"two\""));
  r = Kiln(dir_, "plan --detailed-exitcode");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_FALSE(Has(r.out, "uno")) << r.out;
  r = Kiln(dir_, "apply --auto-approve");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(Get(kSecret, "default", "vault-secrets")["data"]["A"], kube::Base64("uno"));
  r = Kiln(dir_, "plan --detailed-exitcode");
  EXPECT_EQ(r.code, 0) << r.out;

  Write(config(""));
  r = Kiln(dir_, "apply --auto-approve");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(Get(kSecret, "default", "vault-secrets").is_null());
  EXPECT_EQ(env_names(), "KILN_MODEL PORT ");
  r = Kiln(dir_, "plan --detailed-exitcode");
  EXPECT_EQ(r.code, 0) << r.out;
}

// A bound claim may hold data: destroy keeps it (one error naming the
// claim and `force_destroy`) until force_destroy = true is applied.
TEST_F(Kube, BoundClaimIsKeptWithoutForceDestroy) {
  auto config = [&](bool force) {
    return Provider("  namespace = \"default\"\n") + "datastore keep {\n  provider = k8s\n  type = \"volume\"\n  size = 1GiB\n" +
           (force ? "  force_destroy = true\n" : "") + "}\n";
  };
  Write(config(false));
  KilnRun r = Kiln(dir_, "apply --auto-approve");
  ASSERT_EQ(r.code, 0) << r.out;
  bool bound = false;
  for (int i = 0; i < 100 && !bound; ++i) {
    bound = Get(kPvc, "default", "keep")["status"].value("phase", "") == "Bound";
    if (!bound) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(bound);
  r = Kiln(dir_, "destroy --auto-approve");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(Has(r.out, "PersistentVolumeClaim default/keep is bound to a volume and may hold data; it is kept")) << r.out;
  EXPECT_TRUE(Has(r.out, "force_destroy = true")) << r.out;
  EXPECT_TRUE(Get(kPvc, "default", "keep").is_object());
  Write(config(true));
  r = Kiln(dir_, "apply --auto-approve");
  ASSERT_EQ(r.code, 0) << r.out;
  r = Kiln(dir_, "destroy --auto-approve");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_TRUE(Get(kPvc, "default", "keep").is_null());
}

TEST_F(Kube, QuotaRefusalDuringRolloutIsAnError) {
  // Each endpoint fits the quota at plan; together they do not.
  std::string cfg = Provider() + "cluster tight {\n  provider = k8s\n  gpu = \"H100:2\"\n}\n\n";
  for (const char* name : {"one", "two"})
    cfg += std::string("endpoint ") + name + " {\n  provider = k8s\n  cluster = tight\n  model = \"m\"\n  image = \"s\"\n"
           "  command = \"x\"\n  gpu = \"H100:2\"\n}\n\n";
  Write(Provider("  rollout_timeout = 20s\n") + cfg.substr(Provider().size()));
  KilnRun r = Kiln(dir_, "apply --auto-approve --parallelism 1");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(Has(r.out, "exceeded quota: kiln-quota")) << r.out;
  EXPECT_TRUE(Has(r.out, "requests.nvidia.com/gpu")) << r.out;
}

TEST_F(Kube, ConflictWithAnotherManagerNamesIt) {
  std::string base = Provider("  namespace = \"default\"\n") +
                     "endpoint shared {\n  provider = k8s\n  model = \"m\"\n  command = \"x\"\n  replicas = 1\n";
  Write(base + "  image = \"a:1\"\n}\n");
  ASSERT_EQ(Kiln(dir_, "apply --auto-approve").code, 0);
  json scale = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"},
                {"metadata", {{"name", "shared"}, {"namespace", "default"}}}, {"spec", {{"replicas", 2}}}};
  ASSERT_TRUE(client_->Call("PATCH", "/apis/apps/v1/namespaces/default/deployments/shared?fieldManager=ops-team&force=true",
                            "application/apply-patch+yaml", scale.dump()).ok());
  // Without refresh kiln does not know: the image change meets the conflict.
  Write(base + "  image = \"a:2\"\n}\n");
  KilnRun r = Kiln(dir_, "apply --auto-approve --refresh=false");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(Has(r.out, "field manager \"ops-team\" owns .spec.replicas (409 conflict)")) << r.out;
  EXPECT_TRUE(Has(r.out, "force_conflicts")) << r.out;
  EXPECT_EQ(Get(kDeploy, "default", "shared")["spec"]["replicas"], 2);  // nothing changed
  Write(Provider("  namespace = \"default\"\n  force_conflicts = true\n") +
        "endpoint shared {\n  provider = k8s\n  model = \"m\"\n  command = \"x\"\n  replicas = 1\n  image = \"a:2\"\n}\n");
  r = Kiln(dir_, "apply --auto-approve --refresh=false");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(Get(kDeploy, "default", "shared")["spec"]["replicas"], 1);
}

TEST_F(Kube, RolloutThatNeverBecomesReadyTimesOut) {
  Write(Provider("  namespace = \"default\"\n  rollout_timeout = 3s\n") +
        "endpoint stuck {\n  provider = k8s\n  model = \"m\"\n  image = \"kiln.test/never-ready\"\n  command = \"x\"\n}\n");
  KilnRun r = Kiln(dir_, "apply --auto-approve");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(Has(r.out, "the rollout of Deployment default/stuck did not complete: timed out after 3s: 0 of 1 replicas"))
      << r.out;
  // Recorded (failed), so destroy finds it.
  KilnRun show = Kiln(dir_, "state show endpoint.stuck");
  EXPECT_TRUE(Has(show.out, "failed")) << show.out;
  EXPECT_EQ(Kiln(dir_, "destroy --auto-approve").code, 0);
  EXPECT_TRUE(Get(kDeploy, "default", "stuck").is_null());
}

TEST_F(Kube, JobThatNeverEndsTimesOut) {
  Write(Provider("  namespace = \"default\"\n  job_timeout = 3s\n") +
        "training_job forever {\n  provider = k8s\n  image = \"kiln.test/never-ends\"\n  command = \"x\"\n"
        "  wait = true\n}\n");
  KilnRun r = Kiln(dir_, "apply --auto-approve");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_TRUE(Has(r.out, "training job training_job.forever did not finish: timed out after 3s")) << r.out;
  EXPECT_TRUE(Has(r.out, "job_timeout")) << r.out;
  // Recorded, so destroy finds it.
  KilnRun show = Kiln(dir_, "state show training_job.forever");
  EXPECT_TRUE(Has(show.out, "running")) << show.out;
  EXPECT_EQ(Kiln(dir_, "destroy --auto-approve").code, 0);
  EXPECT_TRUE(Get(kJob, "default", "forever").is_null());
}

TEST_F(Kube, KillDuringApplyIsFoundAgainNotDuplicated) {
  Write(Provider("  namespace = \"default\"\n  rollout_timeout = 2m\n") +
        "endpoint crash {\n  provider = k8s\n  model = \"m\"\n  image = \"kiln.test/never-ready\"\n  command = \"x\"\n}\n");
  pid_t pid = fork();
  if (pid == 0) {
    if (chdir(dir_.c_str()) != 0) _exit(127);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    dup2(devnull, 2);
    execl(KILN_BINARY, KILN_BINARY, "apply", "--auto-approve", nullptr);
    _exit(127);
  }
  // Wait until the Deployment and the Service exist (kiln is then waiting
  // for the rollout).
  bool seen = false;
  for (int i = 0; i < 300 && !seen; ++i) {
    seen = Get(kDeploy, "default", "crash").is_object() && Get(kSvc, "default", "crash").is_object();
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(seen);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  KilnRun plan = Kiln(dir_, "plan");
  EXPECT_TRUE(Has(plan.out, "W0901")) << plan.out;
  EXPECT_FALSE(Has(plan.out, "endpoint.crash will be created")) << plan.out;
  for (const ResourceType* t : {&kDeploy, &kSvc}) {
    kube::Result all = client_->List(*t, "default", "app.kubernetes.io/managed-by=kiln");
    ASSERT_TRUE(all.ok());
    int named = 0;
    for (const auto& d : all.body["items"])
      if (d["metadata"]["annotations"].value("kiln.dev/address", "") == "endpoint.crash") ++named;
    EXPECT_EQ(named, 1) << t->kind;
  }
  EXPECT_EQ(Kiln(dir_, "destroy --auto-approve").code, 0);
  EXPECT_TRUE(Get(kDeploy, "default", "crash").is_null());
  EXPECT_TRUE(Get(kSvc, "default", "crash").is_null());
}

}  // namespace
}  // namespace kiln
