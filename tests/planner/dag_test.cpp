#include <gtest/gtest.h>

#include "planner/dag/dag.h"

namespace kiln::dag {
namespace {

TEST(DagTest, TopologicalOrderRespectsEdgesAndIsDeterministic) {
  Graph g;
  NodeId c = g.AddNode("c"), a = g.AddNode("a"), b = g.AddNode("b"), d = g.AddNode("d");
  g.AddEdge(a, b);
  g.AddEdge(b, c);
  g.AddEdge(d, c);
  g.AddEdge(a, b);  // duplicate ignored
  EXPECT_EQ(g.Successors(a).size(), 1u);
  auto order = g.TopologicalOrder();
  std::vector<std::string> names;
  for (auto n : order) names.push_back(g.Name(n));
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "d", "c"}));
}

TEST(DagTest, CycleIsReportedWithItsNodes) {
  Graph g;
  NodeId a = g.AddNode("a"), b = g.AddNode("b"), c = g.AddNode("c");
  g.AddNode("z");
  g.AddEdge(a, b);
  g.AddEdge(b, c);
  g.AddEdge(c, a);
  auto cycle = g.FindCycle();
  EXPECT_EQ(FormatCycle(cycle), "a -> b -> c -> a");
  EXPECT_TRUE(g.TopologicalOrder().empty());
}

TEST(DagTest, AcyclicGraphHasNoCycle) {
  Graph g;
  NodeId a = g.AddNode("a"), b = g.AddNode("b");
  g.AddEdge(a, b);
  EXPECT_TRUE(g.FindCycle().empty());
}

TEST(DagTest, RemainingPathIsLongestWeightedChain) {
  Graph g;
  NodeId a = g.AddNode("a", 1), b = g.AddNode("b", 5), c = g.AddNode("c", 1), d = g.AddNode("d", 2);
  g.AddEdge(a, b);
  g.AddEdge(a, c);
  g.AddEdge(c, d);
  auto rest = g.RemainingPath();
  EXPECT_DOUBLE_EQ(rest[a], 6);  // a -> b
  EXPECT_DOUBLE_EQ(rest[c], 3);
  EXPECT_DOUBLE_EQ(rest[b], 5);
  EXPECT_DOUBLE_EQ(g.CriticalPath(), 6);
}

TEST(DagTest, DotIsSortedAndQuoted) {
  Graph g;
  NodeId b = g.AddNode("thing.b"), a = g.AddNode("thing.a[\"x\"]");
  g.AddEdge(a, b);
  EXPECT_EQ(g.ToDot("kiln"),
            "digraph \"kiln\" {\n  rankdir = \"LR\";\n  \"thing.a[\\\"x\\\"]\";\n  \"thing.b\";\n"
            "  \"thing.a[\\\"x\\\"]\" -> \"thing.b\";\n}\n");
}

}  // namespace
}  // namespace kiln::dag
