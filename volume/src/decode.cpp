// Pixel decoding (GDCM, the DICOM library ITK uses: every transfer syntax incl.
// JPEG 2000) slice by slice into the int16 volume, with on-the-fly resampling
// for sheared (gantry tilt) and unevenly spaced stacks.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <span>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <gdcmImage.h>
#include <gdcmImageReader.h>
#include <gdcmTrace.h>

#include "block_reduction.hpp"
#include "plan.hpp"
#include "prefetched_slices.hpp"
#include "volnode/core/error.hpp"
#include "volnode/dicom/dicom_file.hpp"
#include "volnode/dicom/image_copy.hpp"

namespace volnode::detail {
namespace {

// GDCM never reads a received file itself: it decodes, from memory, the copy
// volnode::dicom::decodableGrayscaleCopy() writes (see image_copy.hpp for why), of a file
// the guarded reader checked, with the image attributes from the header already read
// and checked here (FileHeader).
std::string pixelCopy(const FileHeader& h) {
  const std::string& name = h.path.string();
  if (h.samples_per_pixel != 1) throw Error(Errc::InvalidDicom, name + ": not a grey-scale image");
  if (h.bits_allocated != 8 && h.bits_allocated != 16 && h.bits_allocated != 32)
    throw Error(Errc::Unsupported, name + ": BitsAllocated " + std::to_string(h.bits_allocated));
  if (h.rows < 1 || h.rows > 65535 || h.cols < 1 || h.cols > 65535)
    throw Error(Errc::InvalidDicom, name + ": no usable Rows and Columns");
  const auto source = dicom::DicomFile::open(h.path);
  return dicom::decodableGrayscaleCopy(
      source, {h.rows, h.cols, h.bits_allocated, h.bits_stored, h.pixel_representation, h.number_of_frames});
}

// Native little-endian pixels are read frame by frame straight from the file, at the
// offset the pre-scan measured (it checked their length against the image attributes):
// one frame in memory, at the cost of reading it. Everything else is decoded one file at
// a time, keeping the last (a multi-frame file is decoded once).
class FrameSource {
 public:
  explicit FrameSource(std::span<const FileHeader> headers) : headers_(headers) {}
  ~FrameSource() { closeFile(); }
  FrameSource(const FrameSource&) = delete;
  FrameSource& operator=(const FrameSource&) = delete;

  // Physical values of one frame (rows*cols floats); padding -> fill.
  void frame(size_t file, size_t frame_index, float fill, std::vector<float>& out) {
    const FileHeader& h = headers_[file];
    out.resize(size_t(h.rows) * h.cols);
    float* o = out.data();
    const FrameHeader& f = h.frames[frame_index];
    const double slope = f.slope, intercept = f.intercept;
    convert(file, frame_index, [&](size_t i, int32_t raw, bool pad) {
      o[i] = pad ? fill : float(raw * slope + intercept);
    });
  }

  // The same, rounded and clamped straight into int16 (no float copy).
  void frameInt16(size_t file, size_t frame_index, int16_t fill, int16_t* out) {
    const FileHeader& h = headers_[file];
    const FrameHeader& f = h.frames[frame_index];
    const double slope = f.slope, intercept = f.intercept;
    if (slope == 1.0 && intercept == std::floor(intercept) && std::abs(intercept) < 1e9) {
      const int64_t icpt = int64_t(intercept);
      convert(file, frame_index, [&](size_t i, int32_t raw, bool pad) {
        out[i] = pad ? fill : int16_t(std::clamp<int64_t>(raw + icpt, -32768, 32767));
      });
    } else {
      convert(file, frame_index, [&](size_t i, int32_t raw, bool pad) {
        out[i] = pad ? fill : toInt16(raw * slope + intercept);
      });
    }
  }

 private:
  static int16_t toInt16(double v) {
    v = std::clamp(v, -32768.0, 32767.0);
    return int16_t(v >= 0 ? v + 0.5 : v - 0.5);
  }

  // Calls sink(index, stored value, is_padding) for every pixel of the frame.
  template <typename Sink>
  void convert(size_t file, size_t frame_index, Sink&& sink) {
    load(file);
    const FileHeader& h = headers_[file];
    const FrameHeader& f = h.frames[frame_index];
    const size_t n = size_t(h.rows) * h.cols;
    const size_t bpp = bits_allocated_ / 8;
    const size_t offset = size_t(f.frame) * n * bpp;
    const char* src = native_fd_ >= 0 ? readNativeFrame(h, offset, n * bpp) : decodedFrame(h, f, offset, n * bpp);
    const int stored = std::clamp(h.bits_stored, 1, bits_allocated_);
    const bool has_pad = h.padding_value.has_value();
    int64_t pad_lo = 0, pad_hi = -1;
    if (has_pad) {
      pad_lo = int64_t(*h.padding_value);
      pad_hi = h.padding_limit ? int64_t(*h.padding_limit) : pad_lo;
      if (pad_lo > pad_hi) std::swap(pad_lo, pad_hi);
    }
    auto isPad = [&](int64_t raw) { return raw >= pad_lo && raw <= pad_hi; };
    if (bits_allocated_ == 16) {
      const uint16_t* p = reinterpret_cast<const uint16_t*>(src);
      if (signed_) {
        const uint32_t high_mask = stored < 16 ? (0xFFFFu << stored) & 0xFFFFu : 0;
        const uint32_t sign_bit = 1u << (stored - 1);
        for (size_t i = 0; i < n; ++i) {
          uint32_t v = p[i];
          if (high_mask && (v & high_mask) != high_mask) {  // not sign-extended yet (or junk high bits)
            v &= ~high_mask & 0xFFFFu;
            if (v & sign_bit) v |= high_mask;
          }
          const int32_t raw = int16_t(uint16_t(v));
          sink(i, raw, has_pad && isPad(raw));
        }
      } else {
        for (size_t i = 0; i < n; ++i) sink(i, int32_t(p[i]), has_pad && isPad(p[i]));
      }
    } else if (bits_allocated_ == 8) {
      const uint8_t* p = reinterpret_cast<const uint8_t*>(src);
      for (size_t i = 0; i < n; ++i) {
        const int32_t raw = signed_ ? int32_t(int8_t(p[i])) : int32_t(p[i]);
        sink(i, raw, has_pad && isPad(raw));
      }
    } else {
      const uint32_t* p = reinterpret_cast<const uint32_t*>(src);
      for (size_t i = 0; i < n; ++i) {
        // 32-bit data beyond int32 is clamped by the sinks anyway.
        const int64_t wide = signed_ ? int64_t(int32_t(p[i])) : int64_t(p[i]);
        const int32_t raw = int32_t(std::clamp<int64_t>(wide, INT32_MIN, INT32_MAX));
        sink(i, raw, has_pad && isPad(wide));
      }
    }
  }

  const char* decodedFrame(const FileHeader& h, const FrameHeader& f, size_t offset, size_t bytes) const {
    if (offset + bytes > buffer_.size())
      throw Error(Errc::InvalidDicom, h.path.string() + ": pixel data shorter than frame " + std::to_string(f.frame + 1));
    return buffer_.data() + offset;
  }

  const char* readNativeFrame(const FileHeader& h, size_t offset, size_t bytes) {
    if (offset + bytes > h.native_pixels_length)
      throw Error(Errc::InvalidDicom, h.path.string() + ": pixel data shorter than frame " +
                                          std::to_string(offset / bytes + 1));
    frame_bytes_.resize(bytes);
    size_t filled = 0;
    while (filled < bytes) {
      const ssize_t got = ::pread(native_fd_, frame_bytes_.data() + filled, bytes - filled,
                                  off_t(h.native_pixels_offset + offset + filled));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw Error(Errc::Io, "cannot read " + h.path.string() + ": " + std::strerror(errno));
      if (got == 0) throw Error(Errc::InvalidDicom, h.path.string() + ": the file ends inside its pixel data");
      filled += size_t(got);
    }
    return frame_bytes_.data();
  }

  void closeFile() {
    if (native_fd_ >= 0) ::close(native_fd_);
    native_fd_ = -1;
  }

  void load(size_t file) {
    if (file == loaded_) return;
    closeFile();
    buffer_.clear();
    loaded_ = size_t(-1);
    const FileHeader& native = headers_[file];
    if (native.native_pixels_length > 0) {
      if (native.bits_allocated != 8 && native.bits_allocated != 16 && native.bits_allocated != 32)
        throw Error(Errc::Unsupported, native.path.string() + ": BitsAllocated " +
                                           std::to_string(native.bits_allocated));
      native_fd_ = ::open(native.path.c_str(), O_RDONLY | O_CLOEXEC);
      if (native_fd_ < 0) throw Error(Errc::Io, "cannot open " + native.path.string() + ": " + std::strerror(errno));
      bits_allocated_ = native.bits_allocated;
      signed_ = native.pixel_representation == 1;
      loaded_ = file;
      return;
    }
    // GDCM chatters on stderr about things we do not use (its own spacing for enhanced
    // objects, J2K bit depth fix-ups); failures still come back as return values.
    static const bool quiet = [] {
      gdcm::Trace::WarningOff();
      gdcm::Trace::DebugOff();
      gdcm::Trace::ErrorOff();
      return true;
    }();
    (void)quiet;
    const FileHeader& h = headers_[file];
    {
      std::ifstream probe(h.path, std::ios::binary);
      if (!probe) throw Error(Errc::Io, "cannot open " + h.path.string());
    }
    std::istringstream copy(pixelCopy(h));  // see pixelCopy(): GDCM reads DCMTK's copy
    gdcm::ImageReader reader;
    reader.SetStream(copy);
    if (!reader.Read()) throw Error(Errc::InvalidDicom, h.path.string() + ": GDCM cannot read the image");
    const gdcm::Image& img = reader.GetImage();
    const gdcm::PixelFormat& pf = img.GetPixelFormat();
    if (pf.GetSamplesPerPixel() != 1) throw Error(Errc::InvalidDicom, h.path.string() + ": not a grey-scale image");
    bits_allocated_ = pf.GetBitsAllocated();
    if (bits_allocated_ != 8 && bits_allocated_ != 16 && bits_allocated_ != 32)
      throw Error(Errc::Unsupported, h.path.string() + ": BitsAllocated " + std::to_string(bits_allocated_));
    signed_ = pf.GetPixelRepresentation() == 1;
    if (int(img.GetColumns()) != h.cols || int(img.GetRows()) != h.rows)
      throw Error(Errc::InvalidDicom, h.path.string() + ": image matrix differs from its header");
    // Native pixel data shorter than the image it claims to be would leave the
    // rest of the buffer to chance: refuse it.
    const gdcm::DataSet& dataset = reader.GetFile().GetDataSet();
    const gdcm::Tag pixel_data(0x7fe0, 0x0010);
    if (dataset.FindDataElement(pixel_data)) {
      const gdcm::ByteValue* native = dataset.GetDataElement(pixel_data).GetByteValue();
      if (native && native->GetLength() < img.GetBufferLength())
        throw Error(Errc::InvalidDicom, h.path.string() + ": pixel data is shorter than Rows x Columns x frames (" +
                                            std::to_string(native->GetLength()) + " of " +
                                            std::to_string(img.GetBufferLength()) + " bytes)");
    }
    buffer_.assign(img.GetBufferLength(), 0);
    if (!img.GetBuffer(buffer_.data()))
      throw Error(Errc::InvalidDicom, h.path.string() + ": pixel data could not be decoded (transfer syntax " +
                                          h.transfer_syntax_uid + ")");
    loaded_ = file;
  }

  std::span<const FileHeader> headers_;
  size_t loaded_ = size_t(-1);
  std::vector<char> buffer_;       // the decoded pixels of the loaded file (decoder path)
  int native_fd_ = -1;             // the loaded file (native path)
  std::vector<char> frame_bytes_;  // one frame read from it
  int bits_allocated_ = 16;
  bool signed_ = false;
};

inline int16_t toInt16(float v) {
  v = std::clamp(v, -32768.0f, 32767.0f);
  return int16_t(v >= 0 ? v + 0.5f : v - 0.5f);
}

// Bilinear sample of a slice (physical values) at fractional pixel (x, y); fill outside.
inline float sample(const std::vector<float>& s, int cols, int rows, double x, double y, float fill) {
  constexpr double eps = 1e-3;
  if (x < -eps || y < -eps || x > cols - 1 + eps || y > rows - 1 + eps) return fill;
  x = std::clamp(x, 0.0, double(cols - 1));
  y = std::clamp(y, 0.0, double(rows - 1));
  const int x0 = std::min(int(x), cols - 1), y0 = std::min(int(y), rows - 1);
  const int x1 = std::min(x0 + 1, cols - 1), y1 = std::min(y0 + 1, rows - 1);
  const float fx = float(x - x0), fy = float(y - y0);
  const float* r0 = s.data() + size_t(y0) * cols;
  const float* r1 = s.data() + size_t(y1) * cols;
  const float top = r0[x0] + (r0[x1] - r0[x0]) * fx;
  const float bottom = r1[x0] + (r1[x1] - r1[x0]) * fx;
  return top + (bottom - top) * fy;
}

// Resamples source slice `s` onto output slice plane, accumulating weight w into acc.
void accumulate(const std::vector<float>& src, const StackPlan& plan, const SliceRef& s, float w,
                std::vector<float>& acc, int out_cols, int out_rows) {
  const float fill = float(plan.fill_value);
  const double ox = s.a / plan.sx, oy = s.b / plan.sy;  // source slice origin in output pixels
  const bool integral = std::abs(ox - std::round(ox)) < 1e-4 && std::abs(oy - std::round(oy)) < 1e-4;
  const int ix = int(std::lround(ox)), iy = int(std::lround(oy));
  for (int y = 0; y < out_rows; ++y) {
    float* dst = acc.data() + size_t(y) * out_cols;
    if (integral) {
      const int sy = y - iy;
      const bool row_in = sy >= 0 && sy < plan.rows;
      for (int x = 0; x < out_cols; ++x) {
        const int sxp = x - ix;
        const float v = (row_in && sxp >= 0 && sxp < plan.cols) ? src[size_t(sy) * plan.cols + sxp] : fill;
        dst[x] += w * v;
      }
    } else {
      for (int x = 0; x < out_cols; ++x) dst[x] += w * sample(src, plan.cols, plan.rows, x - ox, y - oy, fill);
    }
  }
}

// Moves the prefetched slices into their places in the stack: voxels (the prefetched
// buffer, one slice per slot) becomes the stack, slice k being slot from[k] (-1: none,
// decoded afterwards). The moves follow the cycles of the permutation, one slice of
// memory aside, so the buffer never needs a second copy. Returns which slices are in
// place.
std::vector<bool> placePrefetched(std::vector<int16_t>& voxels, size_t plane, std::vector<int64_t> from,
                                  size_t stack_slices) {
  const size_t slots = voxels.size() / plane, total = std::max(slots, stack_slices);
  voxels.resize(total * plane);
  from.resize(total, -1);
  std::vector<bool> in_place(stack_slices, false), used(total, false);
  for (size_t k = 0; k < stack_slices; ++k)
    if (from[k] >= 0) {
      used[size_t(from[k])] = true;
      in_place[k] = true;
    }
  // Slices without a prefetched source take a slot nobody takes: a permutation.
  size_t free_slot = 0;
  for (size_t k = 0; k < total; ++k) {
    if (from[k] >= 0) continue;
    while (used[free_slot]) ++free_slot;
    from[k] = int64_t(free_slot);
    used[free_slot] = true;
  }
  std::vector<int16_t> aside(plane);
  std::vector<bool> done(total, false);
  for (size_t start = 0; start < total; ++start) {
    if (done[start]) continue;
    if (size_t(from[start]) == start) {
      done[start] = true;
      continue;
    }
    std::copy_n(voxels.data() + start * plane, plane, aside.data());
    for (size_t k = start;;) {
      done[k] = true;
      const size_t source = size_t(from[k]);
      if (source == start) {
        std::copy_n(aside.data(), plane, voxels.data() + k * plane);
        break;
      }
      std::copy_n(voxels.data() + source * plane, plane, voxels.data() + k * plane);
      k = source;
    }
  }
  voxels.resize(stack_slices * plane);
  return in_place;
}

}  // namespace

void decodeFrameInt16(const FileHeader& header, int16_t* out) {
  FrameSource({&header, 1}).frameInt16(0, 0, 0, out);
}

Volume decodeStack(const std::vector<FileHeader>& headers, const StackPlan& plan, const BlockReduction& reduction,
                   PrefetchedSlices* prefetched) {
  const VolumeCandidate& c = plan.candidate;
  VolumeCandidate reduced = c;
  reduceGeometry(reduced, reduction);
  Volume v;
  v.dimensions = reduced.dimensions;
  v.spacing = reduced.spacing;
  v.origin = reduced.origin;
  v.direction = c.direction;
  v.corrections = c.corrections;
  const FileHeader& h0 = headers[plan.slices.front().file];
  v.modality = h0.info.modality;
  v.series_instance_uid = h0.info.series_instance_uid;
  v.frame_of_reference_uid = h0.info.frame_of_reference_uid;

  const int cols = c.dimensions[0], rows = c.dimensions[1];
  const size_t plane = size_t(cols) * rows;
  const size_t reduced_plane = size_t(v.dimensions[0]) * v.dimensions[1];
  const int reduced_nz = v.dimensions[2];
  const float fill = float(plan.fill_value);
  // Slices decoded while the series arrived go straight into place when the stack does.
  std::vector<bool> in_place;
  if (prefetched && !plan.resample && reduction.none() && prefetched->rows == rows && prefetched->cols == cols &&
      prefetched->slices() > 0) {
    std::vector<int64_t> from(size_t(reduced_nz), -1);
    std::vector<bool> taken(prefetched->slices(), false);
    for (int k = 0; k < reduced_nz; ++k) {
      const SliceRef& s = plan.slices[size_t(k)];
      const auto slot = prefetched->slot_of.find(headers[s.file].path.string());
      if (s.frame != 0 || slot == prefetched->slot_of.end() || taken[slot->second]) continue;
      taken[slot->second] = true;
      from[size_t(k)] = int64_t(slot->second);
    }
    v.voxels = std::move(prefetched->voxels);
    prefetched->clear();
    in_place = placePrefetched(v.voxels, plane, std::move(from), size_t(reduced_nz));
  } else {
    v.voxels.assign(reduced_plane * reduced_nz, int16_t(plan.fill_value));
  }

  if (!plan.resample) {
    // Slices go straight into their place; files are independent, so decode them on a
    // few threads (each with its own one-file cache). A multi-frame object that needs the
    // decoder is decoded whole, so it is decoded once, on one thread, not once per thread.
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    const bool decodes_whole_objects = std::any_of(headers.begin(), headers.end(), [](const FileHeader& h) {
      return h.native_pixels_length == 0 && h.number_of_frames > 1;
    });
    const int threads =
        decodes_whole_objects ? 1 : int(std::min<unsigned>({hw, 4u, unsigned(std::max(1, reduced_nz / 8))}));
    std::vector<std::exception_ptr> errors(static_cast<size_t>(threads));
    auto work = [&](int t) {
      try {
        FrameSource src(headers);
        const int z0 = reduced_nz * t / threads, z1 = reduced_nz * (t + 1) / threads;
        if (reduction.none()) {
          for (int k = z0; k < z1; ++k) {
            if (!in_place.empty() && in_place[size_t(k)]) continue;
            const SliceRef& s = plan.slices[k];
            src.frameInt16(s.file, s.frame, int16_t(plan.fill_value), v.voxels.data() + plane * k);
          }
          return;
        }
        // Averaged down: each output slice is the block means of fz source slices.
        std::vector<int16_t> full(plane);
        ReducedSlice block(cols, rows, reduction);
        for (int z = z0; z < z1; ++z) {
          for (int k = z * reduction.fz; k < (z + 1) * reduction.fz; ++k) {
            const SliceRef& s = plan.slices[k];
            src.frameInt16(s.file, s.frame, int16_t(plan.fill_value), full.data());
            block.add(full.data());
          }
          block.finish(v.voxels.data() + reduced_plane * z);
        }
      } catch (...) {
        errors[size_t(t)] = std::current_exception();
      }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
    work(0);
    for (auto& th : pool) th.join();
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
    return v;
  }

  // General case: for each output slice at depth z*sz, blend the two bracketing source
  // slices, each sampled in its own in-plane frame (corrects the shear of a tilted stack).
  const double sz = c.spacing[2];
  const auto& S = plan.slices;
  FrameSource source(headers);
  std::vector<float> acc(plane);
  std::vector<float> buf[2];
  int held[2] = {-1, -1};
  // Two decoded slices are enough: output depth only moves forward.
  auto get = [&](int idx) -> const std::vector<float>& {
    for (int b = 0; b < 2; ++b)
      if (held[b] == idx) return buf[b];
    const int victim = held[0] < held[1] ? 0 : 1;
    source.frame(S[idx].file, S[idx].frame, fill, buf[victim]);
    held[victim] = idx;
    return buf[victim];
  };
  std::vector<int16_t> full(reduction.none() ? 0 : plane);
  ReducedSlice block(cols, rows, reduction);
  size_t k = 0;
  for (int z = 0; z < reduced_nz * reduction.fz; ++z) {
    const double d = std::min(z * sz, S.back().d);
    while (k + 1 < S.size() - 1 && S[k + 1].d <= d) ++k;
    if (k + 1 >= S.size()) k = S.size() - 2;
    const double d0 = S[k].d, d1 = S[k + 1].d;
    double w = d1 > d0 ? (d - d0) / (d1 - d0) : 0.0;
    w = std::clamp(w, 0.0, 1.0);
    std::fill(acc.begin(), acc.end(), 0.0f);
    if (w < 1.0 - 1e-6) {
      accumulate(get(int(k)), plan, S[k], float(1.0 - w), acc, cols, rows);
    }
    if (w > 1e-6) {
      accumulate(get(int(k + 1)), plan, S[k + 1], float(w), acc, cols, rows);
    }
    int16_t* dst = reduction.none() ? v.voxels.data() + plane * z : full.data();
    for (size_t i = 0; i < plane; ++i) dst[i] = toInt16(acc[i]);
    if (reduction.none()) continue;
    block.add(full.data());
    if ((z + 1) % reduction.fz == 0) block.finish(v.voxels.data() + reduced_plane * (z / reduction.fz));
  }
  return v;
}

}  // namespace volnode::detail
