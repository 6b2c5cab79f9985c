// WADO-RS pixel data that the node process does not read itself, from a real `volnode
// serve`: the same CT slice stored in JPEG-LS, RLE, JPEG Lossless, JPEG 2000 and Explicit
// VR Big Endian (../shared/data, sent with storescu in each syntax). Frames come as stored
// (the file's fragments) when the Accept header allows the stored syntax, decoded by a
// pixel worker process when it asks for Explicit VR Little Endian, and 406 naming the
// stored syntax where neither is possible; rendered images are DCMTK's windowed pixels.
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmimgle/dcmimage.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "support/node_process.hpp"
#include "volnode/viewer/frame_encoding.hpp"

using namespace volnode::test;
using nlohmann::json;

namespace {

constexpr char kPixelsToken[] = "dicomweb-pixels-token-0123";
const std::filesystem::path kSyntaxes = "ct-chest-transfer-syntaxes";
// Folder, storescu option proposing its syntax, the syntax.
struct Stored {
  const char* folder;
  const char* option;
  const char* syntax;
};
const Stored kStored[] = {{"jpegls_lossless", "-xt", "1.2.840.10008.1.2.4.80"},
                          {"rle", "-xr", "1.2.840.10008.1.2.5"},
                          {"jpeg_lossless_sv1", "-xs", "1.2.840.10008.1.2.4.70"},
                          {"j2k_lossless", "-xv", "1.2.840.10008.1.2.4.90"},
                          {"explicit_be", "-xb", "1.2.840.10008.1.2.2"}};

struct Part {
  std::string content_type, bytes;
};

std::vector<Part> multipartParts(const std::string& body, const std::string& content_type) {
  auto at = content_type.find("boundary=");
  if (at == std::string::npos) return {};
  const std::string delimiter = "--" + content_type.substr(at + 9);
  std::vector<Part> parts;
  size_t pos = body.find(delimiter);
  while (pos != std::string::npos) {
    size_t head = pos + delimiter.size() + 2;
    size_t start = body.find("\r\n\r\n", pos);
    size_t next = body.find("\r\n" + delimiter, pos + delimiter.size());
    if (start == std::string::npos || next == std::string::npos) break;
    std::string headers = body.substr(head, start - head);
    auto type = headers.find("Content-Type: ");
    parts.push_back({type == std::string::npos ? "" : headers.substr(type + 14, headers.find("\r\n", type) - type - 14),
                     body.substr(start + 4, next - start - 4)});
    pos = next + 2;
  }
  return parts;
}

DcmDataset* load(DcmFileFormat& file, const std::filesystem::path& path) {
  EXPECT_TRUE(file.loadFile(path.c_str()).good()) << path;
  return file.getDataset();
}

// The compressed bitstream of a single-frame file: its fragments after the offset table.
std::string fragments(const std::filesystem::path& path) {
  DcmFileFormat file;
  DcmDataset* d = load(file, path);
  DcmElement* element = nullptr;
  d->findAndGetElement(DCM_PixelData, element);
  DcmPixelSequence* sequence = nullptr;
  static_cast<DcmPixelData*>(element)->getEncapsulatedRepresentation(d->getOriginalXfer(), nullptr, sequence);
  std::string out;
  for (unsigned long i = 1; sequence && i < sequence->card(); ++i) {
    DcmPixelItem* item = nullptr;
    Uint8* bytes = nullptr;
    sequence->getItem(item, i);
    item->getUint8Array(bytes);
    out.append(reinterpret_cast<const char*>(bytes), item->getLength());
  }
  return out;
}

// The pixels DCMTK decodes (here, in the test), little endian.
std::string decodedPixels(const std::filesystem::path& path) {
  DJDecoderRegistration::registerCodecs();
  DJLSDecoderRegistration::registerCodecs();
  DcmRLEDecoderRegistration::registerCodecs();
  DcmFileFormat file;
  DcmDataset* d = load(file, path);
  EXPECT_TRUE(d->chooseRepresentation(EXS_LittleEndianExplicit, nullptr).good());
  const Uint16* pixels = nullptr;
  unsigned long count = 0;
  EXPECT_TRUE(d->findAndGetUint16Array(DCM_PixelData, pixels, &count).good());
  return std::string(reinterpret_cast<const char*>(pixels), count * 2);
}

class DicomWebPixels : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("volnode-it-dicomweb-pixels");
    node_ = new NodeProcess(*dir_ / "node", {noRendering(dir_->path()), std::string("console.token=") + kPixelsToken,
                                             "console.read_requires_token=true"});
    for (const auto& s : kStored) {
      auto argv = node_->scu("storescu", {s.option});
      argv.push_back((sharedData() / kSyntaxes / s.folder / "1-01.dcm").string());
      ASSERT_EQ(run(argv).exit_code, 0) << s.folder;
    }
  }
  static void TearDownTestSuite() {
    delete node_;
    delete dir_;
  }

  static httplib::Result get(const std::string& path, const std::string& accept = "") {
    httplib::Client client("127.0.0.1", node_->consolePort());
    client.set_read_timeout(60);
    httplib::Headers headers{{"Authorization", std::string("Bearer ") + kPixelsToken}};
    if (!accept.empty()) headers.emplace("Accept", accept);
    return client.Get(path, headers);
  }

  // The instance URL of the slice stored in `syntax`, from QIDO-RS.
  static std::string instanceUrl(const std::string& syntax) {
    auto r = get("/dicom-web/instances");
    if (!r || r->status != 200) return "";
    for (const auto& i : json::parse(r->body))
      if (i["00083002"]["Value"][0] == syntax) return i["00081190"]["Value"][0];
    return "";
  }

  static TempDir* dir_;
  static NodeProcess* node_;
};
TempDir* DicomWebPixels::dir_ = nullptr;
NodeProcess* DicomWebPixels::node_ = nullptr;

}  // namespace

TEST_F(DicomWebPixels, CompressedFramesComeAsStoredWhenAcceptedAndDecodedByAWorkerOtherwise) {
  const std::string expected = decodedPixels(sharedData() / kSyntaxes / "implicit_le" / "1-01.dcm");
  ASSERT_EQ(expected.size(), 512u * 512u * 2u);
  for (const auto& s : kStored) {
    SCOPED_TRACE(s.folder);
    const std::string url = instanceUrl(s.syntax);
    ASSERT_FALSE(url.empty());
    const auto source = sharedData() / kSyntaxes / s.folder / "1-01.dcm";
    const bool compressed = std::string(s.syntax) != "1.2.840.10008.1.2.2";
    // As stored: the file's own bitstream, labelled with its syntax.
    auto r = get(url + "/frames/1", "multipart/related; type=\"application/octet-stream\"; transfer-syntax=*");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    auto parts = multipartParts(r->body, r->get_header_value("Content-Type"));
    ASSERT_EQ(parts.size(), 1u);
    if (compressed) {
      EXPECT_EQ(parts[0].content_type, std::string("application/octet-stream; transfer-syntax=") + s.syntax);
      EXPECT_TRUE(parts[0].bytes == fragments(source));
    }
    // Explicit VR Little Endian (the default without transfer-syntax): decoded by a worker,
    // the pixels DCMTK decodes; JPEG 2000 has no decoder here: 406 naming the syntax.
    r = get(url + "/frames/1", "multipart/related; type=\"application/octet-stream\"");
    ASSERT_TRUE(r);
    if (std::string(s.syntax) == "1.2.840.10008.1.2.4.90") {
      EXPECT_EQ(r->status, 406);
      EXPECT_NE(r->body.find("1.2.840.10008.1.2.4.90"), std::string::npos) << r->body;
      continue;
    }
    ASSERT_EQ(r->status, 200) << r->body;
    parts = multipartParts(r->body, r->get_header_value("Content-Type"));
    ASSERT_EQ(parts.size(), 1u);
    EXPECT_EQ(parts[0].content_type, "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1");
    EXPECT_TRUE(parts[0].bytes == expected) << "decoded frame differs from DCMTK's pixels";
    // Neither the stored syntax nor Explicit VR Little Endian: 406 naming the stored one.
    r = get(url + "/frames/1", "multipart/related; type=\"application/octet-stream\"; transfer-syntax=1.2.840.10008.1.2.4.50");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 406);
    EXPECT_NE(r->body.find(s.syntax), std::string::npos) << r->body;
    // The metadata's pixel data bulkdata: decoded too.
    r = get(url + "/bulkdata/7FE00010");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    parts = multipartParts(r->body, r->get_header_value("Content-Type"));
    ASSERT_EQ(parts.size(), 1u);
    EXPECT_TRUE(parts[0].bytes == expected) << parts[0].bytes.size() << " " << parts[0].content_type;
  }
  auto r = get(instanceUrl("1.2.840.10008.1.2.4.80") + "/frames/2");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404) << r->body;
}

TEST_F(DicomWebPixels, RenderedFramesAreDcmtksWindowedPixelsAsPngOrJpeg) {
  const std::string url = instanceUrl("1.2.840.10008.1.2.4.80");
  ASSERT_FALSE(url.empty());
  auto r = get(url + "/rendered?window=40,400", "image/png");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "image/png");
  auto png = volnode::viewer::decodeImage(r->body);
  ASSERT_EQ(png.width, 512);
  ASSERT_EQ(png.height, 512);
  ASSERT_EQ(png.channels, 1);
  DJLSDecoderRegistration::registerCodecs();
  DcmFileFormat file;
  DcmDataset* d = load(file, sharedData() / kSyntaxes / "jpegls_lossless" / "1-01.dcm");
  DicomImage image(d, d->getOriginalXfer());
  ASSERT_EQ(image.getStatus(), EIS_Normal);
  image.setWindow(40, 400);
  const auto* expected = static_cast<const uint8_t*>(image.getOutputData(8));
  ASSERT_NE(expected, nullptr);
  EXPECT_EQ(std::memcmp(png.pixels.data(), expected, png.pixels.size()), 0);
  // A viewport scales it to fit; JPEG is the default; a window wider than the data is
  // still a picture; parameters outside PS3.18's supported set are named.
  r = get(url + "/frames/1/rendered?viewport=128,64&quality=80");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "image/jpeg");
  auto jpeg = volnode::viewer::decodeImage(r->body);
  EXPECT_EQ(jpeg.width, 64);
  EXPECT_EQ(jpeg.height, 64);
  r = get(url + "/rendered?window=40,0");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  r = get(url + "/rendered?annotation=patient");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("annotation"), std::string::npos);
  r = get(url + "/rendered", "image/gif");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 406);
  // JPEG 2000 cannot be decoded here: 406 naming it.
  r = get(instanceUrl("1.2.840.10008.1.2.4.90") + "/rendered");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 406);
  EXPECT_NE(r->body.find("1.2.840.10008.1.2.4.90"), std::string::npos) << r->body;
  // The node process stayed out of it: the pixel worker's own log line.
  EXPECT_NE(node_->log().find("pixel-0-"), std::string::npos);
}
