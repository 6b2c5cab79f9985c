// What the export worker remembers of a destination that took fewer associations at
// once than configured (AssociationLimits), on a clock the test sets.
#include <gtest/gtest.h>

#include "volnode/workflow/association_limits.hpp"

namespace volnode {
namespace {

Destination destinationOpening(int associations, const std::string& name = "pacs") {
  Destination d;
  d.name = name;
  d.associations = associations;
  return d;
}

TEST(AssociationLimits, ADestinationGetsItsConfiguredCountUntilItTurnsSomeAway) {
  AssociationLimits limits;
  const auto t0 = AssociationLimits::Clock::time_point{} + std::chrono::hours(1);
  const Destination pacs = destinationOpening(8);
  EXPECT_EQ(limits.associationsFor(pacs, t0), 8);
  EXPECT_FALSE(limits.recordSend(pacs, 8, 0, t0)) << "all taken: nothing to remember";
  EXPECT_EQ(limits.associationsFor(pacs, t0), 8);

  EXPECT_TRUE(limits.recordSend(pacs, 8, 5, t0)) << "3 of 8 taken: the next sends open fewer";
  EXPECT_EQ(limits.associationsFor(pacs, t0 + std::chrono::minutes(1)), 3);
  EXPECT_EQ(limits.associationsFor(destinationOpening(8, "archive"), t0), 8) << "another destination is not affected";
}

TEST(AssociationLimits, TheConfiguredCountIsTriedAgainAfterAWhile) {
  AssociationLimits limits;
  const auto t0 = AssociationLimits::Clock::time_point{} + std::chrono::hours(1);
  const Destination pacs = destinationOpening(4);
  ASSERT_TRUE(limits.recordSend(pacs, 4, 3, t0));
  EXPECT_EQ(limits.associationsFor(pacs, t0 + AssociationLimits::kRemembered - std::chrono::seconds(1)), 1);
  EXPECT_EQ(limits.associationsFor(pacs, t0 + AssociationLimits::kRemembered), 4);
}

TEST(AssociationLimits, ASendThatGotNoAssociationAtAllSaysNothingAboutTheLimit) {
  AssociationLimits limits;
  const auto t0 = AssociationLimits::Clock::time_point{} + std::chrono::hours(1);
  const Destination pacs = destinationOpening(4);
  EXPECT_FALSE(limits.recordSend(pacs, 4, 4, t0)) << "down or refusing us: the send fails and is retried as configured";
  EXPECT_EQ(limits.associationsFor(pacs, t0), 4);
  EXPECT_FALSE(limits.recordSend(pacs, 0, 0, t0)) << "one association: no parallel lanes to count";
  EXPECT_EQ(limits.associationsFor(pacs, t0), 4);
}

TEST(AssociationLimits, ALowerConfiguredCountWinsOverWhatWasRemembered) {
  AssociationLimits limits;
  const auto t0 = AssociationLimits::Clock::time_point{} + std::chrono::hours(1);
  ASSERT_TRUE(limits.recordSend(destinationOpening(8), 8, 2, t0));  // took 6
  EXPECT_EQ(limits.associationsFor(destinationOpening(2), t0), 2) << "reconfigured to 2 (a reload)";
  EXPECT_FALSE(limits.recordSend(destinationOpening(8), 6, 0, t0)) << "the 6 it took worked";
  EXPECT_EQ(limits.associationsFor(destinationOpening(8), t0), 6);
  EXPECT_TRUE(limits.recordSend(destinationOpening(8), 6, 4, t0)) << "busier now: 2 of 6";
  EXPECT_EQ(limits.associationsFor(destinationOpening(8), t0), 2);
}

}  // namespace
}  // namespace volnode
