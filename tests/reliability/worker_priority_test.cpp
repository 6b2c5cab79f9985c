// render.cpu_priority through real nodes: the job and viewer worker processes run at
// SCHED_IDLE by default (only CPU time nothing else wants) and at nice 19 without
// SCHED_IDLE with "low" (a node sharing its machine with other busy services), as
// each worker reports when it is ready and as the kernel shows for its process.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "support/node_process.hpp"
#include "support/process.hpp"

using namespace volnode::test;
using namespace std::chrono_literals;

namespace {

// The "<name> ready: ..." lines of the node's workers, once `expected` have appeared
// (the job worker's and the viewer workers').
std::vector<std::string> readyLines(const NodeProcess& node, size_t expected) {
  std::vector<std::string> lines;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    lines.clear();
    std::istringstream log(node.log());
    for (std::string line; std::getline(log, line);)
      if (line.find(" ready: ") != std::string::npos) lines.push_back(line);
    if (lines.size() >= expected) break;
    std::this_thread::sleep_for(100ms);
  }
  return lines;
}

// The scheduling policy of a process (field 41 of /proc/<pid>/stat; SCHED_IDLE is 5).
int schedulingPolicy(const std::string& pid) {
  std::ifstream stat("/proc/" + pid + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t after_name = text.rfind(')');
  if (after_name == std::string::npos) return -1;
  std::istringstream fields(text.substr(after_name + 2));  // field 3 onwards
  std::string field;
  for (int n = 3; n <= 41 && fields >> field; ++n)
    if (n == 41) return std::stoi(field);
  return -1;
}

}  // namespace

TEST(WorkerPriority, WorkersRunAtSchedIdleByDefaultAndAtNice19WithLow) {
  constexpr int kSchedIdle = 5;
  for (const std::string priority : {"idle", "low"}) {
    TempDir dir("volnode-rel-priority");
    NodeProcess node(dir / "node", {noRendering(dir.path()), "render.cpu_priority=" + priority});
    const auto lines = readyLines(node, 3);
    ASSERT_EQ(lines.size(), 3u) << "one job worker and two viewer workers\n" << node.log();
    for (const auto& line : lines) {
      EXPECT_NE(line.find("CPU priority nice 19"), std::string::npos) << line;
      const size_t not_enforced = line.find("not enforced:");
      const size_t idle = line.find("SCHED_IDLE");
      if (priority == "idle")
        EXPECT_TRUE(idle != std::string::npos && idle < not_enforced) << "enforced: " << line;
      else
        EXPECT_NE(line.find("SCHED_IDLE: render.cpu_priority = \"low\""), std::string::npos) << line;
      // And the kernel agrees: the worker's pid is in its name (worker-<slot>-<pid>[@host]).
      std::smatch pid;
      ASSERT_TRUE(std::regex_search(line, pid, std::regex("(?:worker|viewer|pixel)-[0-9]+-([0-9]+)(?:@[^ ]*)? ready"))) << line;
      if (priority == "idle")
        EXPECT_EQ(schedulingPolicy(pid[1]), kSchedIdle) << line;
      else
        EXPECT_NE(schedulingPolicy(pid[1]), kSchedIdle) << line;
    }
    EXPECT_EQ(node.stop(), 0);
  }
}
