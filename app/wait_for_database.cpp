#include "wait_for_database.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>

#include "volnode/core/logging.hpp"
#include "volnode/storage/database_unavailable.hpp"

namespace volnode {

bool startWhenDatabaseAnswers(const sigset_t& signals, const std::function<void()>& attempt) {
  auto log = moduleLogger("app");
  for (double wait_s = 1;; wait_s = std::min(2 * wait_s, 30.0)) {
    try {
      attempt();
      return true;
    } catch (const std::exception& e) {
      if (!isDatabaseUnavailable(e)) throw;
      log->error("cannot start: {}; waiting for the database, trying again in {:.0f} s (stop with SIGTERM or Ctrl-C)",
                 e.what(), wait_s);
    }
    const timespec timeout{static_cast<time_t>(wait_s), 0};
    if (int received = sigtimedwait(&signals, nullptr, &timeout); received > 0) {
      log->info("{} received while waiting for the database: stopping", strsignal(received));
      return false;
    }
  }
}

}  // namespace volnode
