// core/wire.h and core/hash.h: unknowns, paths into values, redaction, hex
// and SHA-256.
#include "core/wire.h"

#include <gtest/gtest.h>

#include "core/hash.h"

namespace kiln {
namespace {

using nlohmann::json;

TEST(Wire, UnknownIsExactlyTheOneKeyObject) {
  EXPECT_EQ(Unknown(), json::parse(R"({"$unknown": true})"));
  EXPECT_TRUE(IsUnknown(Unknown()));
  EXPECT_FALSE(IsUnknown(json::parse(R"({"$unknown": true, "x": 1})")));
  EXPECT_FALSE(IsUnknown(json::parse(R"({"x": 1})")));
  EXPECT_FALSE(IsUnknown(json("$unknown")));
  EXPECT_TRUE(ContainsUnknown(json::parse(R"({"a": [1, {"b": {"$unknown": true}}]})")));
  EXPECT_FALSE(ContainsUnknown(json::parse(R"({"a": [1, {"b": {"$unknown": true, "c": 2}}]})")));
}

TEST(Wire, AtPathFollowsKeysAndDecimalIndices) {
  json v = json::parse(R"({"a": [10, {"b": "x"}], "c": null})");
  EXPECT_EQ(*AtPath(v, {"a", "1", "b"}), "x");
  EXPECT_EQ(*AtPath(v, {"a", "0"}), 10);
  EXPECT_EQ(AtPath(v, {}), &v);
  EXPECT_TRUE(AtPath(v, {"c"})->is_null());
  EXPECT_EQ(AtPath(v, {"a", "2"}), nullptr);
  EXPECT_EQ(AtPath(v, {"a", "+1"}), nullptr);
  EXPECT_EQ(AtPath(v, {"a", ""}), nullptr);
  EXPECT_EQ(AtPath(v, {"a", "1", "b", "deeper"}), nullptr);
  EXPECT_EQ(AtPath(v, {"missing"}), nullptr);
}

TEST(Wire, SetAndEraseAtPath) {
  json v = json::parse(R"({"a": [1, 2]})");
  SetAtPath(v, {"x", "y"}, 3);
  SetAtPath(v, {"a", "1"}, "two");
  SetAtPath(v, {"a", "5"}, "ignored");
  EXPECT_EQ(v, json::parse(R"({"a": [1, "two"], "x": {"y": 3}})"));
  EraseAtPath(v, {"x", "y"});
  EraseAtPath(v, {"a", "0"});  // list elements stay
  EraseAtPath(v, {"nothing", "here"});
  EXPECT_EQ(v, json::parse(R"({"a": [1, "two"], "x": {}})"));
}

TEST(Wire, RedactPathsKeepsNullsAndUnknowns) {
  json v = json::parse(R"({"env": {"TOKEN": "s3cret", "EMPTY": null}, "id": {"$unknown": true}})");
  json r = RedactPaths(v, {{"env", "TOKEN"}, {"env", "EMPTY"}, {"id"}, {"absent"}});
  EXPECT_EQ(r, json::parse(R"j({"env": {"TOKEN": "(sensitive)", "EMPTY": null}, "id": {"$unknown": true}})j"));
  EXPECT_EQ(RedactPaths(v, {{}}), json(kSensitivePlaceholder));
}

TEST(Hash, HexAndSha256MatchKnownVectors) {
  EXPECT_EQ(ToHex(std::string("\x01\xab\xff", 3)), "01abff");
  EXPECT_EQ(ToHex(""), "");
  EXPECT_EQ(ToHex(Sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256Builder b;
  b.Update("a").Update("bc");
  EXPECT_EQ(ToHex(b.Final()), ToHex(Sha256("abc")));
}

}  // namespace
}  // namespace kiln
