// The state file format: canonical round trips, the v1 reader's checks,
// State's sorted-vector helpers and address parsing.
#include <gtest/gtest.h>

#include "planner/state/state.h"
#include "state_test_util.h"

namespace kiln::state {
namespace {

using testing::Slurp;

std::string Fixture(const std::string& name) {
  return std::string(KILN_SOURCE_DIR) + "/tests/testdata/state/" + name;
}

TEST(StateFormat, CanonicalFixturesRoundTripByteForByte) {
  for (const char* name : {"v1_full.json", "v1_empty.json"}) {
    SCOPED_TRACE(name);
    std::string text = Slurp(Fixture(name));
    ASSERT_FALSE(text.empty());
    State s;
    Diagnostics diags;
    ASSERT_TRUE(ParseState(text, name, "", &s, diags));
    EXPECT_TRUE(diags.empty());
    EXPECT_EQ(SerializeState(s), text);
  }
}

TEST(StateFormat, FullFixtureFields) {
  State s;
  Diagnostics diags;
  ASSERT_TRUE(ParseState(Slurp(Fixture("v1_full.json")), "f", "", &s, diags));
  EXPECT_EQ(s.serial, 7);
  EXPECT_EQ(s.lineage, "3f1c2a9e-5b7d-4e21-9a0c-6d8e2f4b1a37");
  ASSERT_EQ(s.resources.size(), 3u);
  const ResourceState* ep = s.Find("endpoint.chat");
  ASSERT_NE(ep, nullptr);
  EXPECT_TRUE(ep->create_before_destroy);
  EXPECT_EQ(ep->attributes["env"]["API_TOKEN"], kSensitivePlaceholder);
  EXPECT_EQ(ep->sensitive_hashes.count("/env/API_TOKEN"), 1u);
  EXPECT_EQ(ep->dependencies.size(), 2u);
  const ResourceState* r = s.Find("module.eu[\"train\"].slurm.reservation.gpus[0]");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->status, kStatusTainted);
  EXPECT_EQ(r->key, 0);
  EXPECT_EQ(r->module, "module.eu[\"train\"]");
  EXPECT_TRUE(s.outputs.at("token").sensitive);
  EXPECT_EQ(s.outputs.at("token").value, kSensitivePlaceholder);
  EXPECT_FALSE(s.outputs.at("url").sensitive);
}

TEST(StateFormat, ResourcesAreSortedAndDependenciesNormalizedOnRead) {
  std::string text = R"({"version": 1, "serial": 2, "lineage": "l",
    "resources": [
      {"address": "z.b", "kind": "z", "name": "b", "provider": "p", "dependencies": ["y.a", "x.a", "y.a"]},
      {"address": "a.b", "kind": "a", "name": "b", "provider": "p"}],
    "outputs": {}})";
  State s;
  Diagnostics diags;
  ASSERT_TRUE(ParseState(text, "f", "", &s, diags));
  ASSERT_EQ(s.Addresses(), (std::vector<std::string>{"a.b", "z.b"}));
  EXPECT_EQ(s.resources[1].dependencies, (std::vector<std::string>{"x.a", "y.a"}));
  EXPECT_EQ(s.resources[0].status, kStatusReady);
}

struct FailCase {
  const char* file;
  const char* code;
  const char* message_part;
};

TEST(StateFormat, CorruptFilesGiveClearErrorsNamingFileAndBackup) {
  const FailCase cases[] = {
      {"fail_truncated.json", "E0801", "is not valid JSON at byte"},
      {"fail_not_object.json", "E0801", "must hold a JSON object, found array"},
      {"fail_binary.json", "E0801", "looks like binary data"},
      {"fail_empty.json", "E0801", "is empty"},
      {"fail_newer_version.json", "E0802", "newer than this kiln reads"},
      {"fail_no_version.json", "E0802", "no integer \"version\""},
      {"fail_duplicate_address.json", "E0803", "endpoint.chat appears twice"},
      {"fail_bad_resource.json", "E0803", "field \"name\" must be a string"},
  };
  for (const FailCase& c : cases) {
    SCOPED_TRACE(c.file);
    State s;
    Diagnostics diags;
    EXPECT_FALSE(ParseState(Slurp(Fixture(c.file)), ".kiln/state.json", ".kiln/state.json.backup", &s, diags));
    ASSERT_EQ(diags.size(), 1u);
    const Diagnostic& d = diags.items()[0];
    EXPECT_EQ(d.code, c.code);
    EXPECT_NE(d.message.find(".kiln/state.json"), std::string::npos) << d.message;
    EXPECT_NE(d.message.find(c.message_part), std::string::npos) << d.message;
    std::string notes;
    for (const auto& n : d.notes) notes += n + "\n";
    EXPECT_NE(notes.find(".kiln/state.json.backup"), std::string::npos) << notes;
    if (std::string(c.file) != "fail_newer_version.json") {  // that one says to upgrade instead
      EXPECT_NE(d.help.find("cp .kiln/state.json.backup .kiln/state.json"), std::string::npos) << d.help;
    }
  }
}

TEST(StateFormat, NewerVersionSuggestsUpgrade) {
  State s;
  Diagnostics diags;
  EXPECT_FALSE(ParseState(Slurp(Fixture("fail_newer_version.json")), "f", "", &s, diags));
  EXPECT_NE(diags.items()[0].help.find("9.0.0"), std::string::npos);
}

ResourceState Named(const std::string& address, const std::string& name = "") {
  ResourceState r;
  r.address = address;
  r.kind = "m";
  r.name = name;
  return r;
}

TEST(StateValue, UpsertFindRemoveKeepOrder) {
  State s;
  for (const char* a : {"m.c", "m.a", "m.b"}) s.Upsert(Named(a));
  EXPECT_EQ(s.Addresses(), (std::vector<std::string>{"m.a", "m.b", "m.c"}));
  s.Upsert(Named("m.b", "new"));
  EXPECT_EQ(s.resources.size(), 3u);
  EXPECT_EQ(s.Find("m.b")->name, "new");
  EXPECT_EQ(s.Find("m.zz"), nullptr);
  EXPECT_TRUE(s.Remove("m.a"));
  EXPECT_FALSE(s.Remove("m.a"));
  EXPECT_EQ(s.Addresses(), (std::vector<std::string>{"m.b", "m.c"}));
}

TEST(StateValue, SameContentIgnoresSerialAndVersion) {
  State a, b;
  a.lineage = b.lineage = "l";
  a.serial = 1;
  b.serial = 9;
  b.kiln_version = "x";
  EXPECT_TRUE(a.SameContent(b));
  b.outputs["o"] = OutputState{1, false, "", {}, {}};
  EXPECT_FALSE(a.SameContent(b));
}

TEST(Address, ParsesModulesKindsNamesAndKeys) {
  auto a = ParseAddress("endpoint.chat");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->module, "");
  EXPECT_EQ(a->kind, "endpoint");
  EXPECT_EQ(a->name, "chat");
  EXPECT_TRUE(a->key.is_null());

  a = ParseAddress("module.eu[\"k\"].module.inner.slurm.reservation.r[3]");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->module, "module.eu[\"k\"].module.inner");
  EXPECT_EQ(a->kind, "slurm.reservation");
  EXPECT_EQ(a->name, "r");
  EXPECT_EQ(a->key, 3);

  a = ParseAddress("endpoint.chat[\"a.b]\\\"c\"]");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->key, "a.b]\"c");

  for (const char* bad : {"", "endpoint", "endpoint.", ".x", "endpoint.chat[", "endpoint.chat[x]",
                          "endpoint[0].chat", "endpoint.chat[\"x\"]y", "1x.y"}) {
    EXPECT_FALSE(ParseAddress(bad)) << bad;
  }
}

TEST(Uuid, IsVersion4AndFresh) {
  std::string a = NewUuid(), b = NewUuid();
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '4');
  EXPECT_NE(std::string("89ab").find(a[19]), std::string::npos);
}

}  // namespace
}  // namespace kiln::state

namespace kiln::state {
namespace {

TEST(StateFormat, ResourceJsonRoundTrips) {
  State s;
  Diagnostics diags;
  ASSERT_TRUE(ParseState(testing::Slurp(std::string(KILN_SOURCE_DIR) + "/tests/testdata/state/v1_full.json"),
                         "f", "", &s, diags));
  for (const ResourceState& r : s.resources) {
    ResourceState back;
    std::string problem;
    ASSERT_TRUE(ResourceFromJson(ResourceToJson(r), &back, &problem)) << problem;
    EXPECT_EQ(back, r);
  }
  ResourceState bad;
  std::string problem;
  EXPECT_FALSE(ResourceFromJson(nlohmann::json{{"address", "a.b"}}, &bad, &problem));
  EXPECT_NE(problem.find("kind"), std::string::npos) << problem;
}

}  // namespace
}  // namespace kiln::state

namespace kiln::state {
namespace {

ResourceState Deposed(const std::string& address, const std::string& key, const std::string& id) {
  ResourceState r;
  r.address = address;
  r.kind = "endpoint";
  r.name = "chat";
  r.provider = "provider.local";
  r.provider_type = "local";
  r.attributes = {{"id", id}};
  r.deposed_key = key;
  return r;
}

TEST(StateFormat, DeposedObjectsMakeVersion2AndRoundTrip) {
  State s;
  s.lineage = "l";
  ResourceState cur = Deposed("endpoint.chat", "", "new");
  s.Upsert(cur);
  s.AddDeposed(Deposed("endpoint.chat", "b0000000", "old2"));
  s.AddDeposed(Deposed("endpoint.chat", "a0000000", "old1"));
  ASSERT_EQ(s.deposed.size(), 2u);
  EXPECT_EQ(s.deposed[0].deposed_key, "a0000000");  // sorted by key
  std::string text = SerializeState(s);
  EXPECT_NE(text.find("\"version\": 2"), std::string::npos) << text;
  EXPECT_NE(text.find("\"address\": \"endpoint.chat\",\n      \"deposed_key\": \"a0000000\""), std::string::npos) << text;
  State back;
  Diagnostics diags;
  ASSERT_TRUE(ParseState(text, "f", "", &back, diags)) << diags.items()[0].message;
  EXPECT_EQ(back.deposed, s.deposed);
  EXPECT_EQ(back.resources, s.resources);
  EXPECT_EQ(SerializeState(back), text);
  ASSERT_NE(back.FindDeposed("endpoint.chat", "b0000000"), nullptr);
  EXPECT_EQ(back.FindDeposed("endpoint.chat", "b0000000")->attributes["id"], "old2");
  EXPECT_TRUE(back.RemoveDeposed("endpoint.chat", "b0000000"));
  EXPECT_FALSE(back.RemoveDeposed("endpoint.chat", "b0000000"));
  // Without deposed objects the file is version 1 again, as older kilns read.
  back.deposed.clear();
  EXPECT_NE(SerializeState(back).find("\"version\": 1"), std::string::npos);
  EXPECT_EQ(SerializeState(back).find("deposed"), std::string::npos);
}

TEST(StateFormat, DeposedEntriesAreCheckedStrictly) {
  const std::string head = R"({"version": 2, "serial": 1, "lineage": "l", "resources": [], )";
  const std::string entry = R"({"address": "endpoint.chat", "kind": "endpoint", "name": "chat", "provider": "p")";
  struct Case {
    std::string body, problem;
  } cases[] = {
      {R"("deposed": {})", "field \"deposed\" must be an array"},
      {R"("deposed": [)" + entry + "}]", "deposed[0] (endpoint.chat): missing field \"deposed_key\""},
      {R"("deposed": [)" + entry + R"(, "deposed_key": "k"}, )" + entry + R"(, "deposed_key": "k"}])",
       "deposed object endpoint.chat k appears twice"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    State s;
    Diagnostics diags;
    EXPECT_FALSE(ParseState(head + c.body + "}", "f", "", &s, diags));
    ASSERT_FALSE(diags.empty());
    EXPECT_NE(diags.items()[0].message.find(c.problem), std::string::npos) << diags.items()[0].message;
  }
  // A deposed_key inside `resources` is refused too.
  State s;
  Diagnostics diags;
  EXPECT_FALSE(ParseState(R"({"version": 2, "serial": 1, "lineage": "l", "resources": [)" + entry +
                              R"(, "deposed_key": "k"}]})",
                          "f", "", &s, diags));
}

}  // namespace
}  // namespace kiln::state
