#include "pixel_workers.hpp"

#include "volnode/viewer/viewer_pool.hpp"

namespace volnode {
namespace {

constexpr double kWaitForFreeWorkerS = 5;
constexpr double kRequestTimeoutS = 60;  // a multi-frame decode of a large instance

std::vector<std::string> pixelWorkerCommand(std::vector<std::string> command) {
  if (command.size() > 1) command[1] = "pixel-worker";
  return command;
}

viewer::ViewerPoolSettings pixelPoolSettings(std::vector<std::string> worker_command, int workers) {
  viewer::ViewerPoolSettings settings{pixelWorkerCommand(std::move(worker_command)), workers, kWaitForFreeWorkerS,
                                      kRequestTimeoutS};
  settings.name = "pixel";
  settings.limit_setting.clear();
  return settings;
}

}  // namespace

struct PooledPixelWorkers::Impl {
  explicit Impl(viewer::ViewerPoolSettings settings) : pool(std::move(settings)) {}
  viewer::ViewerPool pool;
};

PooledPixelWorkers::PooledPixelWorkers(std::vector<std::string> worker_command, int workers)
    : impl_(std::make_unique<Impl>(pixelPoolSettings(std::move(worker_command), workers))) {}

PooledPixelWorkers::~PooledPixelWorkers() { stop(); }

ViewerAnswer PooledPixelWorkers::ask(const std::string& kind, const std::string& sop_uid,
                                     const std::filesystem::path& file,
                                     const std::map<std::string, std::string>& params) {
  auto request_params = params;
  request_params["file"] = file.string();
  auto reply = impl_->pool.ask({kind, sop_uid, request_params});
  return {reply.status, reply.content_type, std::move(reply.body), reply.error, reply.parameter, reply.headers};
}

void PooledPixelWorkers::stop() {
  if (impl_) impl_->pool.stop();
}

}  // namespace volnode
