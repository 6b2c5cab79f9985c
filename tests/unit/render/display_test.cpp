// The private Xvfb: started when DISPLAY is unset, gone when its owner is.
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "volnode/core/error.hpp"
#include "volnode/pipeline/display.hpp"

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
