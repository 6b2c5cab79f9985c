#include "volnode/workflow/destination_echo.hpp"

#include <pthread.h>

#include "volnode/core/clock.hpp"
#include "volnode/scp/store_scu.hpp"

namespace volnode {
namespace {

constexpr double kEchoEveryS = 30;

}  // namespace

DestinationEcho::DestinationEcho(std::map<std::string, Destination> destinations, std::string calling_aet)
    : destinations_(std::move(destinations)), calling_aet_(std::move(calling_aet)) {
  for (const auto& [name, d] : destinations_) latest_[name] = {name, d.aet, d.host, d.port, false, "", "not checked yet", d.tls};
}

DestinationEcho::~DestinationEcho() { stop(); }

void DestinationEcho::start() {
  if (!destinations_.empty() && !thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void DestinationEcho::stop() {
  waker_.stop();
  if (thread_.joinable()) thread_.join();
}

std::vector<Reachability> DestinationEcho::latest() {
  std::lock_guard lock(mutex_);
  std::vector<Reachability> out;
  for (const auto& [name, status] : latest_) out.push_back(status);
  return out;
}

void DestinationEcho::run() {
  pthread_setname_np(pthread_self(), "echo");
  ScuSettings settings;
  settings.calling_aet = calling_aet_;
  settings.connect_timeout_s = 3;
  StoreScu scu(settings);
  do {
    for (const auto& [name, d] : destinations_) {
      auto echo = scu.echo(d);
      std::lock_guard lock(mutex_);
      latest_[name] = {name, d.aet, d.host, d.port, echo.ok, isoUtcNow(), echo.error, d.tls};
    }
  } while (waker_.wait(kEchoEveryS));
}

}  // namespace volnode
