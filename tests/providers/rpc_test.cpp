// The plugin host against real plugin processes: the Python example provider
// over the real protocol (every method), and each misbehaving plugin of
// tests/providers/plugins/ (clear error naming provider and operation, no hang).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "providers/discovery.h"
#include "providers/registry.h"
#include "providers/rpc/framing.h"
#include "providers/rpc/rpc_provider.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string kPlugins = std::string(KILN_SOURCE_DIR) + "/tests/providers/plugins";
const std::string kFiles = std::string(KILN_SOURCE_DIR) + "/examples/providers/kiln-provider-files";

std::string TempDir(const std::string& tag) {
  std::string t = (fs::temp_directory_path() / ("kiln-prov-" + tag + "-XXXXXX")).string();
  char* d = mkdtemp(t.data());
  return d ? std::string(d) : "";
}

std::string AllText(const ProviderDiagnostics& diags) {
  std::string s;
  for (const auto& d : diags) s += d.summary + " | " + d.detail + "\n";
  return s;
}

std::string ReadFile(const std::string& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// ------------------------------------------------------------------ framing

// A body that arrives in many reads (a batch answer) is cut out whole; its
// blank lines are content, not the end of the headers.
TEST(Framing, LargeBodyInManyChunks) {
  std::string body = "{\"s\":\"";
  while (body.size() < (1u << 20)) body += "line\\n\\n\n\n";
  body += "\"}";
  const size_t first = rpc::Frame(body).size();
  std::string all = rpc::Frame(body) + rpc::Frame("{}");
  rpc::FrameReader r;
  std::string got, error;
  for (size_t at = 0; at < first; at += 4096) {
    size_t n = std::min<size_t>(4096, first - at);
    r.Append(all.data() + at, n);
    auto res = r.Next(&got, &error);
    if (at + n < first) {
      ASSERT_EQ(res, rpc::FrameReader::Result::kNeedMore) << error;
    } else {
      ASSERT_EQ(res, rpc::FrameReader::Result::kMessage) << error;
      EXPECT_EQ(got, body);
    }
  }
  r.Append(all.data() + first, all.size() - first);
  ASSERT_EQ(r.Next(&got, &error), rpc::FrameReader::Result::kMessage) << error;
  EXPECT_EQ(got, "{}");
}

TEST(Framing, SplitsMessagesAcrossChunks) {
  rpc::FrameReader r;
  std::string a = rpc::Frame("{\"a\":1}"), b = rpc::Frame("{\"b\":2}");
  std::string all = a + b;
  std::string body, error;
  r.Append(all.data(), 5);
  EXPECT_EQ(r.Next(&body, &error), rpc::FrameReader::Result::kNeedMore);
  r.Append(all.data() + 5, all.size() - 5);
  ASSERT_EQ(r.Next(&body, &error), rpc::FrameReader::Result::kMessage);
  EXPECT_EQ(body, "{\"a\":1}");
  ASSERT_EQ(r.Next(&body, &error), rpc::FrameReader::Result::kMessage);
  EXPECT_EQ(body, "{\"b\":2}");
  EXPECT_EQ(r.Next(&body, &error), rpc::FrameReader::Result::kNeedMore);
}

TEST(Framing, AcceptsOtherHeadersAndRejectsGarbage) {
  rpc::FrameReader r;
  std::string m = "Content-Type: application/json\r\ncontent-length: 2\r\n\r\n{}";
  std::string body, error;
  r.Append(m.data(), m.size());
  ASSERT_EQ(r.Next(&body, &error), rpc::FrameReader::Result::kMessage);
  EXPECT_EQ(body, "{}");

  rpc::FrameReader g;
  std::string junk = "hello world\n";
  g.Append(junk.data(), junk.size());
  EXPECT_EQ(g.Next(&body, &error), rpc::FrameReader::Result::kError);
  EXPECT_NE(error.find("Content-Length"), std::string::npos) << error;

  rpc::FrameReader bad;
  std::string neg = "Content-Length: -4\r\n\r\n";
  bad.Append(neg.data(), neg.size());
  EXPECT_EQ(bad.Next(&body, &error), rpc::FrameReader::Result::kError);
}

// --------------------------------------------- the Python example provider

class FilesProvider : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = TempDir("files");
    rpc::PluginOptions o;
    o.type = "files";
    o.path = kFiles;
    o.call_timeout_ms = 10000;
    ProviderDiagnostics diags;
    p_ = rpc::StartPlugin(o, &diags);
    ASSERT_TRUE(p_) << AllText(diags);
    auto cr = p_->Configure({{{"root", root_}}});
    ASSERT_FALSE(HasErrors(cr.diagnostics)) << AllText(cr.diagnostics);
  }
  void TearDown() override {
    p_.reset();
    fs::remove_all(root_);
  }
  json Config(const std::string& path, const std::string& content) {
    return {{"path", path}, {"content", content}, {"mode", nullptr}};
  }
  std::string root_;
  std::unique_ptr<Provider> p_;
};

TEST_F(FilesProvider, InitializeGivesTheSchema) {
  const ProviderSchema& s = p_->Schema();
  EXPECT_EQ(s.name, "files");
  EXPECT_EQ(s.version, "0.1.0");
  EXPECT_EQ(s.protocol_version, 1);
  ASSERT_TRUE(s.config.count("root"));
  EXPECT_TRUE(s.config.at("root").optional);
  ASSERT_TRUE(s.kinds.count("file"));
  const auto& f = s.kinds.at("file").fields;
  EXPECT_EQ(f.at("path").type, "string");
  EXPECT_EQ(f.at("mode").type, "string?");
  EXPECT_TRUE(f.at("sha256").computed);
  EXPECT_EQ(p_->Origin(), kFiles);
}

TEST_F(FilesProvider, ValidateReportsAttributeErrors) {
  auto ok = p_->Validate({"file", "files.file.a", Config("a.txt", "x")});
  EXPECT_TRUE(ok.diagnostics.empty()) << AllText(ok.diagnostics);
  json bad = Config("/etc/passwd", "x");
  bad["mode"] = "rwx";
  auto r = p_->Validate({"file", "files.file.a", bad});
  ASSERT_EQ(r.diagnostics.size(), 2u) << AllText(r.diagnostics);
  EXPECT_EQ(r.diagnostics[0].attribute, Path{"path"});
  EXPECT_EQ(r.diagnostics[1].attribute, Path{"mode"});
  EXPECT_NE(r.diagnostics[1].summary.find("octal"), std::string::npos);
}

TEST_F(FilesProvider, BatchValidatesAndPlansAnswerAsSingleCalls) {
  ASSERT_TRUE(p_->SupportsValidateBatch());
  ASSERT_TRUE(p_->SupportsPlanBatch());
  json bad = Config("/etc/passwd", "x");
  bad["mode"] = "rwx";
  auto v = p_->ValidateBatch({{{"file", "files.file.a", Config("a.txt", "x")}, {"file", "files.file.b", bad}}});
  ASSERT_FALSE(HasErrors(v.diagnostics)) << AllText(v.diagnostics);
  ASSERT_EQ(v.results.size(), 2u);
  EXPECT_TRUE(v.results[0].diagnostics.empty()) << AllText(v.results[0].diagnostics);
  EXPECT_EQ(AllText(v.results[1].diagnostics), AllText(p_->Validate({"file", "files.file.b", bad}).diagnostics));
  ASSERT_EQ(v.results[1].diagnostics.size(), 2u);
  EXPECT_EQ(v.results[1].diagnostics[1].attribute, Path{"mode"});

  json prior = p_->Plan({"file", "files.file.b", nullptr, Config("b.txt", "y")}).planned;
  std::vector<PlanRequest> reqs = {{"file", "files.file.a", nullptr, Config("a.txt", "x")},
                                   {"file", "files.file.b", prior, Config("moved.txt", "y")}};
  auto pb = p_->PlanBatch({reqs});
  ASSERT_FALSE(HasErrors(pb.diagnostics)) << AllText(pb.diagnostics);
  ASSERT_EQ(pb.results.size(), 2u);
  for (size_t i = 0; i < reqs.size(); ++i) {
    auto one = p_->Plan(reqs[i]);
    EXPECT_EQ(pb.results[i].planned, one.planned) << i;
    EXPECT_EQ(pb.results[i].requires_replace, one.requires_replace) << i;
  }
  EXPECT_EQ(pb.results[0].planned["id"], "a.txt");
  EXPECT_EQ(pb.results[1].requires_replace, std::vector<Path>{{"path"}});
}

TEST_F(FilesProvider, PlanApplyReadDeleteLifecycle) {
  // plan a create: computed sha256 known, id from the path, unknown content stays unknown
  auto plan = p_->Plan({"file", "files.file.a", nullptr, Config("dir/a.txt", "hello\n")});
  ASSERT_FALSE(HasErrors(plan.diagnostics)) << AllText(plan.diagnostics);
  EXPECT_EQ(plan.planned["mode"], "0644");
  EXPECT_EQ(plan.planned["id"], "dir/a.txt");
  EXPECT_EQ(plan.planned["sha256"],
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
  EXPECT_TRUE(plan.requires_replace.empty());
  json unknown_cfg = {{"path", "b"}, {"content", {{"$unknown", true}}}};
  auto plan_u = p_->Plan({"file", "files.file.b", nullptr, unknown_cfg});
  EXPECT_EQ(plan_u.planned["sha256"], json({{"$unknown", true}}));

  // apply with a progress notification
  std::vector<std::string> progress;
  ApplyRequest ar{"file", "files.file.a", nullptr, plan.planned, Config("dir/a.txt", "hello\n"),
                  [&](const std::string& m) { progress.push_back(m); }};
  auto applied = p_->Apply(ar);
  ASSERT_FALSE(HasErrors(applied.diagnostics)) << AllText(applied.diagnostics);
  EXPECT_EQ(progress, std::vector<std::string>{"writing dir/a.txt"});
  EXPECT_EQ(ReadFile(root_ + "/dir/a.txt"), "hello\n");
  EXPECT_EQ(applied.state["sha256"], plan.planned["sha256"]);
  EXPECT_EQ(applied.state["mode"], "0644");

  // read: unchanged, then drift made outside kiln shows up
  auto read = p_->Read({"file", "files.file.a", applied.state});
  EXPECT_EQ(read.state, applied.state);
  std::ofstream(root_ + "/dir/a.txt") << "edited";
  read = p_->Read({"file", "files.file.a", applied.state});
  EXPECT_EQ(read.state["content"], "edited");

  // read with state null: recovery by address finds the object
  auto recovered = p_->Read({"file", "files.file.a", nullptr});
  ASSERT_TRUE(recovered.state.is_object()) << recovered.state.dump();
  EXPECT_EQ(recovered.state["path"], "dir/a.txt");
  auto none = p_->Read({"file", "files.file.never", nullptr});
  EXPECT_TRUE(none.state.is_null());

  // read_batch (the plugin announces it): the same answers, in order
  ASSERT_TRUE(p_->SupportsReadBatch());
  auto batch = p_->ReadBatch({{{"file", "files.file.a", applied.state}, {"file", "files.file.never", nullptr},
                               {"file", "files.file.a", nullptr}}});
  ASSERT_FALSE(HasErrors(batch.diagnostics)) << AllText(batch.diagnostics);
  ASSERT_EQ(batch.results.size(), 3u);
  EXPECT_EQ(batch.results[0].state["content"], "edited");
  EXPECT_TRUE(batch.results[1].state.is_null());
  EXPECT_EQ(batch.results[2].state["path"], "dir/a.txt");

  // plan with a new path: requires_replace names it
  auto moved = p_->Plan({"file", "files.file.a", applied.state, Config("dir/b.txt", "hello\n")});
  ASSERT_EQ(moved.requires_replace.size(), 1u);
  EXPECT_EQ(moved.requires_replace[0], Path{"path"});
  auto same = p_->Plan({"file", "files.file.a", applied.state, Config("dir/a.txt", "x")});
  EXPECT_TRUE(same.requires_replace.empty());

  // delete, then read says gone
  auto del = p_->Delete({"file", "files.file.a", applied.state});
  EXPECT_FALSE(HasErrors(del.diagnostics)) << AllText(del.diagnostics);
  EXPECT_FALSE(fs::exists(root_ + "/dir/a.txt"));
  EXPECT_TRUE(p_->Read({"file", "files.file.a", applied.state}).state.is_null());
  EXPECT_TRUE(p_->Read({"file", "files.file.a", nullptr}).state.is_null());
}

TEST_F(FilesProvider, ImportByPath) {
  std::ofstream(root_ + "/existing.txt") << "already here";
  auto r = p_->Import({"file", "existing.txt"});
  ASSERT_FALSE(HasErrors(r.diagnostics)) << AllText(r.diagnostics);
  EXPECT_EQ(r.state["content"], "already here");
  EXPECT_EQ(r.state["id"], "existing.txt");
  auto missing = p_->Import({"file", "nope.txt"});
  ASSERT_TRUE(HasErrors(missing.diagnostics));
  EXPECT_NE(missing.diagnostics[0].summary.find("no file nope.txt"), std::string::npos);
}

TEST_F(FilesProvider, InventoryIsAnUnknownMethodError) {
  auto r = p_->Inventory();
  ASSERT_TRUE(HasErrors(r.diagnostics));
  EXPECT_NE(r.diagnostics[0].summary.find("failed inventory: unknown method inventory"),
            std::string::npos)
      << AllText(r.diagnostics);
}

TEST_F(FilesProvider, CallsFromManyThreadsAreSerialized) {
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        std::string content = "t" + std::to_string(t) + "i" + std::to_string(i);
        auto r = p_->Plan({"file", "files.file.x", nullptr, Config("x", content)});
        if (!HasErrors(r.diagnostics) && r.planned["content"] == content) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 80);
}

// -------------------------------------------------- misbehaving plugins

struct Started {
  std::unique_ptr<Provider> provider;
  ProviderDiagnostics diags;
};

Started StartBad(const std::string& type, int timeout_ms = 1500) {
  rpc::PluginOptions o;
  o.type = type;
  o.path = kPlugins + "/kiln-provider-" + type;
  o.call_timeout_ms = timeout_ms;
  o.initialize_timeout_ms = 5000;
  Started s;
  s.provider = rpc::StartPlugin(o, &s.diags);
  return s;
}

TEST(BadPlugins, CrashDuringApplyNamesProviderOperationStatusAndStderr) {
  auto s = StartBad("crash");
  ASSERT_TRUE(s.provider) << AllText(s.diags);
  auto r = s.provider->Apply({"thing", "crash.thing.a", nullptr, json::object(), json::object(), nullptr});
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].summary,
            "provider `crash` crashed during apply of crash.thing.a (exit status 3); "
            "last stderr: boom: disk on fire");
  // Later calls fail at once, saying why.
  auto again = s.provider->Plan({"thing", "crash.thing.b", nullptr, json::object()});
  ASSERT_TRUE(HasErrors(again.diagnostics));
  EXPECT_NE(again.diagnostics[0].summary.find("no longer running"), std::string::npos)
      << AllText(again.diagnostics);
}

TEST(BadPlugins, KilledBySignal) {
  auto s = StartBad("segv");
  ASSERT_TRUE(s.provider) << AllText(s.diags);
  auto r = s.provider->Plan({"thing", "segv.thing.a", nullptr, json::object()});
  ASSERT_TRUE(HasErrors(r.diagnostics));
  EXPECT_NE(r.diagnostics[0].summary.find(
                "provider `segv` crashed during plan of segv.thing.a (killed by signal 11 (SIGSEGV))"),
            std::string::npos)
      << AllText(r.diagnostics);
}

TEST(BadPlugins, HangIsKilledAfterTheTimeout) {
  auto s = StartBad("hang", 700);
  ASSERT_TRUE(s.provider) << AllText(s.diags);
  auto start = std::chrono::steady_clock::now();
  auto r = s.provider->Plan({"thing", "hang.thing.a", nullptr, json::object()});
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(HasErrors(r.diagnostics));
  EXPECT_EQ(r.diagnostics[0].summary,
            "provider `hang` did not answer plan of hang.thing.a within 700ms and was killed; "
            "last stderr: thinking very hard");
  EXPECT_GE(ms, 650);
  EXPECT_LT(ms, 5000);
  // Shutting down a killed plugin is immediate.
  start = std::chrono::steady_clock::now();
  s.provider.reset();
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count(), 1000);
}

TEST(BadPlugins, GarbageOutputIsMalformedFraming) {
  auto s = StartBad("garbage");
  ASSERT_TRUE(s.provider) << AllText(s.diags);
  auto start = std::chrono::steady_clock::now();
  auto r = s.provider->Plan({"thing", "garbage.thing.a", nullptr, json::object()});
  ASSERT_TRUE(HasErrors(r.diagnostics));
  EXPECT_NE(r.diagnostics[0].summary.find(
                "provider `garbage` sent malformed output during plan of garbage.thing.a: expected a "
                "`Content-Length:` header, got \"Traceback? no"),
            std::string::npos)
      << AllText(r.diagnostics);
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count(), 1400);
}

TEST(BadPlugins, MalformedJsonInAFrame) {
  auto s = StartBad("badjson");
  ASSERT_TRUE(s.provider) << AllText(s.diags);
  auto r = s.provider->Plan({"thing", "badjson.thing.a", nullptr, json::object()});
  ASSERT_TRUE(HasErrors(r.diagnostics));
  EXPECT_NE(r.diagnostics[0].summary.find(
                "provider `badjson` sent malformed JSON during plan of badjson.thing.a: \"{not json\""),
            std::string::npos)
      << AllText(r.diagnostics);
}

TEST(BadPlugins, JsonRpcErrorObject) {
  auto s = StartBad("rpcerror");
  ASSERT_TRUE(s.provider) << AllText(s.diags);
  auto r = s.provider->Plan({"thing", "rpcerror.thing.a", nullptr, json::object()});
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].summary,
            "provider `rpcerror` failed plan of rpcerror.thing.a: quota exceeded in region moon-1 "
            "(JSON-RPC error -32000)");
  // An error answer leaves the plugin usable.
  auto v = s.provider->Validate({"thing", "rpcerror.thing.a", json::object()});
  EXPECT_FALSE(HasErrors(v.diagnostics)) << AllText(v.diagnostics);
}

TEST(BadPlugins, WrongProtocolVersion) {
  auto s = StartBad("oldproto");
  EXPECT_FALSE(s.provider);
  ASSERT_EQ(s.diags.size(), 1u);
  EXPECT_NE(s.diags[0].summary.find("provider `oldproto` (" + kPlugins +
                                    "/kiln-provider-oldproto) speaks protocol version 2; this "
                                    "kiln speaks version 1"),
            std::string::npos)
      << AllText(s.diags);
}

TEST(BadPlugins, NotExecutableAndMissing) {
  auto s = StartBad("noexec");
  EXPECT_FALSE(s.provider);
  ASSERT_EQ(s.diags.size(), 1u);
  EXPECT_EQ(s.diags[0].summary, "cannot start provider `noexec` from " + kPlugins +
                                    "/kiln-provider-noexec: not executable (chmod +x it)");
  auto m = StartBad("doesnotexist");
  EXPECT_FALSE(m.provider);
  ASSERT_EQ(m.diags.size(), 1u);
  EXPECT_NE(m.diags[0].summary.find("No such file or directory"), std::string::npos);
}

TEST(BadPlugins, SchemaJsonRoundTrip) {
  ProviderSchema s;
  s.name = "x";
  s.version = "1";
  s.config["root"] = {"string?", true, false, false, "doc"};
  s.kinds["widget"].fields["id"] = {"string", false, true, false, ""};
  s.capabilities = {"inventory"};
  ProviderSchema back;
  std::string error;
  ASSERT_TRUE(rpc::ParseSchema(rpc::SchemaToJson(s), &back, &error)) << error;
  EXPECT_EQ(back.config.at("root").doc, "doc");
  EXPECT_TRUE(back.kinds.at("widget").fields.at("id").computed);
  EXPECT_EQ(back.capabilities, s.capabilities);
  EXPECT_FALSE(rpc::ParseSchema(json{{"name", "x"}}, &back, &error));
  EXPECT_NE(error.find("protocol_version"), std::string::npos);
}

}  // namespace
}  // namespace kiln
