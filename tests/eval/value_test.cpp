// Values and types without source: printing, JSON forms, equality,
// sensitivity, assignability.
#include <gtest/gtest.h>

#include "compiler/types/types.h"
#include "compiler/value/value.h"

namespace kiln {
namespace {

TEST(ValueTest, CanonicalDurations) {
  EXPECT_EQ(FormatDuration(90 * 60000), "90m");
  EXPECT_EQ(FormatDuration(120 * 60000), "2h");
  EXPECT_EQ(FormatDuration(1500), "1500ms");
  EXPECT_EQ(FormatDuration(7 * 86400000LL), "7d");
  EXPECT_EQ(FormatDuration(0), "0ms");
}

TEST(ValueTest, CanonicalBytes) {
  EXPECT_EQ(FormatBytes(1024LL * (1 << 20)), "1GiB");
  EXPECT_EQ(FormatBytes(80LL << 30), "80GiB");
  EXPECT_EQ(FormatBytes(2000000000000LL), "2TB");
  EXPECT_EQ(FormatBytes(512LL << 20), "512MiB");
  EXPECT_EQ(FormatBytes(1500), "1500B");
}

TEST(ValueTest, CanonicalFloats) {
  EXPECT_EQ(FormatFloat(0.001), "0.001");
  EXPECT_EQ(FormatFloat(1e-4), "0.0001");
  EXPECT_EQ(FormatFloat(3.5), "3.5");
  EXPECT_EQ(FormatFloat(2.0), "2");
}

TEST(ValueTest, JsonForms) {
  EXPECT_EQ(ToJson(Value::Duration(5400000)), nlohmann::json(5400000));
  EXPECT_EQ(ToJson(Value::Bytes(1LL << 30)), nlohmann::json(1LL << 30));
  EXPECT_EQ(ToJson(Value::Range(1, 4)).dump(), R"({"max":4,"min":1})");
  EXPECT_EQ(ToJson(Value::Gpu({"H100", 0, 8})).dump(), R"({"count":8,"model":"H100"})");
  EXPECT_EQ(ToJson(Value::Unknown()).dump(), R"({"$unknown":true})");
  JsonOptions redact;
  redact.redact = true;
  EXPECT_EQ(ToJson(Value::String("hunter2").WithSensitive(), redact), nlohmann::json("(sensitive)"));
  EXPECT_EQ(ToJson(Value::String("hunter2").WithSensitive()), nlohmann::json("hunter2"));
}

TEST(ValueTest, JsonRoundTripKeepsUnknowns) {
  nlohmann::json j = nlohmann::json::parse(R"({"a":[1,2.5,"x"],"b":{"$unknown":true},"c":null})");
  Value v = FromJson(j);
  ASSERT_EQ(v.kind(), ValueKind::kMap);
  EXPECT_TRUE(v.AsMap().at("b").is_unknown());
  EXPECT_FALSE(v.IsWhollyKnown());
  EXPECT_EQ(ToJson(v), j);
}

TEST(ValueTest, EqualityWidensIntsAndIgnoresSensitivity) {
  EXPECT_TRUE(Value::Int(2).Equals(Value::Float(2.0)));
  EXPECT_TRUE(Value::String("a").Equals(Value::String("a").WithSensitive()));
  EXPECT_FALSE(Value::Duration(1000).Equals(Value::Bytes(1000)));
  EXPECT_TRUE(Value::List({Value::Int(1)}).Equals(Value::List({Value::Int(1)})));
}

TEST(ValueTest, SensitivePathsAreCollected) {
  ValueMap secrets;
  secrets["TOKEN"] = Value::String("x").WithSensitive();
  ValueMap config;
  config["secrets"] = Value::Map(secrets);
  config["image"] = Value::String("img");
  config["args"] = Value::List({Value::String("a"), Value::String("b").WithSensitive()});
  std::vector<std::string> prefix;
  std::vector<std::vector<std::string>> paths;
  CollectSensitivePaths(Value::Map(config), prefix, &paths);
  ASSERT_EQ(paths.size(), 2u);
  EXPECT_EQ(paths[0], (std::vector<std::string>{"args", "1"}));
  EXPECT_EQ(paths[1], (std::vector<std::string>{"secrets", "TOKEN"}));
  EXPECT_TRUE(Value::Map(config).ContainsSensitive());
}

TEST(ValueTest, CopiesShareImmutablePayloads) {
  ValueList items(1000, Value::String("x"));
  Value a = Value::List(std::move(items));
  Value b = a;
  EXPECT_EQ(&a.AsList(), &b.AsList());
}

TEST(TypesTest, IntWidensToFloatOnly) {
  EXPECT_TRUE(Assignable(PrimitiveType(TypeKind::kFloat), PrimitiveType(TypeKind::kInt)));
  EXPECT_FALSE(Assignable(PrimitiveType(TypeKind::kInt), PrimitiveType(TypeKind::kFloat)));
  EXPECT_TRUE(Assignable(PrimitiveType(TypeKind::kRange), PrimitiveType(TypeKind::kInt)));
  EXPECT_FALSE(Assignable(PrimitiveType(TypeKind::kDuration), PrimitiveType(TypeKind::kBytes)));
}

TEST(TypesTest, LiteralUnions) {
  TypeRef u = UnionOf({LiteralType("spot"), LiteralType("on-demand")});
  EXPECT_TRUE(Assignable(u, LiteralType("spot")));
  EXPECT_FALSE(Assignable(u, LiteralType("reserved")));
  EXPECT_TRUE(Assignable(PrimitiveType(TypeKind::kString), u));
  EXPECT_EQ(TypeToString(u), "\"spot\" | \"on-demand\"");
}

TEST(TypesTest, ClosedRecords) {
  Field gpus;
  gpus.name = "gpus";
  gpus.type = PrimitiveType(TypeKind::kInt);
  Field memory;
  memory.name = "memory";
  memory.type = PrimitiveType(TypeKind::kBytes);
  memory.default_expr = reinterpret_cast<const ast::Expr*>(1);  // has a default
  TypeRef limits = RecordOf({gpus, memory}, "Limits");
  Field g2 = gpus;
  EXPECT_TRUE(Assignable(limits, RecordOf({g2})));
  std::string why;
  EXPECT_FALSE(Assignable(limits, RecordOf({}), &why));
  EXPECT_EQ(why, "missing required field `gpus`");
  Field extra;
  extra.name = "gpu";
  extra.type = PrimitiveType(TypeKind::kInt);
  why.clear();
  EXPECT_FALSE(Assignable(limits, RecordOf({g2, extra}), &why));
  EXPECT_EQ(why, "unknown field `gpu`");
}

TEST(TypesTest, OptionalAndCollections) {
  TypeRef s = PrimitiveType(TypeKind::kString);
  EXPECT_TRUE(Assignable(OptionalOf(s), PrimitiveType(TypeKind::kNull)));
  EXPECT_FALSE(Assignable(s, PrimitiveType(TypeKind::kNull)));
  EXPECT_TRUE(Assignable(ListOf(PrimitiveType(TypeKind::kFloat)), ListOf(PrimitiveType(TypeKind::kInt))));
  EXPECT_FALSE(Assignable(MapOf(s), MapOf(PrimitiveType(TypeKind::kInt))));
  EXPECT_EQ(TypeToString(OptionalOf(ListOf(s))), "list<string>?");
  EXPECT_EQ(TypeToString(Unify(PrimitiveType(TypeKind::kInt), PrimitiveType(TypeKind::kFloat))), "float");
  EXPECT_EQ(TypeToString(Unify(PrimitiveType(TypeKind::kNull), s)), "string?");
}

TEST(TypesTest, KindsMatchByName) {
  TypeRef schema = RecordOf({});
  TypeRef cluster = KindType("cluster", "", schema);
  TypeRef cluster2 = KindType("cluster", "", schema);
  TypeRef store = KindType("datastore", "", schema);
  EXPECT_TRUE(Assignable(cluster, cluster2));
  EXPECT_FALSE(Assignable(cluster, store));
  EXPECT_EQ(TypeToString(KindType("reservation", "slurm", schema)), "slurm.reservation");
}

}  // namespace
}  // namespace kiln
