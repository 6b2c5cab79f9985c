#include "pixel_worker_main.hpp"

#include <poll.h>
#include <unistd.h>

#include <fmt/format.h>

#include "volnode/core/error.hpp"
#include "volnode/core/logging.hpp"
#include "volnode/dicom/pixel_access.hpp"
#include "volnode/viewer/viewer_protocol.hpp"
#include "worker_sandbox.hpp"

namespace volnode {
namespace {

constexpr int kRequestFd = 3;  // the socket to the node
constexpr int kMemoryMb = 2048;

viewer::ViewerReply failure(int status, const std::string& error) {
  viewer::ViewerReply reply;
  reply.status = status;
  reply.error = error;
  return reply;
}

int statusOf(const Error& e) {
  switch (e.code()) {
    case Errc::NotFound: return 404;
    case Errc::Unsupported: return 406;
    case Errc::InvalidArgument: return 400;
    case Errc::InvalidDicom: return 422;
    default: return 500;
  }
}

std::vector<int> frameNumbers(const std::string& list) {
  std::vector<int> out;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    out.push_back(std::stoi(list.substr(start, comma - start)));
    start = comma + 1;
  }
  return out;
}

std::optional<double> number(const std::map<std::string, std::string>& params, const char* name) {
  auto found = params.find(name);
  if (found == params.end() || found->second.empty()) return std::nullopt;
  return std::stod(found->second);
}

class PixelRequests {
 public:
  explicit PixelRequests(std::filesystem::path storage) : storage_(std::filesystem::weakly_canonical(storage)) {}

  viewer::ViewerReply handle(const viewer::ViewerRequest& request) {
    try {
      const auto& params = request.params;
      auto file = params.count("file") ? std::filesystem::weakly_canonical(params.at("file")) : std::filesystem::path();
      const std::string relative = file.lexically_relative(storage_).string();
      if (file.empty() || relative.empty() || relative.rfind("..", 0) == 0)
        return failure(403, "the file is not in the node's storage folder");
      const auto dicom = dicom::DicomFile::open(file);
      viewer::ViewerReply reply;
      if (request.kind == "stored" || request.kind == "decoded") {
        const auto numbers = frameNumbers(params.count("frames") ? params.at("frames") : "1");
        auto frames = request.kind == "stored" ? dicom::storedFrames(dicom, numbers) : dicom::decodedFrames(dicom, numbers);
        std::string lengths;
        for (auto& f : frames) {
          lengths += (lengths.empty() ? "" : ",") + std::to_string(f.size());
          reply.body += f;
        }
        reply.content_type = "application/octet-stream";
        reply.headers["X-Frame-Lengths"] = lengths;
        return reply;
      }
      if (request.kind == "rendered") {
        dicom::RenderOptions options;
        options.frame = static_cast<int>(number(params, "frame").value_or(1));
        options.window_center = number(params, "window_center");
        options.window_width = number(params, "window_width");
        options.viewport_columns = static_cast<int>(number(params, "viewport_columns").value_or(0));
        options.viewport_rows = static_cast<int>(number(params, "viewport_rows").value_or(0));
        options.png = params.count("png") && params.at("png") == "1";
        options.quality = static_cast<int>(number(params, "quality").value_or(90));
        auto image = dicom::renderedFrame(dicom, options);
        reply.content_type = image.content_type;
        reply.body = std::move(image.bytes);
        return reply;
      }
      return failure(400, "unknown request '" + request.kind + "'");
    } catch (const Error& e) {
      return failure(statusOf(e), e.what());
    } catch (const std::exception& e) {  // a parameter the console let through, or a decoder's own failure
      return failure(500, e.what());
    }
  }

 private:
  std::filesystem::path storage_;
};

}  // namespace

int runPixelWorker(const Config& config, int slot) {
  const std::string name = fmt::format("pixel-{}-{}", slot, ::getpid());
  LogConfig log_config = config.log;
  log_config.file.clear();  // stderr, which the node reads into its own log
  initLogging(log_config);
  auto log = moduleLogger("dicomweb");

  auto resources = limitResources(kMemoryMb, config.render.cpu_priority);
  SandboxPaths paths;
  paths.writable_dirs = {"/tmp", "/var/tmp", "/dev"};  // writes nothing of the node's
  auto confinement = confine(paths);
  log->info("{} ready: {}", name, sandboxSummary(resources, confinement));

  PixelRequests requests(config.storage.dir);
  while (true) {
    auto next = viewer::receiveRequest(kRequestFd);
    if (!next) break;  // the node closed the socket, or spoke nonsense
    if (!viewer::sendReply(kRequestFd, requests.handle(*next))) break;
  }
  log->info("{}: the node is gone; stopping", name);
  log->flush();
  ::_exit(0);
}

}  // namespace volnode
