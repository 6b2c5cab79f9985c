// The node's relay of PostgreSQL notifications: a job queued through another
// connection (another process or host) wakes this node's claimers.
#include <gtest/gtest.h>

#include <future>

#include "support/postgres_server.hpp"
#include "volnode/storage/index.hpp"
#include "volnode/storage/job_queue.hpp"
#include "volnode/workflow/job_notifications.hpp"

using namespace volnode;

TEST(JobNotificationRelayOnPostgresql, WakesClaimersWhenAnotherProcessQueuesAJob) {
  const auto location = IndexLocation::postgresql(test::sharedPostgres().freshSchemaUrl());
  Index index(location);
  JobQueue mine(location);
  JobQueue elsewhere(location);
  std::promise<void> woken;
  std::atomic<bool> once{false};
  JobNotificationRelay relay(mine, [&] {
    if (!once.exchange(true)) woken.set_value();
  });
  relay.start();
  auto wake = woken.get_future();
  // The relay may not listen yet when the first job commits: queue until it hears one.
  for (int i = 0; i < 600 && wake.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready; ++i) {
    NewJob job;
    job.kind = JobKind::Send;
    elsewhere.enqueue(job);
  }
  EXPECT_EQ(wake.wait_for(std::chrono::seconds(0)), std::future_status::ready) << "no wake-up in a minute";
  relay.stop();
}
