#pragma once
// Who may talk to the console, apart from the token itself: the Host header check
// (a web page that rebinds its own name to this machine's address gets nowhere),
// the count of failed authentications per client address (guessing is slowed to a
// handful of tries a minute), and the sessions a signed launch link opens (reads of
// the launched studies only, for the browser that followed the link).
#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace volnode::console {

// 127.0.0.1, ::1 or localhost: only this machine can connect. Any other address
// (also 0.0.0.0 / ::, which include the network interfaces) counts as beyond loopback.
bool isLoopbackBind(const std::string& bind);
// 0.0.0.0, :: or "": every interface.
bool isWildcardBind(const std::string& bind);

// The host of a Host header value without the port: lower case, IPv6 without
// brackets and in its canonical form. "" when the value is not a plain
// host[:port] (empty, user info, a path, a bad port, an unbracketed IPv6 address).
std::string hostWithoutPort(std::string_view host_header);

// The names the console answers to: the bind address (unless it is a wildcard), the
// loopback names when bound to loopback or to every interface, and the configured
// console.allowed_hosts.
class HostCheck {
 public:
  HostCheck(const std::string& bind, const std::vector<std::string>& allowed_hosts);
  bool allows(std::string_view host_header) const;

 private:
  std::set<std::string> names_;
};

// Failed authentications per client address: after `max_failures` within `window`
// the address is refused for `block`. max_failures 0: no limit.
class FailedAuthLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  FailedAuthLimiter(int max_failures, Clock::duration window, Clock::duration block);
  // Whole seconds (rounded up) the address is still refused; 0 when it may try.
  int blockedFor(const std::string& address, Clock::time_point now);
  // Records a failure; true when it is the one that blocks the address.
  bool fail(const std::string& address, Clock::time_point now);
  int maxFailures() const { return max_failures_; }

 private:
  struct Entry {
    std::vector<Clock::time_point> failures;
    Clock::time_point blocked_until{};
  };
  void prune(Clock::time_point now);
  std::mutex mutex_;
  std::map<std::string, Entry> entries_;
  int max_failures_;
  Clock::duration window_, block_;
};

// Sessions opened by signed launch links: a random id (the cookie's value) that
// allows reads of the studies launched with it, until it expires. Launching another
// study from the same browser adds it to the session under a new id.
class LaunchSessions {
 public:
  using Clock = std::chrono::steady_clock;
  explicit LaunchSessions(Clock::duration lifetime, size_t max_sessions = 1000, size_t max_studies = 50);
  // A new session id for `study_uid` plus the studies of `previous` (if it is
  // still valid; `previous` stops being valid). Lifetime starts now.
  std::string open(const std::string& previous, const std::string& study_uid, Clock::time_point now);
  // Whether the session `id` is valid and was opened for `study_uid`.
  bool allows(const std::string& id, const std::string& study_uid, Clock::time_point now);
  bool valid(const std::string& id, Clock::time_point now);
  // Ends every session now (e.g. after a link leaked); returns how many were still valid.
  size_t revokeAll(Clock::time_point now);
  Clock::duration lifetime() const { return lifetime_; }

 private:
  struct Session {
    std::set<std::string> studies;
    Clock::time_point expires;
  };
  std::mutex mutex_;
  std::map<std::string, Session> sessions_;
  Clock::duration lifetime_;
  size_t max_sessions_, max_studies_;
};

// The value of cookie `name` in a Cookie header ("a=1; b=2"), "" when absent.
std::string cookieValue(std::string_view cookie_header, std::string_view name);

// 32 random bytes from OpenSSL as 64 hex digits.
std::string randomHex32();

}  // namespace volnode::console
