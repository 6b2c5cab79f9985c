#include <gtest/gtest.h>

#include "volnode/core/error.hpp"
#include "volnode/storage/database_unavailable.hpp"
#include "volnode/workflow/index_outage.hpp"

using namespace volnode;

TEST(IndexOutage, OnlyAnUnreachableDatabaseIsAnOutageAndItsWaitsGrowToTheLimit) {
  IndexOutage outage("test worker", 5.0);
  EXPECT_DOUBLE_EQ(outage.waitSeconds(1.0), 1.0) << "no outage: the loop's own interval";
  EXPECT_FALSE(outage.interrupted(Error(Errc::Database, "UNIQUE constraint failed")));
  EXPECT_FALSE(outage.interrupted(std::runtime_error("render error")));
  EXPECT_FALSE(outage.ongoing());

  const DatabaseUnavailable away("cannot connect to the index at postgresql://db/volnode");
  std::vector<double> waits;
  for (int i = 0; i < 6; ++i) {
    EXPECT_TRUE(outage.interrupted(away));
    waits.push_back(outage.waitSeconds(1.0));
  }
  EXPECT_TRUE(outage.ongoing());
  EXPECT_EQ(waits, (std::vector<double>{0.5, 1, 2, 4, 5, 5}));

  outage.answered();
  EXPECT_FALSE(outage.ongoing());
  EXPECT_DOUBLE_EQ(outage.waitSeconds(0.2), 0.2);
  EXPECT_TRUE(outage.interrupted(away));
  EXPECT_DOUBLE_EQ(outage.waitSeconds(1.0), 0.5) << "a new outage starts its back-off again";
}
