#pragma once
// Who may do what, decided per request: the Host header, the lock-out after
// failed authentications, the console token for mutations (and for reads of
// patient data when they need one), the launch sessions a signed link opens.
#include <memory>
#include <string>

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "access.hpp"
#include "volnode/console/console_server.hpp"

namespace volnode::console {

// The cookie of a launch session (reads of the launched studies only).
inline constexpr const char* kSessionCookie = "volnode_launch";

class AccessGate {
 public:
  explicit AccessGate(const ConsoleContext& context);

  // Beyond loopback, or console.read_requires_token: reads of patient data need the
  // token or a launch session.
  bool readsNeedToken() const { return reads_need_token_; }

  // Before routing (and before any request body is read); Handled when it answered.
  httplib::Server::HandlerResponse check(const httplib::Request& req, httplib::Response& res);
  // Mutations need "Authorization: Bearer <console.token>"; false (answered) when
  // absent or wrong, or when no token is configured (mutations disabled).
  bool authorized(const httplib::Request& req, httplib::Response& res);
  // A wrong token was presented (bearer or launch): counted per client address.
  void failedAuthentication(const httplib::Request& req, const char* what);

  LaunchSessions& sessions() { return sessions_; }

 private:
  std::string studyOfRead(const httplib::Request& req);
  bool readAllowed(const httplib::Request& req, httplib::Response& res);

  const ConsoleContext& context_;
  HostCheck host_check_;
  FailedAuthLimiter auth_failures_;
  LaunchSessions sessions_;
  bool reads_need_token_;
  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace volnode::console
