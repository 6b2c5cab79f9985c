// CompletionMonitor: when the completion loop has to look again.
#include <gtest/gtest.h>

#include <cmath>

#include "support/process.hpp"
#include "support/suite_index_location.hpp"
#include "volnode/core/clock.hpp"
#include "volnode/workflow/completion.hpp"
#include "volnode/storage/index.hpp"

namespace volnode {
namespace {

// The loop ticks at the end of a released association's grace, not on its next
// period, so a pushed series is complete grace seconds after the release.
TEST(CompletionMonitor, NextLookIsDueWhenTheReleaseGraceEnds) {
  test::TempDir dir("volnode-completion-monitor");
  Index index(test::suiteIndexLocation(dir.path()));
  CompletionConfig config;
  config.release_grace_s = 2.0;
  CompletionMonitor monitor(config, index);
  EXPECT_TRUE(std::isinf(monitor.secondsUntilNextRelease(unixSecondsNow())));
  monitor.instanceKept("1.2.826.0.1.3680043.2.1.1", "1.2.826.0.1.3680043.2.1", 7);
  EXPECT_TRUE(std::isinf(monitor.secondsUntilNextRelease(unixSecondsNow()))) << "association 7 is still open";
  monitor.associationEnded(7);
  const double wait = monitor.secondsUntilNextRelease(unixSecondsNow());
  EXPECT_GT(wait, 1.0);
  EXPECT_LE(wait, 2.0);
  EXPECT_TRUE(std::isinf(monitor.secondsUntilNextRelease(unixSecondsNow() + 2.5))) << "the grace has passed";
}

}  // namespace
}  // namespace volnode
