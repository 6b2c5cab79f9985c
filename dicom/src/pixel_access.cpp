#include "volnode/dicom/pixel_access.hpp"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmimage/diregist.h>  // colour images for DicomImage
#include <dcmtk/dcmimage/dipipng.h>
#include <dcmtk/dcmimgle/dcmimage.h>
#include <dcmtk/dcmjpeg/dipijpeg.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>

#include "dcmtk_access.hpp"
#include "volnode/core/error.hpp"

namespace volnode::dicom {
namespace {

// DCMTK's decoders: JPEG (baseline, extended, lossless), JPEG-LS and RLE. DCMTK has no
// JPEG 2000 decoder.
void registerDecoders() {
  static std::once_flag once;
  std::call_once(once, [] {
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
  });
}

std::string syntaxName(const DicomFile& file) {
  const std::string uid = file.datasetTransferSyntaxUid();
  DcmXfer xfer(uid.c_str());
  return uid + " (" + xfer.getXferName() + ")";
}

struct Pixels {
  DcmDataset* dataset = nullptr;
  DcmPixelData* element = nullptr;
  long frames = 1;
};

Pixels pixelsOf(const DicomFile& file) {
  Pixels p;
  p.dataset = DcmtkAccess::format(file).getDataset();
  DcmElement* found = nullptr;
  if (p.dataset->findAndGetElement(DCM_PixelData, found).bad() || !(p.element = dynamic_cast<DcmPixelData*>(found)))
    throw Error(Errc::NotFound, file.path().filename().string() + ": no pixel data");
  Sint32 frames = 1;
  if (p.dataset->findAndGetSint32(DCM_NumberOfFrames, frames).good() && frames > 1) p.frames = frames;
  return p;
}

void checkNumber(const Pixels& p, int n) {
  if (n < 1 || n > p.frames)
    throw Error(Errc::NotFound, "frame " + std::to_string(n) + " of an instance with " + std::to_string(p.frames) +
                                    " frame(s)");
}

// The compressed bitstream of frame n: its fragments, concatenated.
std::string storedFragments(const DicomFile& file, const Pixels& p, int n) {
  DcmPixelSequence* sequence = nullptr;
  E_TransferSyntax xfer = p.dataset->getOriginalXfer();
  if (p.element->getEncapsulatedRepresentation(xfer, nullptr, sequence).bad() || !sequence)
    throw Error(Errc::InvalidDicom, file.path().filename().string() + ": no encapsulated pixel data");
  const unsigned long items = sequence->card();  // the Basic Offset Table first
  auto fragment = [&](unsigned long index) {
    DcmPixelItem* item = nullptr;
    Uint8* bytes = nullptr;
    if (sequence->getItem(item, index).bad() || item->getUint8Array(bytes).bad())
      throw Error(Errc::InvalidDicom, file.path().filename().string() + ": fragment " + std::to_string(index) +
                                          " cannot be read");
    return std::string(reinterpret_cast<const char*>(bytes), bytes ? item->getLength() : 0);
  };
  if (items < 2) throw Error(Errc::InvalidDicom, file.path().filename().string() + ": no fragments");
  const unsigned long fragments = items - 1;
  std::string out;
  if (p.frames == 1) {
    for (unsigned long i = 1; i < items; ++i) out += fragment(i);
    return out;
  }
  if (fragments == static_cast<unsigned long>(p.frames)) return fragment(static_cast<unsigned long>(n));
  // Several fragments per frame: the Basic Offset Table says where each frame starts,
  // counted in bytes from the first fragment's item header.
  const std::string table = fragment(0);
  if (table.size() != static_cast<size_t>(p.frames) * 4)
    throw Error(Errc::Unsupported, file.path().filename().string() + ": " + std::to_string(fragments) +
                                       " fragments for " + std::to_string(p.frames) +
                                       " frames and no Basic Offset Table: the frame boundaries are unknown");
  auto offset = [&](long frame) -> uint64_t {
    if (frame >= p.frames) return UINT64_MAX;
    const auto* b = reinterpret_cast<const unsigned char*>(table.data()) + frame * 4;
    return uint64_t(b[0]) | uint64_t(b[1]) << 8 | uint64_t(b[2]) << 16 | uint64_t(b[3]) << 24;
  };
  const uint64_t begin = offset(n - 1), end = offset(n);
  uint64_t position = 0;
  for (unsigned long i = 1; i < items && position < end; ++i) {
    std::string bytes = fragment(i);
    if (position >= begin) out += bytes;
    position += 8 + bytes.size();
  }
  return out;
}

}  // namespace

std::vector<std::string> storedFrames(const DicomFile& file, const std::vector<int>& numbers) {
  const Pixels p = pixelsOf(file);
  for (int n : numbers) checkNumber(p, n);
  if (DcmXfer(p.dataset->getOriginalXfer()).isEncapsulated()) {
    std::vector<std::string> out;
    for (int n : numbers) out.push_back(storedFragments(file, p, n));
    return out;
  }
  return decodedFrames(file, numbers);  // native: the frames are the pixels
}

std::vector<std::string> decodedFrames(const DicomFile& file, const std::vector<int>& numbers) {
  registerDecoders();
  const Pixels p = pixelsOf(file);
  Uint32 size = 0;
  if (p.element->getUncompressedFrameSize(p.dataset, size).bad() || size == 0)
    throw Error(Errc::InvalidDicom, file.path().filename().string() + ": the frame size cannot be determined");
  std::vector<std::string> out;
  for (int n : numbers) {
    checkNumber(p, n);
    std::string frame(size + (size & 1), '\0');  // DCMTK wants an even buffer
    Uint32 start = 0;
    OFString colour_model;
    const OFCondition status = p.element->getUncompressedFrame(p.dataset, static_cast<Uint32>(n - 1), start, frame.data(),
                                                               static_cast<Uint32>(frame.size()), colour_model);
    if (status.bad())
      throw Error(Errc::Unsupported, "pixel data in transfer syntax " + syntaxName(file) +
                                         " cannot be decoded here: " + status.text());
    frame.resize(size);
    out.push_back(std::move(frame));
  }
  return out;
}

RenderedImage renderedFrame(const DicomFile& file, const RenderOptions& options) {
  registerDecoders();
  const Pixels p = pixelsOf(file);
  checkNumber(p, options.frame);
  DicomImage image(p.dataset, p.dataset->getOriginalXfer(), CIF_UsePartialAccessToPixelData,
                   static_cast<unsigned long>(options.frame - 1), 1);
  if (image.getStatus() != EIS_Normal)
    throw Error(Errc::Unsupported, "frame " + std::to_string(options.frame) + " in transfer syntax " + syntaxName(file) +
                                       " cannot be rendered here: " + DicomImage::getString(image.getStatus()));
  if (image.isMonochrome()) {
    if (options.window_center && options.window_width)
      image.setWindow(*options.window_center, *options.window_width);
    else if (image.getWindowCount() > 0)
      image.setWindow(0);
    else if (image.getDepth() > 8)  // e.g. 12-bit CT without a window: its range, not all 4096 values
      image.setMinMaxWindow();
    // 8 bits without a window (the node's grey spins): shown as they are
  }
  DicomImage* output = &image;
  std::unique_ptr<DicomImage> scaled;
  const double columns = static_cast<double>(image.getWidth()), rows = static_cast<double>(image.getHeight());
  if (options.viewport_columns > 0 || options.viewport_rows > 0) {
    const double sx = options.viewport_columns > 0 ? options.viewport_columns / columns : 1e9;
    const double sy = options.viewport_rows > 0 ? options.viewport_rows / rows : 1e9;
    const double s = std::min(sx, sy);
    const auto w = static_cast<unsigned long>(std::max(1.0, std::floor(columns * s + 0.5)));
    const auto h = static_cast<unsigned long>(std::max(1.0, std::floor(rows * s + 0.5)));
    scaled.reset(image.createScaledImage(w, h, 1, 0));
    if (!scaled || scaled->getStatus() != EIS_Normal) throw Error(Errc::Internal, "the frame cannot be scaled");
    output = scaled.get();
  }
  char* buffer = nullptr;
  size_t length = 0;
  FILE* stream = ::open_memstream(&buffer, &length);
  if (!stream) throw Error(Errc::Io, "no memory for the rendered frame");
  int written = 0;
  if (options.png) {
    DiPNGPlugin png;
    png.setInterlaceType(E_pngInterlaceNone);  // DCMTK writes Adam7 by default: larger, slower
    written = output->writePluginFormat(&png, stream, 0);
  } else {
    DiJPEGPlugin jpeg;
    jpeg.setQuality(static_cast<unsigned int>(std::clamp(options.quality, 1, 100)));
    written = output->writePluginFormat(&jpeg, stream, 0);
  }
  std::fclose(stream);
  RenderedImage out;
  out.bytes.assign(buffer ? buffer : "", length);
  std::free(buffer);
  if (!written || out.bytes.empty()) throw Error(Errc::Internal, "the frame could not be encoded");
  out.content_type = options.png ? "image/png" : "image/jpeg";
  out.columns = static_cast<int>(output->getWidth());
  out.rows = static_cast<int>(output->getHeight());
  return out;
}

}  // namespace volnode::dicom
