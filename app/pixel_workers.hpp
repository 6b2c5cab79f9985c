#pragma once
// The console's DICOMweb pixel data (compressed frames, decoding, rendered images),
// answered by `volnode pixel-worker` processes (pixel_worker_main.hpp) through a worker
// pool: started on the first such request, restarted after a crash or a hang, and
// busy workers make the request wait a moment and then answer 503.
#include <memory>
#include <string>
#include <vector>

#include "volnode/console/console_server.hpp"

namespace volnode {

class PooledPixelWorkers final : public PixelWorkers {
 public:
  // worker_command: the job workers' argv ("<binary> worker --config ..."); its
  // subcommand is replaced by pixel-worker.
  PooledPixelWorkers(std::vector<std::string> worker_command, int workers);
  ~PooledPixelWorkers() override;
  ViewerAnswer ask(const std::string& kind, const std::string& sop_uid, const std::filesystem::path& file,
                   const std::map<std::string, std::string>& params) override;
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace volnode
