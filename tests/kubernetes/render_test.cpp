// Object rendering of the kubernetes provider: names, quantities and the
// objects of each kind, checked without a server.
#include <gtest/gtest.h>

#include "providers/kubernetes/render.h"

namespace kiln::kube {
namespace {

using json = nlohmann::json;

RenderContext Ctx(const std::string& address, const std::string& ns = "team-a") {
  RenderContext c;
  c.address = address;
  c.ns = ns;
  c.hpa_api_version = "autoscaling/v2beta2";
  return c;
}

const Object* Find(const Rendered& r, const std::string& kind, const std::string& name) {
  for (const auto& o : r.objects)
    if (o.type.kind == kind && o.name() == name) return &o;
  return nullptr;
}

json EnvOf(const json& container) {
  json out = json::object();
  for (const auto& e : container["env"]) out[e["name"].get<std::string>()] = e.contains("value") ? e["value"] : e["valueFrom"];
  return out;
}

TEST(KubeNames, DnsNamesFromAddresses) {
  EXPECT_EQ(DnsName("endpoint.chat"), "chat");
  EXPECT_EQ(DnsName("cluster.team_a"), "team-a");
  EXPECT_EQ(DnsName("module.serving.endpoint.chat"), "serving-chat");
  EXPECT_EQ(DnsName("training_job.sweep[\"lr-1e4\"]"), "sweep-lr-1e4");
  EXPECT_EQ(DnsName("training_job.sweep[0]"), "sweep-0");
  EXPECT_EQ(DnsName("endpoint._x"), "x");
  EXPECT_EQ(DnsName("datastore.9lives"), "k-9lives");
  std::string longer = DnsName("training_job.a_very_long_name_that_goes_on_and_on_and_on_forever");
  EXPECT_LE(longer.size(), 40u);
  EXPECT_NE(longer, DnsName("training_job.a_very_long_name_that_goes_on_and_on_and_on_forever2"));
  EXPECT_EQ(ResolveAddress("module.m.endpoint.e", "cluster.c"), "module.m.cluster.c");
  EXPECT_EQ(ResolveAddress("endpoint.e", "cluster.c"), "cluster.c");
}

TEST(KubeQuantities, CanonicalAndCompared) {
  EXPECT_EQ(BytesQuantity(int64_t{80} << 30), "80Gi");
  EXPECT_EQ(BytesQuantity(int64_t{1536} << 20), "1536Mi");
  EXPECT_EQ(BytesQuantity(1000), "1000");
  EXPECT_EQ(DecimalQuantity(2), "2");
  EXPECT_EQ(DecimalQuantity(0.5), "500m");
  EXPECT_TRUE(SameQuantity("1Gi", "1073741824"));
  EXPECT_TRUE(SameQuantity("1k", "1000"));
  EXPECT_FALSE(SameQuantity("1Gi", "1G"));
  EXPECT_FALSE(SameQuantity("x", "1"));
}

TEST(KubeRender, ClusterIsNamespaceQuotaAndLimits) {
  json config = {{"gpu", {{"model", "H100"}, {"count", 4}}}, {"nodes", {{"min", 1}, {"max", 2}}},
                 {"cpus", 32}, {"memory", int64_t{256} << 30}, {"labels", {{"team", "a"}}}};
  Rendered r = RenderCluster(config, Ctx("cluster.team_a", "team-a"));
  ASSERT_TRUE(r.error.empty()) << r.error;
  ASSERT_EQ(r.objects.size(), 3u);
  EXPECT_EQ(r.objects[0].Describe(), "Namespace team-a");
  EXPECT_EQ(r.objects[0].body["metadata"]["labels"]["team"], "a");
  EXPECT_EQ(r.objects[0].body["metadata"]["labels"]["app.kubernetes.io/managed-by"], "kiln");
  EXPECT_EQ(r.objects[0].body["metadata"]["annotations"]["kiln.dev/address"], "cluster.team_a");
  EXPECT_FALSE(r.objects[0].body["metadata"].contains("namespace"));
  const Object* quota = Find(r, "ResourceQuota", "kiln-quota");
  ASSERT_TRUE(quota);
  // gpu x nodes.max: what the team may hold at its largest.
  EXPECT_EQ(quota->body["spec"]["hard"],
            json({{"requests.nvidia.com/gpu", "8"}, {"requests.cpu", "64"}, {"requests.memory", "512Gi"}}));
  const Object* limits = Find(r, "LimitRange", "kiln-limits");
  ASSERT_TRUE(limits);
  EXPECT_EQ(limits->body["spec"]["limits"][0]["max"]["nvidia.com/gpu"], "4");
}

TEST(KubeRender, EndpointWithAutoscalingCanaryAndSecrets) {
  json config = {{"image", "vllm/vllm-openai:v0.6"}, {"command", "serve"}, {"model", "pvc://team-a/ckpt"},
                 {"port", 8000}, {"replicas", {{"min", 4}, {"max", 8}}}, {"gpu", {{"model", "H100"}, {"count", 1}}},
                 {"env", {{"A", "1"}}}, {"secrets", {{"HF_TOKEN", "hf_secret"}}},
                 {"health_check", {{"path", "/ready"}, {"interval", 5000}, {"timeout", 60000}}},
                 {"autoscale", {{"metric", "rps"}, {"target", 20.0}}},
                 {"canary", {{"model", "pvc://team-a/ckpt2"}, {"weight", 25}}}};
  RenderContext ctx = Ctx("endpoint.chat");
  ctx.gpu_products = {"NVIDIA-H100-80GB-HBM3"};
  Rendered r = RenderEndpoint(config, ctx);
  ASSERT_TRUE(r.error.empty()) << r.error;
  std::vector<std::string> described;
  for (const auto& o : r.objects) described.push_back(o.Describe());
  EXPECT_EQ(described, (std::vector<std::string>{"Secret team-a/chat-secrets", "Deployment team-a/chat",
                                                 "Deployment team-a/chat-canary", "Service team-a/chat",
                                                 "HorizontalPodAutoscaler team-a/chat"}));
  // The secret value is only in the Secret, base64.
  EXPECT_EQ(r.objects[0].body["data"]["HF_TOKEN"], Base64("hf_secret"));
  const Object* stable = Find(r, "Deployment", "chat");
  const Object* canary = Find(r, "Deployment", "chat-canary");
  ASSERT_TRUE(stable && canary);
  EXPECT_EQ(stable->body.dump().find("hf_secret"), std::string::npos);
  // The HPA owns the stable count; the canary has 25% of the minimum.
  EXPECT_FALSE(stable->body["spec"].contains("replicas"));
  EXPECT_EQ(canary->body["spec"]["replicas"], 1);
  json c = stable->body["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(c["command"], json({"/bin/sh", "-c", "serve"}));
  EXPECT_EQ(c["ports"][0], json({{"name", "http"}, {"containerPort", 8000}, {"protocol", "TCP"}}));
  EXPECT_EQ(c["readinessProbe"]["httpGet"], json({{"path", "/ready"}, {"port", 8000}}));
  EXPECT_EQ(c["readinessProbe"]["periodSeconds"], 5);
  EXPECT_EQ(c["resources"]["limits"]["nvidia.com/gpu"], "1");
  json env = EnvOf(c);
  EXPECT_EQ(env["A"], "1");
  EXPECT_EQ(env["PORT"], "8000");
  EXPECT_EQ(env["KILN_MODEL"], "pvc://team-a/ckpt");
  EXPECT_EQ(env["HF_TOKEN"]["secretKeyRef"], json({{"name", "chat-secrets"}, {"key", "HF_TOKEN"}}));
  EXPECT_EQ(EnvOf(canary->body["spec"]["template"]["spec"]["containers"][0])["KILN_MODEL"], "pvc://team-a/ckpt2");
  EXPECT_EQ(stable->body["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
                        ["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0]
                        ["matchExpressions"][0]["values"],
            json({"NVIDIA-H100-80GB-HBM3"}));
  const Object* svc = Find(r, "Service", "chat");
  ASSERT_TRUE(svc);
  EXPECT_EQ(svc->body["spec"]["ports"][0]["protocol"], "TCP");
  EXPECT_EQ(svc->body["spec"]["selector"], json({{"kiln.dev/endpoint", "chat"}}));
  const Object* hpa = Find(r, "HorizontalPodAutoscaler", "chat");
  ASSERT_TRUE(hpa);
  EXPECT_EQ(hpa->body["apiVersion"], "autoscaling/v2beta2");
  EXPECT_EQ(hpa->body["spec"]["minReplicas"], 3);
  EXPECT_EQ(hpa->body["spec"]["maxReplicas"], 7);
  EXPECT_EQ(hpa->body["spec"]["metrics"][0]["pods"]["target"]["averageValue"], "20");
}

TEST(KubeRender, FixedReplicasWithoutHpa) {
  json config = {{"image", "nginx"}, {"command", json::array({"nginx", "-g", "daemon off;"})}, {"model", "m"},
                 {"replicas", 3}};
  Rendered r = RenderEndpoint(config, Ctx("endpoint.web"));
  ASSERT_TRUE(r.error.empty());
  EXPECT_EQ(r.objects.size(), 2u);
  EXPECT_EQ(Find(r, "Deployment", "web")->body["spec"]["replicas"], 3);
  EXPECT_FALSE(Find(r, "HorizontalPodAutoscaler", "web"));
  EXPECT_FALSE(Find(r, "Secret", "web-secrets"));
}

TEST(KubeRender, MultiNodeJobHasOnePodPerNodeAndRendezvous) {
  json config = {{"image", "trainer:1"}, {"command", "torchrun train.py"}, {"nodes", 2},
                 {"gpu", {{"model", "H100"}, {"count", 4}}}, {"retries", 2}, {"max_runtime", 3600500},
                 {"env", {{"EPOCHS", "3"}}}};
  RenderContext ctx = Ctx("training_job.pretrain");
  ctx.output_claim = "ckpt";
  Rendered r = RenderTrainingJob(config, ctx);
  ASSERT_TRUE(r.error.empty()) << r.error;
  std::vector<std::string> described;
  for (const auto& o : r.objects) described.push_back(o.Describe());
  EXPECT_EQ(described, (std::vector<std::string>{"Service team-a/pretrain", "Job team-a/pretrain-0",
                                                 "Job team-a/pretrain-1"}));
  EXPECT_EQ(r.objects[0].body["spec"]["clusterIP"], "None");
  EXPECT_EQ(r.objects[0].body["spec"]["ports"][0]["protocol"], "TCP");
  const json& job1 = r.objects[2].body;
  EXPECT_EQ(job1["spec"]["backoffLimit"], 2);
  EXPECT_EQ(job1["spec"]["activeDeadlineSeconds"], 3601);
  const json& pod = job1["spec"]["template"]["spec"];
  EXPECT_EQ(pod["restartPolicy"], "Never");
  EXPECT_EQ(pod["hostname"], "pretrain-1");
  EXPECT_EQ(pod["subdomain"], "pretrain");
  EXPECT_TRUE(pod["affinity"].contains("podAntiAffinity"));
  json env = EnvOf(pod["containers"][0]);
  std::string master = "pretrain-0.pretrain.team-a.svc.cluster.local";
  EXPECT_EQ(env["KILN_NODE_RANK"], "1");
  EXPECT_EQ(env["NODE_RANK"], "1");
  EXPECT_EQ(env["KILN_NUM_NODES"], "2");
  EXPECT_EQ(env["KILN_NODE_ADDRS"], master + ",pretrain-1.pretrain.team-a.svc.cluster.local");
  EXPECT_EQ(env["KILN_MASTER_ADDR"], master);
  EXPECT_EQ(env["MASTER_ADDR"], master);
  EXPECT_EQ(env["MASTER_PORT"], "29500");
  EXPECT_EQ(env["KILN_GPUS_PER_NODE"], "4");
  EXPECT_EQ(env["WORLD_SIZE"], "8");
  EXPECT_EQ(env["KILN_OUTPUT"], "/kiln/output");
  EXPECT_EQ(pod["volumes"][0]["persistentVolumeClaim"]["claimName"], "ckpt");
}

TEST(KubeRender, SingleNodeJobAndErrors) {
  Rendered r = RenderTrainingJob({{"image", "t"}, {"command", "x"}}, Ctx("training_job.t"));
  ASSERT_EQ(r.objects.size(), 1u);
  EXPECT_EQ(r.objects[0].Describe(), "Job team-a/t");
  EXPECT_FALSE(r.objects[0].body["spec"]["template"]["spec"].contains("hostname"));
  Rendered no_image = RenderTrainingJob({{"command", "x"}}, Ctx("training_job.t"));
  EXPECT_EQ(no_image.error, "the kubernetes provider runs containers: set `image`");
  EXPECT_EQ(no_image.error_attribute, "image");
  Rendered object_store = RenderDatastore({{"type", "object"}, {"size", 1 << 30}}, Ctx("datastore.d"));
  EXPECT_EQ(object_store.error_attribute, "type");
  Rendered no_size = RenderDatastore({{"type", "filesystem"}}, Ctx("datastore.d"));
  EXPECT_EQ(no_size.error_attribute, "size");
  Rendered pvc = RenderDatastore({{"type", "volume"}, {"size", int64_t{50} << 30}}, Ctx("datastore.ckpt"));
  ASSERT_EQ(pvc.objects.size(), 1u);
  EXPECT_EQ(pvc.objects[0].body["spec"]["accessModes"], json({"ReadWriteOnce"}));
  EXPECT_EQ(pvc.objects[0].body["spec"]["resources"]["requests"]["storage"], "50Gi");
}

TEST(KubeRender, CoversComparesOnlyWhatKilnSets) {
  json live = {{"spec", {{"replicas", 2}, {"progressDeadlineSeconds", 600},
                         {"template", {{"spec", {{"containers", json::array({{{"name", "main"}, {"image", "a"},
                                                                              {"resources", {{"limits", {{"memory", "1073741824"}}}}},
                                                                              {"terminationMessagePath", "/dev/x"}}})}}}}}}}};
  json want = {{"spec", {{"replicas", 2},
                         {"template", {{"spec", {{"containers", json::array({{{"name", "main"}, {"image", "a"},
                                                                              {"resources", {{"limits", {{"memory", "1Gi"}}}}}}})}}}}}}}};
  std::string where;
  EXPECT_TRUE(Covers(live, want, &where)) << where;
  live["spec"]["replicas"] = 5;
  EXPECT_FALSE(Covers(live, want, &where));
  EXPECT_EQ(where, "spec.replicas");
  live["spec"]["replicas"] = 2;
  live["spec"]["template"]["spec"]["containers"][0]["image"] = "b";
  EXPECT_FALSE(Covers(live, want, &where));
  EXPECT_EQ(where, "spec.template.spec.containers[0].image");
}

TEST(KubeReplicas, CanaryProportions) {
  ReplicaPlan p = PlanReplicas({{"replicas", 4}, {"canary", {{"model", "m"}, {"weight", 10}}}});
  EXPECT_EQ(p.stable, 3);
  EXPECT_EQ(p.canary, 1);  // at least one canary replica
  EXPECT_FALSE(p.autoscaled);
  ReplicaPlan q = PlanReplicas({{"replicas", {{"min", 2}, {"max", 2}}}, {"autoscale", {{"metric", "rps"}, {"target", 1}}}});
  EXPECT_FALSE(q.autoscaled);  // a fixed range needs no HPA
  EXPECT_EQ(q.stable, 2);
}

}  // namespace
}  // namespace kiln::kube
