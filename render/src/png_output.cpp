// Writing rendered frames as PNG files (writePng, writePngs in render.hpp).
#include <vtkImageData.h>
#include <vtkNew.h>
#include <vtkPNGWriter.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>

#include "volnode/core/error.hpp"
#include "volnode/render/render.hpp"

namespace volnode {

void writePng(const RenderedFrame& frame, const std::filesystem::path& file) {
  if (frame.pixels.size() != size_t(frame.width) * frame.height * frame.channels)
    throw Error(Errc::InvalidArgument, "writePng: frame size does not match its pixels");
  vtkNew<vtkImageData> img;
  img->SetDimensions(frame.width, frame.height, 1);
  img->AllocateScalars(VTK_UNSIGNED_CHAR, frame.channels);
  auto* dst = static_cast<uint8_t*>(img->GetScalarPointer());
  const size_t row = size_t(frame.width) * frame.channels;
  for (int y = 0; y < frame.height; ++y)  // VTK images are bottom-up
    std::memcpy(dst + size_t(frame.height - 1 - y) * row, frame.pixels.data() + size_t(y) * row, row);
  std::error_code ec;
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path(), ec);
  vtkNew<vtkPNGWriter> writer;
  // zlib level 1: previews are written for every frame of a bundle; the
  // default level 5 costs about twice the time for files ~10 % smaller.
  writer->SetCompressionLevel(1);
  writer->SetInputData(img);
  writer->SetFileName(file.string().c_str());
  writer->Write();
  if (writer->GetErrorCode() != 0 || !std::filesystem::exists(file, ec))
    throw Error(Errc::Io, "cannot write PNG " + file.string());
}

void writePngs(const std::vector<RenderedFrame>& frames, const std::filesystem::path& dir, const std::string& prefix) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::atomic<size_t> next{0};
  std::mutex mutex;
  std::exception_ptr failure;
  auto work = [&] {
    for (size_t i = next++; i < frames.size(); i = next++) {
      try {
        writePng(frames[i], dir / (prefix + frames[i].view + ".png"));
      } catch (...) {
        std::lock_guard lock(mutex);
        if (!failure) failure = std::current_exception();
      }
    }
  };
  const size_t threads = std::clamp<size_t>(std::thread::hardware_concurrency(), 1, std::max<size_t>(1, frames.size()));
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  if (failure) std::rethrow_exception(failure);
}

}  // namespace volnode
