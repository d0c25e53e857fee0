// The registry: plugin discovery order, built-ins, one configured object per
// provider instance address, thread safety.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "providers/discovery.h"
#include "providers/registry.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string kFiles = std::string(KILN_SOURCE_DIR) + "/examples/providers/kiln-provider-files";

std::string TempDir(const std::string& tag) {
  std::string t = (fs::temp_directory_path() / ("kiln-reg-" + tag + "-XXXXXX")).string();
  char* d = mkdtemp(t.data());
  return d ? std::string(d) : "";
}

void Touch(const fs::path& p, bool exec = true) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "#!/bin/sh\nexit 0\n";
  chmod(p.c_str(), exec ? 0755 : 0644);
}

std::string AllText(const ProviderDiagnostics& diags) {
  std::string s;
  for (const auto& d : diags) s += d.summary + " | " + d.detail + "\n";
  return s;
}

TEST(Discovery, OrderIsDotKilnThenSearchPathThenBinaryDir) {
  std::string root = TempDir("order");
  RegistryOptions o;
  o.working_dir = root + "/project";
  o.search_path = {root + "/path1", root + "/path2"};
  o.kiln_binary_dir = root + "/bin";
  Touch(root + "/project/.kiln/providers/kiln-provider-a");
  Touch(root + "/path1/kiln-provider-a");
  Touch(root + "/path1/kiln-provider-b");
  Touch(root + "/path2/kiln-provider-b");
  Touch(root + "/path2/kiln-provider-c");
  Touch(root + "/bin/kiln-provider-c");
  Touch(root + "/bin/kiln-provider-d");

  EXPECT_EQ(FindPlugin("a", o), root + "/project/.kiln/providers/kiln-provider-a");
  EXPECT_EQ(FindPlugin("b", o), root + "/path1/kiln-provider-b");
  EXPECT_EQ(FindPlugin("c", o), root + "/path2/kiln-provider-c");
  EXPECT_EQ(FindPlugin("d", o), root + "/bin/kiln-provider-d");
  std::vector<std::string> searched;
  EXPECT_EQ(FindPlugin("e", o, &searched), "");
  EXPECT_EQ(searched, (std::vector<std::string>{root + "/project/.kiln/providers", root + "/path1",
                                                root + "/path2", root + "/bin"}));

  auto all = ListPlugins(o);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].type, "a");
  EXPECT_EQ(all[0].path, root + "/project/.kiln/providers/kiln-provider-a");
  EXPECT_EQ(all[2].path, root + "/path2/kiln-provider-c");
  EXPECT_EQ(all[3].path, root + "/bin/kiln-provider-d");
  fs::remove_all(root);
}

TEST(Discovery, SearchPathComesFromTheEnvironment) {
  std::string root = TempDir("env");
  Touch(root + "/e1/kiln-provider-x");
  Touch(root + "/e2/kiln-provider-y");
  setenv("KILN_PROVIDER_PATH", (root + "/e1::" + root + "/e2").c_str(), 1);
  RegistryOptions o;
  o.working_dir = root;
  o.kiln_binary_dir = root + "/nobin";
  EXPECT_EQ(FindPlugin("x", o), root + "/e1/kiln-provider-x");
  EXPECT_EQ(FindPlugin("y", o), root + "/e2/kiln-provider-y");
  unsetenv("KILN_PROVIDER_PATH");
  EXPECT_EQ(FindPlugin("y", o), "");
  fs::remove_all(root);
}

TEST(Discovery, Sha256OfAFile) {
  std::string root = TempDir("sha");
  std::ofstream(root + "/f") << "hello\n";
  EXPECT_EQ(Sha256File(root + "/f"),
            "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03");
  EXPECT_EQ(Sha256File(root + "/missing"), "");
  fs::remove_all(root);
}

// A built-in that counts how often it is created and configured.
std::atomic<int> g_created{0}, g_configured{0};

class CountingProvider : public Provider {
 public:
  CountingProvider() {
    ++g_created;
    schema_.name = "counting";
    schema_.version = "9.9";
    schema_.kinds["widget"] = {};
  }
  const ProviderSchema& Schema() const override { return schema_; }
  ConfigureResponse Configure(const ConfigureRequest& req) override {
    ++g_configured;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ConfigureResponse r;
    if (req.config.value("fail", false))
      r.diagnostics.push_back({Severity::kError, "bad config", "", {"fail"}});
    return r;
  }
  ValidateResponse Validate(const ValidateRequest&) override { return {}; }
  PlanResponse Plan(const PlanRequest&) override { return {}; }
  ApplyResponse Apply(const ApplyRequest&) override { return {}; }
  ReadResponse Read(const ReadRequest&) override { return {}; }
  DeleteResponse Delete(const DeleteRequest&) override { return {}; }
  ImportResponse Import(const ImportRequest&) override { return {}; }
  std::string Origin() const override { return "built-in"; }

 private:
  ProviderSchema schema_;
};

TEST(Registry, OneConfiguredObjectPerInstanceAddressAcrossThreads) {
  RegisterBuiltinProvider("counting", [] { return std::make_unique<CountingProvider>(); });
  g_created = 0;
  g_configured = 0;
  ProviderRegistry reg;
  ProviderDiagnostics d;
  const ProviderSchema* s = reg.SchemaFor("counting", &d);
  ASSERT_TRUE(s) << AllText(d);
  EXPECT_EQ(s->version, "9.9");
  EXPECT_EQ(g_created.load(), 1);

  ProviderInstance a{"provider.counting.a", "counting", "a", json::object(), {}, {}};
  ProviderInstance b{"provider.counting.b", "counting", "b", json::object(), {}, {}};
  std::vector<Provider*> got_a(16), got_b(16);
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      ProviderDiagnostics dd;
      got_a[i] = reg.Instance(a, &dd);
      got_b[i] = reg.Instance(b, &dd);
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 16; ++i) {
    EXPECT_EQ(got_a[i], got_a[0]);
    EXPECT_EQ(got_b[i], got_b[0]);
  }
  EXPECT_NE(got_a[0], got_b[0]);
  ASSERT_TRUE(got_a[0]);
  // The schema object was reused for the first instance: two objects, not three.
  EXPECT_EQ(g_created.load(), 2);
  EXPECT_EQ(g_configured.load(), 2);

  auto started = reg.Started();
  auto it = std::find_if(started.begin(), started.end(),
                         [](const ProviderInfo& i) { return i.type == "counting"; });
  ASSERT_NE(it, started.end());
  EXPECT_EQ(it->origin, "built-in");
  EXPECT_EQ(it->kinds, std::vector<std::string>{"widget"});
}

TEST(Registry, ConfigureErrorsAreReportedEveryTimeAndNotRetried) {
  RegisterBuiltinProvider("counting", [] { return std::make_unique<CountingProvider>(); });
  g_configured = 0;
  ProviderRegistry reg;
  ProviderInstance bad{"provider.counting.bad", "counting", "bad", {{"fail", true}}, {}, {}};
  ProviderDiagnostics d1, d2;
  EXPECT_EQ(reg.Instance(bad, &d1), nullptr);
  EXPECT_EQ(reg.Instance(bad, &d2), nullptr);
  ASSERT_EQ(d1.size(), 1u);
  EXPECT_EQ(d1[0].summary, "provider.counting.bad: bad config");
  EXPECT_EQ(d2.size(), 1u);
  EXPECT_EQ(g_configured.load(), 1);
}

TEST(Registry, UnknownProviderSaysWhereItLooked) {
  std::string root = TempDir("unknown");
  RegistryOptions o;
  o.working_dir = root;
  o.search_path = {root + "/p"};
  o.kiln_binary_dir = root + "/bin";
  Touch(root + "/p/kiln-provider-acmex");
  ProviderRegistry reg(o);
  ProviderDiagnostics d;
  EXPECT_EQ(reg.SchemaFor("acmey", &d), nullptr);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].summary,
            "unknown provider `acmey`: it is not built in and no executable kiln-provider-acmey "
            "was found (did you mean `acmex`?)");
  EXPECT_NE(d[0].detail.find(root + "/.kiln/providers"), std::string::npos);
  fs::remove_all(root);
}

TEST(Registry, PluginFromDotKilnProvidersThroughInstance) {
  std::string root = TempDir("plugin");
  fs::create_directories(root + "/.kiln/providers");
  fs::copy_file(kFiles, root + "/.kiln/providers/kiln-provider-files");
  RegistryOptions o;
  o.working_dir = root;
  o.search_path = {root + "/none"};
  o.kiln_binary_dir = root + "/none";
  o.call_timeout_ms = 10000;
  {
    ProviderRegistry reg(o);
    ProviderDiagnostics d;
    const ProviderSchema* s = reg.SchemaFor("files", &d);
    ASSERT_TRUE(s) << AllText(d);
    EXPECT_TRUE(s->kinds.count("file"));
    ProviderInstance inst{"provider.files.out", "files", "out", {{"root", root + "/out"}}, {}, {}};
    Provider* p = reg.Instance(inst, &d);
    ASSERT_TRUE(p) << AllText(d);
    EXPECT_EQ(reg.Instance(inst, &d), p);
    json cfg = {{"path", "a.txt"}, {"content", "A"}};
    auto plan = p->Plan({"file", "files.file.a", nullptr, cfg});
    auto applied = p->Apply({"file", "files.file.a", nullptr, plan.planned, cfg, nullptr});
    ASSERT_FALSE(HasErrors(applied.diagnostics)) << AllText(applied.diagnostics);
    EXPECT_TRUE(fs::exists(root + "/out/a.txt"));
    auto started = reg.Started();
    ASSERT_EQ(started.size(), 1u);
    EXPECT_EQ(started[0].origin, root + "/.kiln/providers/kiln-provider-files");
    EXPECT_EQ(started[0].version, "0.1.0");
    // stderr went to the provider log under .kiln/logs/
    reg.ShutdownAll();
  }
  std::ifstream log(root + "/.kiln/logs/provider-files.log");
  std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(text.find("files: root is " + root + "/out"), std::string::npos) << text;
  fs::remove_all(root);
}

}  // namespace
}  // namespace kiln
