#include "peer_policy.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>

#include "volnode/core/logging.hpp"

namespace volnode {
namespace {

std::string trim(const std::string& s) {
  auto begin = s.find_first_not_of(' ');
  if (begin == std::string::npos) return {};
  return s.substr(begin, s.find_last_not_of(' ') - begin + 1);
}

// IPv4-mapped IPv6 ("::ffff:10.0.0.1") compares as the IPv4 address.
std::string canonicalAddress(const std::string& ip) {
  const std::string mapped = "::ffff:";
  if (ip.rfind(mapped, 0) == 0) return ip.substr(mapped.size());
  return ip;
}

std::vector<std::string> resolve(const std::string& host) {
  if (host == "*") return {"*"};
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::vector<std::string> addresses;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0) {
    moduleLogger("scp")->warn("allowed peer host '{}' does not resolve; it will never match", host);
    return {host};
  }
  for (auto* p = found; p; p = p->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* address = p->ai_family == AF_INET
                              ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr)
                              : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr);
    if (inet_ntop(p->ai_family, address, text, sizeof text)) addresses.push_back(canonicalAddress(text));
  }
  freeaddrinfo(found);
  return addresses;
}

}  // namespace

bool isLoopbackAddress(const std::string& ip) {
  std::string address = canonicalAddress(ip);
  return address.rfind("127.", 0) == 0 || address == "::1" || address == "localhost";
}

PeerPolicy::PeerPolicy(const std::vector<PeerRule>& rules) {
  for (const auto& rule : rules) rules_.push_back({trim(rule.aet), resolve(trim(rule.host))});
}

bool PeerPolicy::hostAllowed(const std::string& ip) const {
  if (rules_.empty()) return isLoopbackAddress(ip);
  std::string address = canonicalAddress(ip);
  return std::any_of(rules_.begin(), rules_.end(), [&](const ResolvedRule& rule) {
    return std::any_of(rule.hosts.begin(), rule.hosts.end(),
                       [&](const std::string& h) { return h == "*" || h == address; });
  });
}

bool PeerPolicy::peerAllowed(const std::string& calling_aet, const std::string& ip) const {
  if (rules_.empty()) return isLoopbackAddress(ip);
  std::string address = canonicalAddress(ip);
  std::string aet = trim(calling_aet);
  return std::any_of(rules_.begin(), rules_.end(), [&](const ResolvedRule& rule) {
    bool host_matches = std::any_of(rule.hosts.begin(), rule.hosts.end(),
                                    [&](const std::string& h) { return h == "*" || h == address; });
    return host_matches && (rule.aet == "*" || rule.aet == aet);
  });
}

}  // namespace volnode
