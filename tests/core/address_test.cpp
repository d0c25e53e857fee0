// core/address.h: one grammar for instance addresses (quoted and integer
// keys, module paths), its canonical printer and the selection matcher.
#include "core/address.h"

#include <gtest/gtest.h>

namespace kiln {
namespace {

TEST(Address, ParsesARootResourceWithoutKey) {
  auto a = Address::Parse("endpoint.chat");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->modules.empty());
  EXPECT_EQ(a->kind, "endpoint");
  EXPECT_EQ(a->name, "chat");
  EXPECT_TRUE(a->key.is_null());
  EXPECT_EQ(a->ModulePath(), "");
  EXPECT_EQ(a->ToString(), "endpoint.chat");
}

TEST(Address, ParsesQuotedKeysWithEscapesAsTheCompilerWritesThem) {
  auto a = Address::Parse(R"(module.eu["k"].endpoint.chat["a.b]\"c\\d"])");
  ASSERT_TRUE(a);
  ASSERT_EQ(a->modules.size(), 1u);
  EXPECT_EQ(a->modules[0].name, "eu");
  EXPECT_EQ(a->modules[0].key, "k");
  EXPECT_EQ(a->key, "a.b]\"c\\d");
  EXPECT_EQ(a->ToString(), R"(module.eu["k"].endpoint.chat["a.b]\"c\\d"])");
}

TEST(Address, ParsesIntegerKeysAndDottedKinds) {
  auto a = Address::Parse("module.eu[2].module.inner.slurm.reservation.r[30]");
  ASSERT_TRUE(a);
  ASSERT_EQ(a->modules.size(), 2u);
  EXPECT_EQ(a->modules[0].key, 2);
  EXPECT_TRUE(a->modules[1].key.is_null());
  EXPECT_EQ(a->kind, "slurm.reservation");
  EXPECT_EQ(a->name, "r");
  EXPECT_EQ(a->key, 30);
  EXPECT_EQ(a->ModulePath(), "module.eu[2].module.inner");
  EXPECT_EQ(a->ToString(), "module.eu[2].module.inner.slurm.reservation.r[30]");
  // A quoted "30" is another key than 30.
  EXPECT_NE(*Address::Parse("slurm.reservation.r[\"30\"]"), *Address::Parse("slurm.reservation.r[30]"));
}

TEST(Address, ParsesModuleAddresses) {
  auto a = Address::Parse("module.eu[\"k\"].module.inner");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->IsModule());
  EXPECT_EQ(a->modules.size(), 2u);
  EXPECT_EQ(a->ToString(), "module.eu[\"k\"].module.inner");
}

TEST(Address, RejectsWhatIsNoAddress) {
  for (const char* bad :
       {"", "endpoint", "endpoint.", ".x", "endpoint.chat[", "endpoint.chat[x]", "endpoint[0].chat",
        "endpoint.chat[\"x\"]y", "1x.y", "endpoint.chat[-1]", "endpoint.chat[1234567890123456789]",
        "module.x.y", "module.eu.module", "endpoint..chat", "endpoint.chat[\"x\"", "a b.c"}) {
    EXPECT_FALSE(Address::Parse(bad)) << bad;
  }
}

TEST(Address, ContainsInstancesResourcesAndModules) {
  auto contains = [](const char* sel, const char* addr) { return AddressContains(sel, addr); };
  EXPECT_TRUE(contains("endpoint.chat", "endpoint.chat"));
  EXPECT_TRUE(contains("endpoint.chat", "endpoint.chat[\"a\"]"));
  EXPECT_TRUE(contains("endpoint.chat", "endpoint.chat[0]"));
  EXPECT_TRUE(contains("endpoint.chat[\"a\"]", "endpoint.chat[\"a\"]"));
  EXPECT_FALSE(contains("endpoint.chat[\"a\"]", "endpoint.chat[\"b\"]"));
  EXPECT_FALSE(contains("endpoint.chat[\"a\"]", "endpoint.chat"));
  EXPECT_FALSE(contains("endpoint.chat", "endpoint.chatter"));
  EXPECT_FALSE(contains("endpoint.chat", "module.eu.endpoint.chat"));
  EXPECT_TRUE(contains("module.eu", "module.eu.endpoint.chat"));
  EXPECT_TRUE(contains("module.eu", "module.eu[\"k\"].endpoint.chat"));
  EXPECT_TRUE(contains("module.eu", "module.eu[\"k\"].module.inner.endpoint.chat[1]"));
  EXPECT_TRUE(contains("module.eu[\"k\"]", "module.eu[\"k\"].endpoint.chat"));
  EXPECT_FALSE(contains("module.eu[\"k\"]", "module.eu[\"j\"].endpoint.chat"));
  EXPECT_FALSE(contains("module.eu", "module.eu2.endpoint.chat"));
  EXPECT_FALSE(contains("module.eu.module.inner", "module.eu[\"k\"].module.inner.endpoint.chat"));
  EXPECT_FALSE(contains("not an address", "endpoint.chat"));
  auto a = *Address::Parse("endpoint.chat[\"a\"]");
  EXPECT_TRUE(a.Matches(*Address::Parse("endpoint.chat")));
  EXPECT_FALSE(Address::Parse("endpoint.chat")->Matches(a));
}

TEST(Address, BareKindIsTheLastDottedPart) {
  EXPECT_EQ(BareKind("slurm.reservation"), "reservation");
  EXPECT_EQ(BareKind("endpoint"), "endpoint");
}

}  // namespace
}  // namespace kiln
