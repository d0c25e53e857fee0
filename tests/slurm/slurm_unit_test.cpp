// The slurm provider against recorded slurmrestd answers (the files in
// testdata/ were recorded from the test cluster of slurm_cluster.sh).
#include <gtest/gtest.h>

#include <filesystem>

#include "providers/local/gpus.h"
#include "providers/slurm/api.h"
#include "providers/slurm/client.h"
#include "providers/slurm/placement.h"
#include "providers/slurm/script.h"
#include "providers/slurm/slurm_provider.h"
#include "recorded_http.h"

namespace kiln::slurm {
namespace {

using json = nlohmann::json;
using testing::Recorded;
using testing::RecordedHttp;
namespace fs = std::filesystem;

const char* kToken = "not-a-jwt-SECRET-TOKEN-123";

std::unique_ptr<Adapter> V38() {
  std::string error;
  auto a = ChooseAdapter(json::parse(Recorded("openapi_v0.0.38.json")), &error);
  EXPECT_TRUE(a) << error;
  return a;
}

ClusterView RecordedView() {
  auto api = V38();
  ClusterView v;
  std::string error;
  EXPECT_TRUE(api->ParsePartitions(json::parse(Recorded("partitions.json")), &v.partitions, &error)) << error;
  EXPECT_TRUE(api->ParseNodes(json::parse(Recorded("nodes.json")), &v.nodes, &error)) << error;
  return v;
}

TEST(SlurmApi, NegotiatesV0038FromTheOpenapiDocument) {
  auto doc = json::parse(Recorded("openapi_v0.0.38.json"));
  EXPECT_EQ(OfferedVersions(doc), std::vector<std::string>{"v0.0.38"});
  EXPECT_EQ(V38()->Version(), "v0.0.38");
}

TEST(SlurmApi, AServerWithoutAKnownVersionIsOneErrorNamingWhatItOffers) {
  json doc = {{"paths", {{"/slurm/v0.0.40/jobs", json::object()}, {"/slurm/v0.0.41/jobs", json::object()},
                         {"/openapi/v3", json::object()}}}};
  std::string error;
  EXPECT_EQ(ChooseAdapter(doc, &error), nullptr);
  EXPECT_EQ(error, "slurmrestd offers API v0.0.40, v0.0.41, and kiln's slurm provider speaks v0.0.38");
  EXPECT_EQ(ChooseAdapter(json::object(), &error), nullptr);
  EXPECT_NE(error.find("offers no Slurm API version"), std::string::npos);
}

TEST(SlurmApi, ParsesRecordedJobsAndMapsStatesAndExitCodes) {
  std::vector<JobInfo> jobs;
  std::string error;
  ASSERT_TRUE(V38()->ParseJobs(json::parse(Recorded("jobs.json")), &jobs, &error)) << error;
  ASSERT_EQ(jobs.size(), 6u);
  EXPECT_EQ(jobs[0].comment, "kiln:training_job.x");
  EXPECT_EQ(JobStatus(jobs[0].state), "succeeded");
  EXPECT_EQ(ExitCode(jobs[0]), json(0));
  EXPECT_EQ(JobStatus(jobs[1].state), "failed");
  EXPECT_EQ(ExitCode(jobs[1]), json(3));  // wait status 768 = exit 3
  EXPECT_EQ(JobStatus(jobs[2].state), "cancelled");
  EXPECT_EQ(ExitCode(jobs[2]), json(143));  // SIGTERM
  EXPECT_EQ(JobStatus(jobs[3].state), "running");
  EXPECT_TRUE(ExitCode(jobs[3]).is_null());
  EXPECT_EQ(JobStatus(jobs[4].state), "pending");
  EXPECT_EQ(jobs[4].reason, "Resources");
  EXPECT_TRUE(CommentIsFor("kiln:training_job.x submit=ab12", "training_job.x"));
  EXPECT_FALSE(CommentIsFor("kiln:training_job.xy submit=ab12", "training_job.x"));
}

TEST(SlurmApi, ParsesNodesWithTheirGres) {
  ClusterView v = RecordedView();
  ASSERT_EQ(v.nodes.size(), 3u);
  EXPECT_EQ(v.nodes[0].name, "node1");
  EXPECT_EQ(v.nodes[0].address, "127.0.0.1");
  ASSERT_EQ(v.nodes[0].gres.size(), 1u);
  EXPECT_EQ(v.nodes[0].gres[0].type, "h100");
  EXPECT_EQ(v.nodes[0].gres[0].count, 4);
  EXPECT_TRUE(v.nodes[2].gres.empty());
  auto g = ParseGresList("gpu:a100:2(S:0-1),gpu:4,mps:100");
  ASSERT_EQ(g.size(), 3u);
  EXPECT_EQ(g[0].type, "a100");
  EXPECT_EQ(g[0].count, 2);
  EXPECT_EQ(g[1].type, "");
  EXPECT_EQ(g[1].count, 4);
  EXPECT_EQ(g[2].name, "mps");
}

TEST(SlurmApi, MalformedAnswersAreErrorsNotHalfReads) {
  auto api = V38();
  std::string error;
  std::vector<JobInfo> jobs;
  EXPECT_FALSE(api->ParseJobs(json::parse(R"({"jobs": {"job_id": 1}})"), &jobs, &error));
  EXPECT_EQ(error, "the answer has no `jobs` list");
  EXPECT_FALSE(api->ParseJobs(json::parse(R"({"jobs": [{"job_id": "1"}]})"), &jobs, &error));
  EXPECT_EQ(error, "a job without a numeric `job_id` and a `job_state`");
  EXPECT_TRUE(jobs.empty());
  std::vector<NodeInfo> nodes;
  EXPECT_FALSE(api->ParseNodes(json::parse("[1, 2]"), &nodes, &error));
  EXPECT_EQ(error, "the answer is not a JSON object");
}

TEST(SlurmApi, SubmitBodyForV0038) {
  JobSpec s;
  s.name = "kiln-x";
  s.script = "#!/bin/bash\ntrue\n";
  s.partition = "gpu";
  s.nodes = 2;
  s.gres = "gpu:h100:4";
  s.time_limit_minutes = 91;
  s.comment = "kiln:training_job.x";
  s.working_directory = "/shared/out";
  s.standard_output = "/shared/logs/x-%j.out";
  s.environment = {{"PATH", "/usr/bin:/bin"}, {"A", "1"}};
  json b = V38()->SubmitBody(s);
  EXPECT_EQ(b["job"]["nodes"], "2");  // a string: v0.0.38 ignores arrays
  EXPECT_FALSE(b["job"].contains("minimum_nodes"));
  EXPECT_EQ(b["job"]["gres"], "gpu:h100:4");
  EXPECT_EQ(b["job"]["time_limit"], 91);
  EXPECT_EQ(b["job"]["comment"], "kiln:training_job.x");
  EXPECT_EQ(b["job"]["standard_error"], "/shared/logs/x-%j.out");
  EXPECT_EQ(b["job"]["environment"]["PATH"], "/usr/bin:/bin");
  EXPECT_FALSE(b["job"].contains("account"));
  EXPECT_EQ(b["script"], "#!/bin/bash\ntrue\n");
}

TEST(SlurmPlacement, MessagesNameBothSides) {
  ClusterView v = RecordedView();
  const auto& catalog = local::GpuCatalog::Default();
  EXPECT_EQ(DescribePartition(v, "gpu", catalog), "partition gpu has 2 nodes with 4 x H100 each");
  Request big{"training_job.big", "H100", 0, 8, 1, 0, 0};
  EXPECT_EQ(CheckFit(v, "gpu", big, catalog),
            "partition gpu has 2 nodes with 4 x H100 each; training_job.big asks for 8 x H100 per node");
  Request wide{"training_job.wide", "H100", 0, 4, 3, 0, 0};
  EXPECT_EQ(CheckFit(v, "gpu", wide, catalog),
            "partition gpu has 2 nodes with 4 x H100 each; training_job.wide asks for 3 nodes");
  Request ok{"training_job.ok", "H100", 0, 4, 2, 8, int64_t{4} << 30};
  EXPECT_EQ(CheckFit(v, "gpu", ok, catalog), "");
  Request a100{"training_job.a", "A100-80GB", 0, 1, 1, 0, 0};
  EXPECT_EQ(CheckFit(v, "gpu", a100, catalog),
            "partition gpu has 2 nodes with 4 x H100 each; training_job.a asks for 1 x A100-80GB per node");
  Request on_cpu{"training_job.c", "H100", 0, 1, 1, 0, 0};
  EXPECT_EQ(CheckFit(v, "cpu", on_cpu, catalog),
            "partition cpu has 1 node without GPUs; training_job.c asks for 1 x H100 per node");
  Request cpus{"training_job.cpus", "", 0, 0, 1, 64, 0};
  EXPECT_EQ(CheckFit(v, "gpu", cpus, catalog),
            "partition gpu's largest node has 8 CPUs; training_job.cpus asks for 64 per node");
  Request mem{"training_job.mem", "", 0, 0, 1, 0, int64_t{64} << 30};
  EXPECT_EQ(CheckFit(v, "gpu", mem, catalog),
            "partition gpu's largest node has 8000 MiB of memory; training_job.mem asks for 65536 MiB per node");
}

TEST(SlurmPlacement, UnknownPartitionListsTheExistingOnes) {
  ClusterView v = RecordedView();
  EXPECT_EQ(CheckPartitionExists(v, "gpu"), "");
  EXPECT_EQ(CheckPartitionExists(v, "gpus"), "partition `gpus` does not exist; the cluster has: cpu, gpu, restricted");
}

TEST(SlurmPlacement, AccountsAndQosOfRestrictedPartitions) {
  ClusterView v = RecordedView();
  const PartitionInfo* r = v.Partition("restricted");
  ASSERT_TRUE(r);
  EXPECT_EQ(CheckAccess(*r, "ml-research", "normal"), "");
  EXPECT_EQ(CheckAccess(*r, "physics", ""),
            "partition restricted allows the accounts ml-research; account `physics` is not one of them");
  EXPECT_EQ(CheckAccess(*r, "ml-research", "urgent"),
            "partition restricted allows the QOS normal; qos `urgent` is not one of them");
  EXPECT_EQ(CheckAccess(*v.Partition("gpu"), "anything", "anything"), "");
}

TEST(SlurmScript, ListsAreQuotedStringsRunUnderBash) {
  std::string script, error;
  ScriptSpec s{"training_job.x", json::array({"python3", "-c", "print('it''s')"}), 1, 4, "", {}};
  ASSERT_TRUE(BuildScript(s, &script, &error));
  EXPECT_NE(script.find("exec 'python3' '-c' 'print('\\''it'\\'''\\''s'\\'')'\n"), std::string::npos) << script;
  EXPECT_NE(script.find("KILN_NUM_NODES=1 KILN_GPUS_PER_NODE=4 WORLD_SIZE=4"), std::string::npos);
  EXPECT_NE(script.find("export KILN_NODE_RANK=0 NODE_RANK=0"), std::string::npos);
  EXPECT_EQ(script.find("srun"), std::string::npos);
  s.command = "echo $HOME && false";
  ASSERT_TRUE(BuildScript(s, &script, &error));
  EXPECT_NE(script.find("exec /bin/bash -c 'echo $HOME && false'\n"), std::string::npos) << script;
  s.command = json::array();
  EXPECT_FALSE(BuildScript(s, &script, &error));
  EXPECT_EQ(error, "`command` must be a string or a non-empty list of strings");
}

TEST(SlurmScript, MultiNodeJobsRunOncePerNodeThroughSrun) {
  std::string script, error;
  ScriptSpec s{"training_job.ddp", json::array({"torchrun", "train.py"}), 2, 4, "", {}};
  ASSERT_TRUE(BuildScript(s, &script, &error));
  EXPECT_NE(script.find("WORLD_SIZE=8"), std::string::npos);
  EXPECT_NE(script.find("exec srun --nodes=2 --ntasks=2 --ntasks-per-node=1"), std::string::npos) << script;
  EXPECT_NE(script.find("KILN_NODE_RANK=$SLURM_NODEID NODE_RANK=$SLURM_NODEID"), std::string::npos);
  EXPECT_NE(script.find("MASTER_ADDR=\"$KILN_MASTER_ADDR\""), std::string::npos);
  EXPECT_NE(script.find("'torchrun' 'train.py'"), std::string::npos);
}

TEST(SlurmScript, SetupRunsOnEachNodeBeforeTheCommandAndFailsTheJob) {
  std::string script, error;
  ScriptSpec s{"training_job.x", json::array({"python3", "train.py"}), 1, 0, "", "pip install -r requirements.txt"};
  ASSERT_TRUE(BuildScript(s, &script, &error));
  EXPECT_NE(script.find(R"(export _KILN_SETUP='/bin/bash -c '\''pip install -r requirements.txt'\''')" "\n"),
            std::string::npos)
      << script;
  size_t setup = script.find("eval \"$_KILN_SETUP\" || exit $?\n");
  ASSERT_NE(setup, std::string::npos) << script;
  EXPECT_LT(setup, script.find("exec 'python3' 'train.py'"));
  s.nodes = 2;
  ASSERT_TRUE(BuildScript(s, &script, &error));
  EXPECT_NE(script.find(R"(NODE_RANK=$SLURM_NODEID; eval "$_KILN_SETUP" || exit $?; exec "$@"' kiln 'python3')"),
            std::string::npos)
      << script;
  s.setup = json::array({"make", 3});
  EXPECT_FALSE(BuildScript(s, &script, &error));
  EXPECT_EQ(error, "every element of `setup` must be a string");
}

// ---------------------------------------------------------------- client

ClientOptions Options(std::vector<int>* sleeps) {
  ClientOptions o;
  o.url = "http://slurm:6820/";
  o.user = "trainer";
  o.token = kToken;
  o.sleep = [sleeps](int ms) { sleeps->push_back(ms); };
  return o;
}

TEST(SlurmClient, ReadsAreRetriedWithBackoffOnNoAnswer) {
  auto http = std::make_shared<RecordedHttp>();
  http->LoadCluster();
  int failures = 2;
  http->hook = [&](const HttpRequest& req, HttpResponse* resp) {
    if (req.url.find("/jobs") != std::string::npos && failures > 0) {
      --failures;
      *resp = {0, "", "Couldn't connect to server"};
    }
  };
  std::vector<int> sleeps;
  Client c(http, Options(&sleeps));
  ProviderDiagnostics d;
  ASSERT_TRUE(c.Negotiate(&d));
  json answer;
  std::vector<SlurmError> errors;
  ASSERT_TRUE(c.Get("/slurm/v0.0.38/jobs", &answer, &errors, &d));
  EXPECT_EQ(http->Count("GET /slurm/v0.0.38/jobs"), 3);
  EXPECT_EQ(sleeps, (std::vector<int>{250, 500}));
  EXPECT_EQ(http->seen.back().headers[0].second, "trainer");
  EXPECT_EQ(http->seen.back().headers[1].second, kToken);
}

TEST(SlurmClient, UnreachableIsOneClearErrorWithoutTheToken) {
  auto http = std::make_shared<RecordedHttp>();
  http->hook = [](const HttpRequest&, HttpResponse* resp) { *resp = {0, "", "Couldn't connect to server"}; };
  std::vector<int> sleeps;
  Client c(http, Options(&sleeps));
  ProviderDiagnostics d;
  EXPECT_FALSE(c.Negotiate(&d));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].summary,
            "cannot reach slurmrestd at http://slurm:6820 (GET /openapi/v3): Couldn't connect to server (tried 4 times)");
  EXPECT_EQ(ErrorText(d).find(kToken), std::string::npos);
}

TEST(SlurmClient, MalformedJsonAndRejectedCredentials) {
  auto http = std::make_shared<RecordedHttp>();
  http->LoadCluster();
  http->answers["GET /slurm/v0.0.38/jobs"] = {200, "{\"jobs\": [ {\"job_id\": 1,", ""};
  http->answers["GET /slurm/v0.0.38/nodes"] = {401, "Authentication failure", ""};
  std::vector<int> sleeps;
  Client c(http, Options(&sleeps));
  ProviderDiagnostics d;
  ASSERT_TRUE(c.Negotiate(&d));
  json answer;
  std::vector<SlurmError> errors;
  EXPECT_FALSE(c.Get("/slurm/v0.0.38/jobs", &answer, &errors, &d));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].summary, "slurmrestd answered GET /slurm/v0.0.38/jobs with HTTP 200 and malformed JSON");
  EXPECT_EQ(http->Count("GET /slurm/v0.0.38/jobs"), 1);  // an answer, even a bad one, is not retried
  d.clear();
  EXPECT_FALSE(c.Get("/slurm/v0.0.38/nodes", &answer, &errors, &d));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].summary,
            "slurmrestd at http://slurm:6820 refused the credentials of user `trainer` (HTTP 401 on GET "
            "/slurm/v0.0.38/nodes)");
  EXPECT_EQ(ErrorText(d).find(kToken), std::string::npos);
}

TEST(SlurmClient, SlurmErrorsComeBackInSlurmsWords) {
  auto api = V38();
  std::vector<SlurmError> errors;
  std::string error;
  ASSERT_TRUE(api->ParseErrors(json::parse(Recorded("submit_bad_partition.json")), &errors, &error));
  auto d = SlurmDiagnostics("submitting the job", errors);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].summary, "submitting the job: slurm: Invalid partition name specified (Slurm error 2000)");
  errors.clear();
  ASSERT_TRUE(api->ParseErrors(json::parse(Recorded("job_missing.json")), &errors, &error));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, 2017);
  EXPECT_EQ(errors[0].message, "Invalid job id specified (Unable to find JobId=999)");
}

TEST(SlurmClient, JwtClaimsAreReadWithoutVerifying) {
  // {"exp":1796235679,"iat":1796228479,"sun":"nobody"}
  std::string token =
      "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE3OTYyMzU2NzksImlhdCI6MTc5NjIyODQ3OSwic3VuIjoibm9ib2R5In0.sig";
  json c = JwtClaims(token);
  EXPECT_EQ(c.value("sun", ""), "nobody");
  EXPECT_EQ(c.value("exp", 0), 1796235679);
  EXPECT_TRUE(JwtClaims("garbage").is_null());
}

// ---------------------------------------------------------------- provider

struct ProviderFixture : ::testing::Test {
  std::shared_ptr<RecordedHttp> http = std::make_shared<RecordedHttp>();
  std::vector<int> sleeps;
  fs::path root;
  std::unique_ptr<Provider> p;

  void SetUp() override {
    root = fs::temp_directory_path() / ("kiln-slurm-unit-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root);
    fs::create_directories(root);
    http->LoadCluster();
    SlurmSeams seams;
    seams.http = http;
    seams.sleep = [this](int ms) { sleeps.push_back(ms); };
    seams.poll_ms = 10;
    p = NewSlurmProvider(seams);
  }
  void TearDown() override { fs::remove_all(root); }

  ProviderDiagnostics Configure(json extra = json::object()) {
    json c = {{"url", "http://slurm:6820"}, {"user", "trainer"}, {"token", kToken}, {"partition", "gpu"},
              {"shared_root", root.string()}};
    c.update(extra);
    return p->Configure({c}).diagnostics;
  }
};

TEST_F(ProviderFixture, ConfiguresAgainstTheRecordedCluster) {
  auto d = Configure();
  EXPECT_TRUE(d.empty()) << ErrorText(d);
  EXPECT_TRUE(p->SupportsReadBatch());
  InventoryResponse inv = p->Inventory();
  ASSERT_EQ(inv.nodes.size(), 3u);
  ASSERT_EQ(inv.nodes[0].gpus.size(), 1u);
  EXPECT_EQ(inv.nodes[0].gpus[0].model, "H100");
  EXPECT_EQ(inv.nodes[0].gpus[0].count, 4);
}

TEST_F(ProviderFixture, ARejectedTokenIsExplainedOnceAtConfigure) {
  http->answers["GET /slurm/v0.0.38/ping"] = {500, Recorded("ping_bad_token.json"), ""};
  auto d = Configure();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].summary, "slurmctld refused the requests of user `trainer` through http://slurm:6820");
  EXPECT_NE(d[0].detail.find("the token is wrong, expired or not for this user"), std::string::npos);
  EXPECT_EQ(ErrorText(d).find(kToken), std::string::npos);
  // Every later call says the same, without contacting Slurm again.
  size_t before = http->seen.size();
  ReadResponse r = p->Read({"training_job", "training_job.x", {{"id", "1"}}});
  EXPECT_EQ(ErrorText(r.diagnostics), ErrorText(d));
  EXPECT_EQ(http->seen.size(), before);
}

TEST_F(ProviderFixture, AnExpiredTokenOrOneForAnotherUserIsCaughtBeforeAnyRequest) {
  // exp 1000000000 (2001), sun "nobody"
  std::string old = "e30.eyJleHAiOjEwMDAwMDAwMDAsInN1biI6Im5vYm9keSJ9.sig";
  auto d = Configure({{"token", old}});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NE(d[0].summary.find("the slurm provider's token expired"), std::string::npos) << d[0].summary;
  EXPECT_TRUE(http->seen.empty());
  std::string other = "e30.eyJzdW4iOiJub2JvZHkifQ.sig";  // {"sun":"nobody"}
  d = Configure({{"token", other}});
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].summary, "the slurm provider's token is for user `nobody`, not `trainer`");
}

TEST_F(ProviderFixture, PlanTimePlacementAgainstTheLiveCluster) {
  ASSERT_TRUE(Configure().empty());
  json job = {{"command", json::array({"true"})}, {"nodes", 1}, {"gpu", {{"model", "H100"}, {"count", 8}}},
              {"cluster", {{"id", "gpu"}, {"partition", "gpu"}}}};
  PlanResponse r = p->Plan({"training_job", "training_job.big", nullptr, job});
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].summary,
            "partition gpu has 2 nodes with 4 x H100 each; training_job.big asks for 8 x H100 per node");
  EXPECT_EQ(r.diagnostics[0].attribute, Path{"gpu"});
  json cluster = {{"partition", "gpux"}, {"nodes", 1}};
  r = p->Plan({"cluster", "cluster.c", nullptr, cluster});
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].summary, "partition `gpux` does not exist; the cluster has: cpu, gpu, restricted");
  cluster = {{"partition", "gpu"}, {"gpu", {{"model", "H100"}, {"count", 4}}}, {"nodes", {{"min", 1}, {"max", 2}}}};
  r = p->Plan({"cluster", "cluster.c", nullptr, cluster});
  EXPECT_TRUE(r.diagnostics.empty()) << ErrorText(r.diagnostics);
  EXPECT_EQ(r.planned["id"], "gpu");
  EXPECT_EQ(r.planned["node_count"], 2);
  // Partitions and nodes were read once for all of it.
  EXPECT_EQ(http->Count("GET /slurm/v0.0.38/partitions"), 1);
}

TEST_F(ProviderFixture, ALostSubmitAnswerNeverMakesADuplicate) {
  ASSERT_TRUE(Configure().empty());
  // The submit reaches Slurm but its answer is lost: the job exists.
  json created;
  int posts = 0;
  http->hook = [&](const HttpRequest& req, HttpResponse* resp) {
    if (req.method == "POST") {
      ++posts;
      json body = json::parse(req.body);
      EXPECT_EQ(req.body.find(kToken), std::string::npos);
      created = {{"job_id", 77}, {"job_state", "PENDING"}, {"comment", body["job"]["comment"]},
                 {"standard_output", body["job"]["standard_output"]}};
      *resp = {0, "", "Operation timed out"};
    } else if (req.url.find("/jobs") != std::string::npos && created.is_object()) {
      resp->body = json({{"errors", json::array()}, {"jobs", json::array({created})}}).dump();
    }
  };
  json job = {{"command", "echo hi"}, {"nodes", 1}, {"env", json::object()}, {"secrets", {{"K", "v"}}},
              {"retries", 0}, {"wait", false}};
  ApplyResponse a = p->Apply({"training_job", "training_job.x", nullptr, job, job, nullptr});
  EXPECT_FALSE(HasErrors(a.diagnostics)) << ErrorText(a.diagnostics);
  EXPECT_EQ(posts, 1);
  EXPECT_EQ(a.state["id"], "77");
  EXPECT_EQ(a.state["status"], "pending");
  // The record kept for recovery has no secret in it.
  for (auto& f : fs::recursive_directory_iterator(root)) {
    if (!f.is_regular_file()) continue;
    std::ifstream in(f.path());
    std::string text((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(text.find("\"v\""), std::string::npos) << f.path();
  }
}

TEST_F(ProviderFixture, ASubmitLostWhileSlurmCannotBeAskedIsRecordedAndFoundLater) {
  ASSERT_TRUE(Configure().empty());
  // The submit reaches Slurm, its answer is lost, and slurmrestd stays away
  // for every lookup: the job may exist, so it is recorded without an id
  // (not forgotten), and nothing is submitted twice.
  json created;
  int posts = 0;
  bool down = true;
  http->hook = [&](const HttpRequest& req, HttpResponse* resp) {
    if (req.method == "POST") {
      ++posts;
      json body = json::parse(req.body);
      created = {{"job_id", 78}, {"job_state", "RUNNING"}, {"comment", body["job"]["comment"]},
                 {"standard_output", "/logs/x-78.out"}};
      *resp = {0, "", "Empty reply from server"};
    } else if (req.url.find("/jobs") != std::string::npos) {
      if (down) *resp = {0, "", "Couldn't connect to server"};
      else resp->body = json({{"errors", json::array()}, {"jobs", json::array({created})}}).dump();
    }
  };
  json job = {{"command", "sleep 60"}, {"nodes", 1}, {"env", json::object()}, {"secrets", json::object()},
              {"retries", 0}, {"wait", false}};
  ApplyResponse a = p->Apply({"training_job", "training_job.x", nullptr, job, job, nullptr});
  EXPECT_EQ(posts, 1);
  ASSERT_TRUE(HasErrors(a.diagnostics));
  EXPECT_NE(ErrorText(a.diagnostics).find("could not be asked whether Slurm created the job"), std::string::npos)
      << ErrorText(a.diagnostics);
  ASSERT_TRUE(a.state.is_object());
  EXPECT_EQ(a.state["id"], "");
  // It kept asking for a while (a restart takes seconds), not forever.
  int slept = 0;
  for (int ms : sleeps) slept += ms;
  EXPECT_GE(slept, 30000);
  EXPECT_LT(slept, 120000);
  // Slurm answers again: the next refresh finds the job by its comment.
  down = false;
  ReadResponse r = p->Read({"training_job", "training_job.x", a.state});
  EXPECT_FALSE(HasErrors(r.diagnostics)) << ErrorText(r.diagnostics);
  EXPECT_EQ(r.state["id"], "78");
  EXPECT_EQ(r.state["status"], "running");
  EXPECT_EQ(r.state["attempts"], 1);
  // Had Slurm not made it, the object is gone (and is created again).
  created = json::object({{"job_id", 5}, {"job_state", "RUNNING"}, {"comment", "kiln:training_job.other"}});
  r = p->Read({"training_job", "training_job.x", a.state});
  EXPECT_TRUE(r.state.is_null());
  EXPECT_EQ(posts, 1);
}

TEST_F(ProviderFixture, AnInterruptedCreateIsFoundByItsComment) {
  ASSERT_TRUE(Configure().empty());
  ReadResponse r = p->Read({"training_job", "training_job.x", nullptr});
  EXPECT_FALSE(HasErrors(r.diagnostics));
  EXPECT_EQ(r.state["id"], "1");
  EXPECT_EQ(r.state["status"], "succeeded");
  r = p->Read({"training_job", "training_job.never", nullptr});
  EXPECT_TRUE(r.state.is_null());
}

TEST_F(ProviderFixture, ABatchReadOfAThousandJobsIsOneRequest) {
  ASSERT_TRUE(Configure().empty());
  json jobs = json::array();
  ReadBatchRequest req;
  for (int i = 1; i <= 1000; ++i) {
    jobs.push_back({{"job_id", i}, {"job_state", i % 2 ? "RUNNING" : "COMPLETED"}, {"exit_code", 0},
                    {"comment", "kiln:training_job.j[" + std::to_string(i) + "]"}});
    req.reads.push_back({"training_job", "training_job.j[" + std::to_string(i) + "]",
                         {{"id", std::to_string(i)}, {"status", "pending"}}});
  }
  http->answers["GET /slurm/v0.0.38/jobs"] = {200, json({{"jobs", jobs}}).dump(), ""};
  size_t before = http->seen.size();
  ReadBatchResponse resp = p->ReadBatch(req);
  EXPECT_EQ(http->seen.size() - before, 1u);
  ASSERT_EQ(resp.results.size(), 1000u);
  EXPECT_EQ(resp.results[0].state["status"], "running");
  EXPECT_EQ(resp.results[1].state["status"], "succeeded");
  EXPECT_EQ(resp.results[999].state["status"], "succeeded");
}

TEST_F(ProviderFixture, AMalformedJobListFailsTheRefreshClearly) {
  ASSERT_TRUE(Configure().empty());
  http->answers["GET /slurm/v0.0.38/jobs"] = {200, R"({"errors": [], "jobs": "nope"})", ""};
  ReadBatchResponse resp = p->ReadBatch({{{"training_job", "training_job.x", {{"id", "1"}}}}});
  EXPECT_EQ(ErrorText(resp.diagnostics), "slurmrestd answered GET jobs with malformed JSON: the answer has no `jobs` list");
}

TEST_F(ProviderFixture, DatastoresAreDirectoriesUnderSharedRoot) {
  ASSERT_TRUE(Configure().empty());
  json ds = {{"type", "filesystem"}, {"force_destroy", false}};
  ApplyResponse a = p->Apply({"datastore", "datastore.results", nullptr, ds, ds, nullptr});
  ASSERT_FALSE(HasErrors(a.diagnostics)) << ErrorText(a.diagnostics);
  std::string dir = a.state["id"];
  EXPECT_EQ(dir.rfind((root / "datastores").string(), 0), 0u);
  EXPECT_EQ(a.state["uri"], "file://" + dir);
  std::ofstream(fs::path(dir) / "data.bin") << "x";
  DeleteResponse d = p->Delete({"datastore", "datastore.results", a.state});
  EXPECT_EQ(ErrorText(d.diagnostics), "datastore " + dir + " holds data; it is kept: set `force_destroy = true` (and apply) to delete it with its data");
  a.state["force_destroy"] = true;
  d = p->Delete({"datastore", "datastore.results", a.state});
  EXPECT_FALSE(HasErrors(d.diagnostics));
  EXPECT_FALSE(fs::exists(dir));
}

}  // namespace
}  // namespace kiln::slurm
