// The private Xvfb: started when DISPLAY is unset, gone when its owner is.
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "volnode/core/error.hpp"
#include "volnode/render/display.hpp"

namespace volnode {
namespace {

bool processExists(int pid) { return ::kill(pid, 0) == 0 || errno == EPERM; }

struct DisplayEnvGuard {
  bool had = false;
  std::string value;
  DisplayEnvGuard() {
    if (const char* d = std::getenv("DISPLAY")) {
      had = true;
      value = d;
    }
  }
  ~DisplayEnvGuard() {
    if (had)
      ::setenv("DISPLAY", value.c_str(), 1);
    else
      ::unsetenv("DISPLAY");
  }
};

TEST(DisplayServer, StartsPrivateXvfbWhenDisplayIsUnsetAndStopsItOnDestruction) {
  DisplayEnvGuard guard;
  ::unsetenv("DISPLAY");
  int pid = -1;
  std::string display;
  {
    DisplayServer server;
    ASSERT_TRUE(server.ownsServer());
    pid = server.serverPid();
    display = server.display();
    ASSERT_GT(pid, 0);
    EXPECT_TRUE(processExists(pid));
    ASSERT_NE(std::getenv("DISPLAY"), nullptr);
    EXPECT_EQ(std::string(std::getenv("DISPLAY")), display);
    EXPECT_TRUE(std::filesystem::exists("/tmp/.X11-unix/X" + display.substr(1)));
  }
  EXPECT_FALSE(processExists(pid));  // stopped and reaped, not a zombie
  EXPECT_EQ(std::getenv("DISPLAY"), nullptr);
}

TEST(DisplayServer, UsesAnExistingDisplayAsIs) {
  DisplayEnvGuard guard;
  ::setenv("DISPLAY", ":4242", 1);
  DisplayServer server;
  EXPECT_FALSE(server.ownsServer());
  EXPECT_EQ(server.display(), ":4242");
  EXPECT_EQ(server.serverPid(), -1);
}

TEST(PrivateXvfb, TwoServersGetDifferentDisplays) {
  PrivateXvfb a, b;
  EXPECT_NE(a.display(), b.display());
  EXPECT_NE(a.pid(), b.pid());
}

// The node blocks SIGTERM for its signal-waiting thread; the server must not
// inherit that, or it outlives a killed node and ignores its stop request.
TEST(PrivateXvfb, ServerDoesNotInheritBlockedSignals) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &block, &old), 0);
  PrivateXvfb server;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  std::ifstream status("/proc/" + std::to_string(server.pid()) + "/status");
  std::string line, blocked;
  while (std::getline(status, line))
    if (line.rfind("SigBlk:", 0) == 0) blocked = line.substr(7);
  ASSERT_FALSE(blocked.empty());
  const unsigned long long mask = std::stoull(blocked, nullptr, 16);
  EXPECT_EQ(mask & (1ULL << (SIGTERM - 1)), 0ULL) << "SIGTERM blocked in the server: " << blocked;
}

TEST(PrivateXvfb, MissingExecutableIsAClearError) {
  PrivateXvfb::Options o;
  o.executable = "/nonexistent/Xvfb";
  try {
    PrivateXvfb x(o);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::Render);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/Xvfb"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace volnode
