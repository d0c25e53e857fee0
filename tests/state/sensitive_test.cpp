// Keyed hashing of sensitive values and their redaction in state.
#include <gtest/gtest.h>

#include "planner/state/state.h"

namespace kiln::state {
namespace {

using nlohmann::json;

TEST(HmacSha256, Rfc4231TestVectors) {
  struct Case {
    std::string key, data, expected;
  };
  std::string tc4_key;
  for (int i = 1; i <= 25; ++i) tc4_key += static_cast<char>(i);
  const Case cases[] = {
      {std::string(20, '\x0b'), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {std::string(20, '\xaa'), std::string(50, '\xdd'),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {tc4_key, std::string(50, '\xcd'),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {std::string(131, '\xaa'),
       "This is a test using a larger than block-size key and a larger than block-size data. "
       "The key needs to be hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  for (const Case& c : cases) EXPECT_EQ(ToHex(HmacSha256(c.key, c.data)), c.expected) << c.data;
  // RFC 4231 test case 5 truncates the output to 128 bits.
  EXPECT_EQ(ToHex(HmacSha256(std::string(20, '\x0c'), "Test With Truncation")).substr(0, 32),
            "a3b6167473100ee06e0c796c2955552b");
}

TEST(SensitiveHasher, KeyedAndCanonical) {
  SensitiveHasher a(std::string(32, 'a')), b(std::string(32, 'b'));
  json v = {{"user", "root"}, {"password", "hunter2"}};
  json same = json::parse(R"({"password": "hunter2", "user": "root"})");
  EXPECT_EQ(a.Hash(v), a.Hash(same));  // object key order does not matter
  EXPECT_NE(a.Hash(v), b.Hash(v));     // another key, another hash
  EXPECT_EQ(a.Hash("x").rfind("hmac-sha256:", 0), 0u);
  EXPECT_EQ(a.Hash("x").size(), std::string("hmac-sha256:").size() + 64);
  EXPECT_TRUE(a.Same("hunter2", a.Hash("hunter2")));
  EXPECT_FALSE(a.Same("hunter3", a.Hash("hunter2")));
  EXPECT_FALSE(b.Same("hunter2", a.Hash("hunter2")));
  EXPECT_FALSE(a.Same("1", a.Hash(1)));  // type is part of the value
  EXPECT_EQ(a.KeyId().size(), 16u);
  EXPECT_NE(a.KeyId(), b.KeyId());
  EXPECT_NE(SensitiveHasher::NewKey(), SensitiveHasher::NewKey());
  EXPECT_EQ(SensitiveHasher::NewKey().size(), 32u);
}

TEST(Pointer, EscapesAndRoundTrips) {
  Path p = {"env", "a/b", "c~d", "0"};
  EXPECT_EQ(PathToPointer(p), "/env/a~1b/c~0d/0");
  EXPECT_EQ(PointerToPath("/env/a~1b/c~0d/0"), p);
  EXPECT_EQ(PathToPointer({}), "");
  EXPECT_TRUE(PointerToPath("").empty());
}

TEST(Redact, ReplacesExistingValuesAndRecordsHashes) {
  SensitiveHasher h(std::string(32, 'k'));
  json attrs = json::parse(R"({
    "env": {"TOKEN": "s3cret", "MODE": "prod"},
    "keys": ["k0", "k1"],
    "db": {"password": null},
    "later": {"$unknown": true},
    "blob": {"a": {"b": 1}}
  })");
  std::vector<Path> paths = {{"env", "TOKEN"}, {"keys", "1"}, {"db", "password"}, {"later"},
                             {"missing", "x"}, {"keys", "9"}, {"blob"}, {"blob", "a", "b"}};
  Redacted r = RedactForState(attrs, paths, h);
  EXPECT_EQ(r.attributes["env"]["TOKEN"], kSensitivePlaceholder);
  EXPECT_EQ(r.attributes["env"]["MODE"], "prod");
  EXPECT_EQ(r.attributes["keys"], json::parse(R"x(["k0", "(sensitive)"])x"));
  EXPECT_TRUE(r.attributes["db"]["password"].is_null());  // nothing to hide
  EXPECT_EQ(r.attributes["later"], attrs["later"]);       // unknown stays unknown
  EXPECT_EQ(r.attributes["blob"], kSensitivePlaceholder);  // the whole subtree
  EXPECT_EQ(r.hashes.size(), 3u);
  EXPECT_TRUE(h.Same("s3cret", r.hashes.at("/env/TOKEN")));
  EXPECT_TRUE(h.Same("k1", r.hashes.at("/keys/1")));
  EXPECT_TRUE(h.Same(json::parse(R"({"a": {"b": 1}})"), r.hashes.at("/blob")));
  EXPECT_EQ(r.attributes.dump().find("s3cret"), std::string::npos);
  EXPECT_EQ(attrs["env"]["TOKEN"], "s3cret");  // input untouched
}

TEST(Redact, RestoreFillsOnlyMatchingValues) {
  SensitiveHasher h(std::string(32, 'k'));
  json attrs = {{"env", {{"TOKEN", "s3cret"}, {"OTHER", "o"}}}, {"id", "x"}};
  Redacted r = RedactForState(attrs, {{"env", "TOKEN"}, {"env", "OTHER"}}, h);
  json config = {{"env", {{"TOKEN", "s3cret"}, {"OTHER", "changed"}}}};
  json restored = RestoreSensitive(r.attributes, r.hashes, config, h);
  EXPECT_EQ(restored["env"]["TOKEN"], "s3cret");
  EXPECT_EQ(restored["env"]["OTHER"], kSensitivePlaceholder);
  EXPECT_EQ(restored["id"], "x");
  json unknown = {{"env", {{"TOKEN", {{"$unknown", true}}}}}};
  EXPECT_EQ(RestoreSensitive(r.attributes, r.hashes, unknown, h)["env"]["TOKEN"], kSensitivePlaceholder);
}

}  // namespace
}  // namespace kiln::state
