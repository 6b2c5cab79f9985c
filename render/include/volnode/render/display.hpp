#pragma once
// An X display for offscreen rendering. Debian 12's VTK 9.1 renders through
// X11/GLX only, so a headless node needs an X server: when DISPLAY is not set,
// volnode starts and owns a private Xvfb (a child process on a free display
// number) instead of asking to be wrapped in xvfb-run. An existing DISPLAY is
// used as is.
#include <chrono>
#include <memory>
#include <string>

namespace volnode {

// One Xvfb child process on the first free display number at or above
// `first_display` (free: no /tmp/.X<N>-lock and no /tmp/.X11-unix/X<N>).
// The constructor returns once the server accepts connections on its socket;
// the destructor stops it by its pid (SIGTERM, then SIGKILL) and reaps it.
// The child also gets SIGTERM if this process dies (PR_SET_PDEATHSIG).
class PrivateXvfb {
 public:
  struct Options {
    std::string executable = "Xvfb";
    std::string screen = "1280x1024x24";
    int first_display = 90;
    int last_display = 599;
    std::chrono::milliseconds start_timeout{15000};
  };

  PrivateXvfb();  // default Options
  explicit PrivateXvfb(Options options);  // throws Error(Errc::Render) when no server could be started
  ~PrivateXvfb();
  PrivateXvfb(const PrivateXvfb&) = delete;
  PrivateXvfb& operator=(const PrivateXvfb&) = delete;

  const std::string& display() const { return display_; }  // ":N"
  int displayNumber() const { return number_; }
  int pid() const { return pid_; }
  void stop() noexcept;

 private:
  Options options_;
  std::string display_;
  int number_ = -1;
  int pid_ = -1;
};

// The display this process renders on. If DISPLAY is set (and `force_private`
// is false) it is used as is; otherwise a PrivateXvfb is started and DISPLAY is
// set for this process until the DisplayServer is destroyed (then restored).
// Create it before any render window and keep it alive while rendering.
class DisplayServer {
 public:
  explicit DisplayServer(bool force_private = false, PrivateXvfb::Options options = {});
  ~DisplayServer();
  DisplayServer(const DisplayServer&) = delete;
  DisplayServer& operator=(const DisplayServer&) = delete;

  const std::string& display() const { return display_; }
  bool ownsServer() const { return xvfb_ != nullptr; }
  int serverPid() const { return xvfb_ ? xvfb_->pid() : -1; }

  // A process-wide instance shared by all renderers: created on first use,
  // destroyed (and its Xvfb stopped) when the last holder lets go.
  static std::shared_ptr<DisplayServer> shared();

 private:
  std::unique_ptr<PrivateXvfb> xvfb_;
  std::string display_;
  bool had_previous_ = false;
  std::string previous_;
};

}  // namespace volnode
