#include "access.hpp"

#include <arpa/inet.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <stdexcept>

namespace volnode::console {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "::1" and "0:0:0:0:0:0:0:1" are the same address: compare canonical forms.
std::string canonicalIpv6(const std::string& text) {
  in6_addr address{};
  if (inet_pton(AF_INET6, text.c_str(), &address) != 1) return "";
  char buffer[INET6_ADDRSTRLEN];
  if (!inet_ntop(AF_INET6, &address, buffer, sizeof buffer)) return "";
  return buffer;
}

// A configured name: lower case, brackets of an IPv6 address removed, canonical.
std::string normalName(const std::string& name) {
  std::string n = lower(name);
  if (n.size() >= 2 && n.front() == '[' && n.back() == ']') n = n.substr(1, n.size() - 2);
  if (n.find(':') != std::string::npos) return canonicalIpv6(n);
  return n;
}

}  // namespace

bool isLoopbackBind(const std::string& bind) { return bind == "127.0.0.1" || bind == "::1" || bind == "localhost"; }

bool isWildcardBind(const std::string& bind) { return bind.empty() || bind == "0.0.0.0" || bind == "::"; }

std::string hostWithoutPort(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty() || value.size() > 300) return "";
  auto portOk = [](std::string_view rest) {  // "" or ":<1..5 digits>"
    if (rest.empty()) return true;
    if (rest.front() != ':' || rest.size() < 2 || rest.size() > 6) return false;
    return std::all_of(rest.begin() + 1, rest.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (value.front() == '[') {
    auto close = value.find(']');
    if (close == std::string_view::npos || !portOk(value.substr(close + 1))) return "";
    return canonicalIpv6(std::string(value.substr(1, close - 1)));
  }
  auto colon = value.find(':');
  std::string_view host = value.substr(0, colon);
  if (colon != std::string_view::npos && !portOk(value.substr(colon))) return "";
  if (host.empty()) return "";
  for (char c : host)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) return "";
  return lower(host);
}

HostCheck::HostCheck(const std::string& bind, const std::vector<std::string>& allowed_hosts) {
  if (!isWildcardBind(bind)) names_.insert(normalName(bind));
  if (isLoopbackBind(bind) || isWildcardBind(bind)) {
    names_.insert("localhost");
    names_.insert("127.0.0.1");
    names_.insert("::1");
  }
  for (const auto& name : allowed_hosts) {
    std::string n = normalName(name);
    if (!n.empty()) names_.insert(n);
  }
  names_.erase("");
}

bool HostCheck::allows(std::string_view host_header) const {
  std::string host = hostWithoutPort(host_header);
  return !host.empty() && names_.count(host) > 0;
}

FailedAuthLimiter::FailedAuthLimiter(int max_failures, Clock::duration window, Clock::duration block)
    : max_failures_(max_failures), window_(window), block_(block) {}

int FailedAuthLimiter::blockedFor(const std::string& address, Clock::time_point now) {
  if (max_failures_ <= 0) return 0;
  std::lock_guard lock(mutex_);
  auto it = entries_.find(address);
  if (it == entries_.end() || it->second.blocked_until <= now) return 0;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(it->second.blocked_until - now).count();
  return static_cast<int>((left + 999) / 1000);
}

bool FailedAuthLimiter::fail(const std::string& address, Clock::time_point now) {
  if (max_failures_ <= 0) return false;
  std::lock_guard lock(mutex_);
  if (entries_.size() > 10000) prune(now);
  Entry& entry = entries_[address];
  if (entry.blocked_until > now) return false;
  auto& f = entry.failures;
  f.erase(std::remove_if(f.begin(), f.end(), [&](Clock::time_point t) { return now - t >= window_; }), f.end());
  f.push_back(now);
  if (static_cast<int>(f.size()) < max_failures_) return false;
  f.clear();
  entry.blocked_until = now + block_;
  return true;
}

void FailedAuthLimiter::prune(Clock::time_point now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    const Entry& e = it->second;
    bool recent = e.blocked_until > now ||
                  std::any_of(e.failures.begin(), e.failures.end(), [&](Clock::time_point t) { return now - t < window_; });
    it = recent ? std::next(it) : entries_.erase(it);
  }
}

LaunchSessions::LaunchSessions(Clock::duration lifetime, size_t max_sessions, size_t max_studies)
    : lifetime_(lifetime), max_sessions_(max_sessions), max_studies_(max_studies) {}

std::string LaunchSessions::open(const std::string& previous, const std::string& study_uid, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  Session session;
  if (auto it = sessions_.find(previous); !previous.empty() && it != sessions_.end()) {
    if (it->second.expires > now) session.studies = std::move(it->second.studies);
    sessions_.erase(it);
  }
  if (session.studies.size() >= max_studies_) session.studies.clear();
  session.studies.insert(study_uid);
  session.expires = now + lifetime_;
  if (sessions_.size() >= max_sessions_) {
    for (auto it = sessions_.begin(); it != sessions_.end();) it = it->second.expires <= now ? sessions_.erase(it) : std::next(it);
    while (sessions_.size() >= max_sessions_) {
      auto oldest = std::min_element(sessions_.begin(), sessions_.end(),
                                     [](const auto& a, const auto& b) { return a.second.expires < b.second.expires; });
      sessions_.erase(oldest);
    }
  }
  std::string id = randomHex32();
  sessions_[id] = std::move(session);
  return id;
}

bool LaunchSessions::allows(const std::string& id, const std::string& study_uid, Clock::time_point now) {
  if (id.empty() || study_uid.empty()) return false;
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(id);
  return it != sessions_.end() && it->second.expires > now && it->second.studies.count(study_uid) > 0;
}

bool LaunchSessions::valid(const std::string& id, Clock::time_point now) {
  if (id.empty()) return false;
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(id);
  return it != sessions_.end() && it->second.expires > now;
}

size_t LaunchSessions::revokeAll(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  size_t valid = 0;
  for (const auto& [id, session] : sessions_) valid += session.expires > now ? 1 : 0;
  sessions_.clear();
  return valid;
}

std::string cookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    auto end = header.find(';');
    std::string_view pair = header.substr(0, end);
    header = end == std::string_view::npos ? std::string_view() : header.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    auto eq = pair.find('=');
    if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
    std::string_view value = pair.substr(eq + 1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    return std::string(value);
  }
  return "";
}

std::string randomHex32() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("no random bytes for a session id");
  std::string hex;
  char buffer[3];
  for (unsigned char b : bytes) {
    std::snprintf(buffer, sizeof buffer, "%02x", b);
    hex += buffer;
  }
  return hex;
}

}  // namespace volnode::console
