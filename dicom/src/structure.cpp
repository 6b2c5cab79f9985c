#include "volnode/dicom/structure.hpp"

#include <cstring>

#include <dcmtk/dcmdata/dcxfer.h>

#include "byte_source.hpp"
#include "structure_walker.hpp"
#include "volnode/core/error.hpp"
#include "volnode/dicom/limits.hpp"

namespace volnode::dicom {
namespace {

using detail::ByteSource;
using detail::Encoding;
using detail::ImageAttributes;
using detail::StructureError;
using detail::StructureWalker;

constexpr uint64_t kPreambleBytes = 132;  // 128 bytes of preamble and "DICM"

bool hasPreamble(ByteSource& source) {
  char magic[4];
  return source.size() >= kPreambleBytes && source.read(128, magic, 4) && std::memcmp(magic, "DICM", 4) == 0;
}

bool startsWithGroup2(ByteSource& source, uint64_t offset) {
  uint8_t b[2];
  return source.read(offset, b, 2) && ((b[0] == 0x02 && b[1] == 0x00) || (b[0] == 0x00 && b[1] == 0x02));
}

std::string trimmed(std::string value) {
  while (!value.empty() && (value.back() == ' ' || value.back() == '\0')) value.pop_back();
  size_t begin = 0;
  while (begin < value.size() && value[begin] == ' ') ++begin;
  return value.substr(begin);
}

E_TransferSyntax transferSyntaxOf(Encoding encoding) {
  if (encoding.explicit_vr) return encoding.big_endian ? EXS_BigEndianExplicit : EXS_LittleEndianExplicit;
  return encoding.big_endian ? EXS_BigEndianImplicit : EXS_LittleEndianImplicit;
}

// a x b, or UINT64_MAX when it does not fit.
uint64_t saturatingProduct(std::initializer_list<uint64_t> factors) {
  uint64_t product = 1;
  for (uint64_t f : factors) {
    if (f != 0 && product > UINT64_MAX / f) return UINT64_MAX;
    product *= f;
  }
  return product;
}

std::optional<uint64_t> positiveInteger(const std::string& text) {
  const std::string value = trimmed(text);
  if (value.empty() || value.size() > 12) return std::nullopt;
  size_t begin = value[0] == '+' ? 1 : 0;
  if (begin == value.size()) return std::nullopt;
  uint64_t n = 0;
  for (size_t i = begin; i < value.size(); ++i) {
    if (value[i] < '0' || value[i] > '9') return std::nullopt;
    n = n * 10 + uint64_t(value[i] - '0');
  }
  return n;
}

// MPEG-2, MPEG-4 and HEVC streams: their frames are never decoded here, and a minute of
// video "decodes" to gigabytes, so they are not held to kMaxPixelDataBytes.
bool isVideo(E_TransferSyntax syntax) {
  switch (syntax) {
    case EXS_MPEG2MainProfileAtMainLevel:
    case EXS_MPEG2MainProfileAtHighLevel:
    case EXS_MPEG4HighProfileLevel4_1:
    case EXS_MPEG4BDcompatibleHighProfileLevel4_1:
    case EXS_MPEG4HighProfileLevel4_2_For2DVideo:
    case EXS_MPEG4HighProfileLevel4_2_For3DVideo:
    case EXS_MPEG4StereoHighProfileLevel4_2:
    case EXS_HEVCMainProfileLevel5_1:
    case EXS_HEVCMain10ProfileLevel5_1:
      return true;
    default:
      return false;
  }
}

// Native pixel data must be exactly what the image attributes say (plus the pad byte
// to even length); compressed pixel data must not decode to more than the limit.
void checkPixelData(Structure& out, const ImageAttributes& image, const DcmXfer& xfer) {
  if (!out.pixel_data) return;
  PixelDataLayout& pixels = *out.pixel_data;
  const std::string syntax = xfer.getXferName();
  if (pixels.encapsulated && !xfer.isEncapsulated())
    throw StructureError("Pixel Data is encapsulated (compressed fragments) but the transfer syntax, " + syntax +
                         ", is not a compressed one");
  if (!pixels.encapsulated && xfer.isEncapsulated())
    throw StructureError("Pixel Data has a defined length (not encapsulated) but the transfer syntax, " + syntax +
                         ", is a compressed one");
  std::string missing;
  if (!image.rows) missing += ", Rows";
  if (!image.columns) missing += ", Columns";
  if (!image.bits_allocated) missing += ", BitsAllocated";
  if (!missing.empty()) throw StructureError("Pixel Data without " + missing.substr(2) + " to size it");
  uint64_t frames = 1;
  if (image.number_of_frames && !trimmed(*image.number_of_frames).empty()) {
    auto n = positiveInteger(*image.number_of_frames);
    if (!n || *n == 0)
      throw StructureError("NumberOfFrames '" + trimmed(*image.number_of_frames) + "' is not a positive number");
    frames = *n;
  }
  const uint64_t samples = image.samples_per_pixel.value_or(1);
  // Uncompressed YBR_*_422 stores two samples per pixel (chroma shared by pixel pairs).
  const bool subsampled = !pixels.encapsulated && samples == 3 && image.photometric &&
                          (trimmed(*image.photometric) == "YBR_FULL_422" ||
                           trimmed(*image.photometric) == "YBR_PARTIAL_422");
  const uint64_t stored_samples = subsampled ? 2 : samples;
  const uint64_t bits = saturatingProduct({*image.rows, *image.columns, stored_samples, *image.bits_allocated, frames});
  const uint64_t expected = bits == UINT64_MAX ? UINT64_MAX : (bits + 7) / 8;
  pixels.decoded_bytes = expected;
  const std::string formula = "Rows x Columns x SamplesPerPixel x BitsAllocated x NumberOfFrames (" +
                              std::to_string(*image.rows) + " x " + std::to_string(*image.columns) + " x " +
                              std::to_string(samples) + " x " + std::to_string(*image.bits_allocated) + " x " +
                              std::to_string(frames) + ")";
  if (expected > kMaxPixelDataBytes && !isVideo(xfer.getXfer()))
    throw StructureError(formula + " make pixel data of " +
                         (expected == UINT64_MAX ? std::string("more than 2^64") : std::to_string(expected)) +
                         " bytes, more than the " + std::to_string(kMaxPixelDataBytes >> 30) +
                         " GiB one file may hold");
  if (pixels.encapsulated) return;
  if (pixels.length < expected)
    throw StructureError("Pixel Data is shorter than " + formula + " say: " + std::to_string(pixels.length) +
                         " bytes instead of " + std::to_string(expected));
  if (pixels.length > expected + (expected & 1))
    throw StructureError("Pixel Data is longer than " + formula + " say: " + std::to_string(pixels.length) +
                         " bytes instead of " + std::to_string(expected));
}

Structure scan(ByteSource& file) {
  if (file.size() == 0) throw StructureError("the file is empty");
  Structure out;
  StructureWalker walker(file, out);
  uint64_t offset = hasPreamble(file) ? kPreambleBytes : 0;
  std::optional<std::string> meta_syntax;
  if (startsWithGroup2(file, offset)) offset = walker.walkFileMeta(offset, meta_syntax);
  out.dataset_offset = size_t(offset);

  // DcmFileFormat: the meta header's transfer syntax when DCMTK knows it, else the
  // encoding detected from the first data set element.
  E_TransferSyntax syntax = EXS_Unknown;
  if (meta_syntax) syntax = DcmXfer(trimmed(*meta_syntax).c_str()).getXfer();
  if (syntax == EXS_Unknown) syntax = transferSyntaxOf(walker.detectEncoding(offset));
  const DcmXfer xfer(syntax);
  out.transfer_syntax_uid = xfer.getXferID();
  const Encoding encoding{bool(xfer.isExplicitVR()), bool(xfer.isBigEndian())};

  if (xfer.getStreamCompression() == ESC_none) {
    walker.walkDataset(offset, encoding);
    checkPixelData(out, walker.image(), xfer);
    return out;
  }
  out.deflated = true;
  const std::string inflated = detail::inflateFrom(file, offset);
  detail::MemorySource dataset(inflated);
  StructureWalker inflated_walker(dataset, out);
  inflated_walker.walkDataset(0, encoding);
  if (out.pixel_data) out.pixel_data->file_offset = 0;  // an offset into the inflated bytes, not the file
  checkPixelData(out, inflated_walker.image(), xfer);
  return out;
}

Structure scanNamed(ByteSource& file, const std::string& name) {
  try {
    return scan(file);
  } catch (const StructureError& e) {
    throw Error(Errc::InvalidDicom, name + ": " + e.what());
  } catch (const Error& e) {
    if (e.code() != Errc::InvalidDicom) throw;
    throw Error(Errc::InvalidDicom, name + ": " + e.what());
  }
}

}  // namespace

Structure checkStructure(const std::filesystem::path& file) {
  detail::FileSource source(file);
  return scanNamed(source, file.string());
}

Structure checkStructure(std::string_view file_bytes, const std::string& name) {
  detail::MemorySource source(file_bytes);
  return scanNamed(source, name);
}

size_t datasetOffset(std::string_view file_bytes) {
  detail::MemorySource source(file_bytes);
  if (!hasPreamble(source)) return 0;
  if (!startsWithGroup2(source, kPreambleBytes)) return size_t(kPreambleBytes);
  try {
    Structure ignored;
    StructureWalker walker(source, ignored);
    std::optional<std::string> syntax;
    return size_t(walker.walkFileMeta(kPreambleBytes, syntax));
  } catch (const StructureError&) {
    return 0;
  } catch (const Error&) {
    return 0;
  }
}

}  // namespace volnode::dicom
