// Read-only DICOMweb on the node (PS3.18), under /dicom-web, behind the console's
// access rules (access_gate.cpp: the console token, or a launch session for its
// study): QIDO-RS search for studies, series and instances; WADO-RS retrieval of
// instances as stored, of metadata from the index, of uncompressed frames and pixel
// data bulkdata read straight from the file at the offset the pre-scan measured. The
// node process never parses or decodes pixel data: compressed frames (as stored or
// decoded) and rendered images come from pixel worker processes (ConsoleContext::pixels).
#include <nlohmann/json.hpp>

#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>

#include "http_answers.hpp"
#include "results.hpp"
#include "routes.hpp"
#include "volnode/core/error.hpp"
#include "volnode/dicom/structure.hpp"
#include "volnode/dicomweb/multipart_body.hpp"
#include "volnode/storage/dicomweb_queries.hpp"

namespace volnode::console {
namespace {

using nlohmann::json;

constexpr int kDefaultLimit = 100;
constexpr int kMaxLimit = 10000;
constexpr int kMaxInstancesPerRetrieve = 100000;
constexpr const char* kExplicitLittleEndian = "1.2.840.10008.1.2.1";
constexpr const char* kImplicitLittleEndian = "1.2.840.10008.1.2";

// --- DICOM JSON model (PS3.18 F.2) -------------------------------------------------

void put(json& out, const char* tag, const char* vr, const std::string& value) {
  json attr{{"vr", vr}};
  if (!value.empty()) {
    json values = json::array();
    std::string current;
    std::istringstream in(value);
    while (std::getline(in, current, '\\')) values.push_back(current);
    attr["Value"] = values;
  }
  out[tag] = attr;
}

void putName(json& out, const char* tag, const std::string& value) {
  json attr{{"vr", "PN"}};
  if (!value.empty()) attr["Value"] = json::array({json{{"Alphabetic", value}}});
  out[tag] = attr;
}

void putInt(json& out, const char* tag, const char* vr, std::optional<int64_t> value) {
  json attr{{"vr", vr}};
  if (value) attr["Value"] = json::array({*value});
  out[tag] = attr;
}

// Decimal strings (DS) as numbers, as the JSON model writes them.
void putDecimals(json& out, const char* tag, const std::string& value) {
  json attr{{"vr", "DS"}};
  json values = json::array();
  std::string current;
  std::istringstream in(value);
  while (std::getline(in, current, '\\')) {
    try {
      values.push_back(std::stod(current));
    } catch (const std::exception&) {
    }
  }
  if (!values.empty()) attr["Value"] = values;
  out[tag] = attr;
}

std::string studyUrl(const QidoRow& r) { return "/dicom-web/studies/" + r.study_uid; }
std::string seriesUrl(const QidoRow& r) { return studyUrl(r) + "/series/" + r.series_uid; }

json studyJson(const QidoRow& r) {
  json out = json::object();
  put(out, "00080005", "CS", "ISO_IR 192");  // the index holds UTF-8
  put(out, "00080020", "DA", r.study_date);
  put(out, "00080030", "TM", r.study_time);
  put(out, "00080050", "SH", r.accession_number);
  json modalities{{"vr", "CS"}};
  if (!r.modalities_in_study.empty()) modalities["Value"] = r.modalities_in_study;
  out["00080061"] = modalities;
  putName(out, "00080090", r.referring_physician);
  put(out, "00081030", "LO", r.study_description);
  put(out, "00081190", "UR", studyUrl(r));
  putName(out, "00100010", r.patient_name);
  put(out, "00100020", "LO", r.patient_id);
  put(out, "00100030", "DA", r.patient_birth_date);
  put(out, "00100040", "CS", r.patient_sex);
  put(out, "0020000D", "UI", r.study_uid);
  put(out, "00200010", "SH", r.study_id);
  putInt(out, "00201206", "IS", r.study_series);
  putInt(out, "00201208", "IS", r.study_instances);
  return out;
}

json seriesJson(const QidoRow& r) {
  json out = json::object();
  put(out, "00080005", "CS", "ISO_IR 192");
  put(out, "00080060", "CS", r.modality);
  put(out, "0008103E", "LO", r.series_description);
  put(out, "00081190", "UR", seriesUrl(r));
  put(out, "00180015", "CS", r.body_part);
  put(out, "0020000D", "UI", r.study_uid);
  put(out, "0020000E", "UI", r.series_uid);
  put(out, "00200011", "IS", r.series_number);
  putInt(out, "00201209", "IS", r.series_instances);
  return out;
}

json instanceJson(const QidoRow& r) {
  json out = json::object();
  put(out, "00080005", "CS", "ISO_IR 192");
  put(out, "00080016", "UI", r.sop_class_uid);
  put(out, "00080018", "UI", r.sop_uid);
  put(out, "00081190", "UR", seriesUrl(r) + "/instances/" + r.sop_uid);
  put(out, "00083002", "UI", r.transfer_syntax_uid);  // AvailableTransferSyntaxUID: as stored
  put(out, "0020000D", "UI", r.study_uid);
  put(out, "0020000E", "UI", r.series_uid);
  putInt(out, "00200013", "IS", r.instance_number);
  putInt(out, "00280008", "IS", r.number_of_frames);
  putInt(out, "00280010", "US", r.rows);
  putInt(out, "00280011", "US", r.columns);
  putInt(out, "00280100", "US", r.bits_allocated);
  return out;
}

// What WADO-RS metadata holds: the instance's attributes of every level, from the index.
json metadataJson(const QidoRow& r) {
  json out = studyJson(r);
  out.erase("00080061");
  out.erase("00201206");
  out.erase("00201208");
  out.erase("00081190");
  // Named, not temporaries: items() does not keep the object it iterates alive.
  const json series = seriesJson(r), instance = instanceJson(r);
  for (const auto& [tag, value] : series.items()) out[tag] = value;
  for (const auto& [tag, value] : instance.items()) out[tag] = value;
  out.erase("00081190");
  out.erase("00201209");
  out.erase("00083002");
  put(out, "00080008", "CS", r.image_type);
  putDecimals(out, "00180050", r.slice_thickness);
  putDecimals(out, "00200032", r.image_position);
  putDecimals(out, "00200037", r.image_orientation);
  put(out, "00200052", "UI", r.frame_of_reference);
  putDecimals(out, "00280030", r.pixel_spacing);
  // Pixel data by reference: all its frames, uncompressed (see answerBulkData). An
  // instance without rows (an STL model, a document) has none.
  if (r.rows)
    out["7FE00010"] = json{{"vr", r.bits_allocated.value_or(16) > 8 ? "OW" : "OB"},
                           {"BulkDataURI", seriesUrl(r) + "/instances/" + r.sop_uid + "/bulkdata/7FE00010"}};
  return out;
}

void answerDicomJson(httplib::Response& res, const json& body) {
  res.status = 200;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body.dump(), "application/dicom+json");
}

// --- requests ------------------------------------------------------------------

int intParam(const httplib::Request& req, const char* name, int fallback, int max) {
  if (!req.has_param(name)) return fallback;
  const std::string value = req.get_param_value(name);
  if (value.empty() || value.size() > 9 || value.find_first_not_of("0123456789") != std::string::npos)
    throw Error(Errc::InvalidArgument, std::string(name) + "=" + value.substr(0, 20) + ": expected a whole number");
  return std::min(std::stoi(value), max);
}

QidoQuery qidoQuery(const httplib::Request& req, QidoLevel level, const std::string& study, const std::string& series) {
  QidoQuery q;
  q.level = level;
  q.study_uid = study;
  q.series_uid = series;
  q.limit = intParam(req, "limit", kDefaultLimit, kMaxLimit);
  q.offset = intParam(req, "offset", 0, 1000000000);
  for (const auto& [name, value] : req.params) {
    // Every attribute the index holds is returned; includefield cannot ask for more.
    if (name == "limit" || name == "offset" || name == "includefield" || name == "fuzzymatching") continue;
    auto key = qidoKeyNamed(name);
    if (!key)
      throw Error(Errc::InvalidArgument, "'" + name.substr(0, 64) + "' is not a matching key of this service; "
                                         "supported: " + qidoKeyNames() + ", limit, offset, includefield");
    q.matches.push_back({*key, value});
  }
  return q;
}

// The transfer syntaxes an Accept header allows for media type `type` ("application/dicom",
// "application/octet-stream"), as listed, "*" for any; empty when the type is not accepted.
// A type without a transfer-syntax parameter means its default (PS3.18 8.7.3.5.2).
std::vector<std::string> acceptedSyntaxes(const std::string& accept, const std::string& type, const std::string& deflt) {
  if (accept.empty()) return {deflt};
  std::vector<std::string> out;
  std::istringstream in(accept);
  std::string range;
  while (std::getline(in, range, ',')) {
    std::string lower;
    for (char c : range) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool multipart = lower.find("multipart/related") != std::string::npos;
    // multipart/related without a type parameter means the resource's default type.
    bool names_type = multipart ? lower.find("type=\"" + type + "\"") != std::string::npos ||
                                      lower.find("type=" + type) != std::string::npos ||
                                      lower.find("type=") == std::string::npos
                                : lower.find(type) != std::string::npos;
    bool wildcard = lower.find("*/*") != std::string::npos;
    if (!names_type && !wildcard) continue;
    auto ts = lower.find("transfer-syntax=");
    if (ts == std::string::npos) {
      out.push_back(wildcard ? "*" : deflt);
      continue;
    }
    std::string value = range.substr(ts + 16);
    value = value.substr(0, value.find(';'));
    while (!value.empty() && (value.back() == ' ' || value.back() == '"')) value.pop_back();
    while (!value.empty() && (value.front() == ' ' || value.front() == '"')) value.erase(value.begin());
    out.push_back(value);
  }
  return out;
}

bool allows(const std::vector<std::string>& syntaxes, const std::string& stored) {
  for (const auto& s : syntaxes)
    if (s == "*" || s == stored) return true;
  return false;
}

std::vector<QidoRow> instancesOf(DicomWebQueries& queries, const std::string& study, const std::string& series,
                                 const std::string& sop) {
  QidoQuery q;
  q.level = QidoLevel::Instance;
  q.study_uid = study;
  q.series_uid = series;
  if (!sop.empty()) q.matches.push_back({QidoKey::SOPInstanceUID, sop});
  q.limit = kMaxInstancesPerRetrieve;
  return queries.search(q);
}

// A received instance's file lies in the store, a result's in the results folder.
std::optional<std::filesystem::path> fileOf(const RouteContext& routes, const QidoRow& r) {
  return insideRoot(r.from_results ? routes.node.results_root : routes.node.store_root, r.file_path);
}

// WADO-RS: the instances as stored, in one multipart/related; type="application/dicom".
void answerInstances(const RouteContext& routes, DicomWebQueries& queries, const httplib::Request& req,
                     httplib::Response& res, const std::string& study, const std::string& series, const std::string& sop) {
  auto rows = instancesOf(queries, study, series, sop);
  if (rows.empty()) return answerError(res, 404, "no such instance, series or study on this node");
  auto syntaxes = acceptedSyntaxes(req.get_header_value("Accept"), "application/dicom", kExplicitLittleEndian);
  std::vector<std::filesystem::path> files;
  for (const auto& r : rows) {
    if (!allows(syntaxes, r.transfer_syntax_uid))
      return answerError(res, 406, "instance " + r.sop_uid + " is stored in transfer syntax " + r.transfer_syntax_uid +
                                       ", which the Accept header does not allow; ask for transfer-syntax=* (as "
                                       "stored) or that syntax (this node does not transcode)");
    auto path = fileOf(routes, r);
    if (!path) return answerError(res, 404, "instance " + r.sop_uid + " is not on disk");
    files.push_back(*path);
  }
  std::shared_ptr<dicomweb::MultipartBody> body;
  try {
    body = std::make_shared<dicomweb::MultipartBody>(files);
  } catch (const std::filesystem::filesystem_error&) {
    return answerError(res, 404, "an instance's file is not on disk");
  }
  res.status = 200;
  res.set_header("Cache-Control", "no-store");
  res.set_content_provider(static_cast<size_t>(body->size()), body->contentType(),
                           [body, chunk = std::make_shared<std::string>()](size_t offset, size_t length,
                                                                           httplib::DataSink& sink) {
                             if (!body->read(offset, std::min<size_t>(length, 64 * 1024), *chunk)) return false;
                             return sink.write(chunk->data(), chunk->size());
                           });
}

// Where an instance's native little endian pixel data lies in its file, found by the
// guarded reader's header pre-scan; nullopt when it is not native little endian (the
// pixel workers read it) or after answering 404.
struct NativePixels {
  std::filesystem::path file;
  uint64_t offset = 0;
  uint64_t length = 0;
  int64_t frames = 1;
};

bool isNativeLittleEndian(const std::string& syntax) {
  return syntax == kExplicitLittleEndian || syntax == kImplicitLittleEndian;
}

// Compressed pixel data: in fragments a worker can hand out as stored.
bool isEncapsulated(const std::string& syntax) {
  return !isNativeLittleEndian(syntax) && syntax != "1.2.840.10008.1.2.2" && syntax != "1.2.840.10008.1.2.1.99";
}

// The single-part media type PS3.18 (table 8.7.3-2) gives a compressed transfer syntax.
std::string imageMediaType(const std::string& syntax) {
  if (syntax == "1.2.840.10008.1.2.4.80" || syntax == "1.2.840.10008.1.2.4.81") return "image/jls";
  if (syntax == "1.2.840.10008.1.2.4.90" || syntax == "1.2.840.10008.1.2.4.91") return "image/jp2";
  if (syntax == "1.2.840.10008.1.2.4.92" || syntax == "1.2.840.10008.1.2.4.93") return "image/jpx";
  if (syntax == "1.2.840.10008.1.2.5") return "image/x-dicom-rle";
  if (syntax.rfind("1.2.840.10008.1.2.4.", 0) == 0) return "image/jpeg";
  return "";
}

std::optional<NativePixels> nativePixels(const RouteContext& routes, const QidoRow& r, httplib::Response& res) {
  auto path = fileOf(routes, r);
  if (!path) {
    answerError(res, 404, "instance " + r.sop_uid + " is not on disk");
    return std::nullopt;
  }
  if (!r.rows) {
    answerError(res, 404, "instance " + r.sop_uid + " has no pixel data");
    return std::nullopt;
  }
  if (!isNativeLittleEndian(r.transfer_syntax_uid)) return NativePixels{*path, 0, 0, 0};  // frames: 0, not here
  dicom::Structure structure = dicom::checkStructure(*path);  // headers only: the guarded reader's pre-scan
  if (!structure.pixel_data) {
    answerError(res, 404, "instance " + r.sop_uid + " has no pixel data");
    return std::nullopt;
  }
  if (structure.pixel_data->encapsulated || structure.pixel_data->file_offset == 0)  // e.g. deflated
    return NativePixels{*path, 0, 0, 0};
  return NativePixels{*path, structure.pixel_data->file_offset, structure.pixel_data->length,
                      std::max<int64_t>(1, r.number_of_frames.value_or(1))};
}

struct FramePart {
  std::string media_type;  // with its transfer-syntax parameter
  std::string bytes;
};

std::string framePart(const std::string& boundary, const FramePart& part) {
  return "--" + boundary + "\r\nContent-Type: " + part.media_type + "\r\nContent-Length: " +
         std::to_string(part.bytes.size()) + "\r\n\r\n" + part.bytes + "\r\n";
}

void answerFrameParts(httplib::Response& res, const std::string& boundary, const std::vector<FramePart>& parts) {
  std::string body;
  for (const auto& part : parts) body += framePart(boundary, part);
  body += "--" + boundary + "--\r\n";
  const std::string type = parts.empty() ? "application/octet-stream" : parts.front().media_type.substr(0, parts.front().media_type.find(';'));
  res.status = 200;
  res.set_header("Cache-Control", "no-store");
  res.set_content(body, "multipart/related; type=\"" + type + "\"; boundary=" + boundary);
}

// How frames of pixel data not stored native little endian are served: as stored
// (compressed: the frame's fragments) when the Accept header allows the stored syntax,
// decoded to Explicit VR Little Endian when it allows that; both by a pixel worker.
struct WorkerPlan {
  std::string kind;        // "stored" | "decoded"
  std::string media_type;  // of each part
};

std::optional<WorkerPlan> workerPlan(const httplib::Request& req, const std::string& stored, bool decoded_only) {
  const std::string accept = req.get_header_value("Accept");
  const auto octet = acceptedSyntaxes(accept, "application/octet-stream", kExplicitLittleEndian);
  if (isEncapsulated(stored) && !decoded_only) {
    if (allows(octet, stored)) return WorkerPlan{"stored", "application/octet-stream; transfer-syntax=" + stored};
    const std::string image = imageMediaType(stored);
    if (!image.empty() && accept.find(image) != std::string::npos &&
        allows(acceptedSyntaxes(accept, image, stored), stored))
      return WorkerPlan{"stored", image + "; transfer-syntax=" + stored};
  }
  if (allows(octet, kExplicitLittleEndian))
    return WorkerPlan{"decoded", std::string("application/octet-stream; transfer-syntax=") + kExplicitLittleEndian};
  return std::nullopt;
}

// Frames (or, numbers empty, the whole pixel data decoded as one part: bulkdata) read by
// a pixel worker.
void answerFromWorker(const RouteContext& routes, const httplib::Request& req, httplib::Response& res,
                      const QidoRow& r, const std::filesystem::path& file, std::vector<int64_t> numbers,
                      const std::string& boundary) {
  const bool whole = numbers.empty();
  auto plan = workerPlan(req, r.transfer_syntax_uid, whole);
  if (!plan)
    return answerError(res, 406, "the pixel data of " + r.sop_uid + " is stored in transfer syntax " +
                                     r.transfer_syntax_uid + "; ask for it (transfer-syntax=" + r.transfer_syntax_uid +
                                     " or *) or for application/octet-stream in " + kExplicitLittleEndian + " (decoded)");
  if (!routes.node.pixels)
    return answerError(res, 406, "the pixel data of " + r.sop_uid + " is stored in transfer syntax " +
                                     r.transfer_syntax_uid + " and this node runs no pixel workers to read it; "
                                     "retrieve the instance instead");
  if (whole)
    for (int64_t n = 1; n <= std::max<int64_t>(1, r.number_of_frames.value_or(1)); ++n) numbers.push_back(n);
  std::string list;
  for (int64_t n : numbers) list += (list.empty() ? "" : ",") + std::to_string(n);
  auto answer = routes.node.pixels->ask(plan->kind, r.sop_uid, file, {{"frames", list}});
  if (answer.status != 200) {
    if (answer.headers.count("Retry-After")) res.set_header("Retry-After", answer.headers.at("Retry-After"));
    return answerError(res, answer.status, answer.error);
  }
  std::vector<FramePart> parts;
  size_t at = 0;
  const std::string lengths = answer.headers.count("X-Frame-Lengths") ? answer.headers.at("X-Frame-Lengths") : "";
  std::istringstream in(lengths);
  for (std::string n; std::getline(in, n, ',');) {
    const size_t length = std::stoull(n);
    if (at + length > answer.body.size()) return answerError(res, 500, "the pixel worker's answer is cut short");
    if (whole && !parts.empty())
      parts.back().bytes += answer.body.substr(at, length);
    else
      parts.push_back({plan->media_type, answer.body.substr(at, length)});
    at += length;
  }
  answerFrameParts(res, boundary, parts);
}

// WADO-RS frames: native little endian pixel data read here at the offset the pre-scan
// measured, frame by frame; anything else by a pixel worker.
void answerFrames(const RouteContext& routes, DicomWebQueries& queries, const httplib::Request& req,
                  httplib::Response& res, const std::string& study, const std::string& series, const std::string& sop,
                  const std::string& list) {
  auto rows = instancesOf(queries, study, series, sop);
  if (rows.empty()) return answerError(res, 404, "no such instance on this node");
  const QidoRow& r = rows.front();
  std::vector<int64_t> numbers;
  std::istringstream in(list);
  for (std::string n; std::getline(in, n, ',');) {
    if (n.empty() || n.size() > 9 || n.find_first_not_of("0123456789") != std::string::npos || std::stoll(n) < 1)
      return answerError(res, 400, "frame numbers are a comma-separated list of numbers from 1");
    numbers.push_back(std::stoll(n));
  }
  if (numbers.empty() || numbers.size() > 10000) return answerError(res, 400, "ask for 1 to 10000 frames");
  auto pixels = nativePixels(routes, r, res);
  if (!pixels) return;
  const std::string boundary = "volnode-frames-" + r.sop_uid;
  const int64_t frames = std::max<int64_t>(1, r.number_of_frames.value_or(1));
  for (int64_t n : numbers)
    if (n > frames) return answerError(res, 404, "instance " + r.sop_uid + " has " + std::to_string(frames) + " frame(s)");
  if (pixels->frames == 0) return answerFromWorker(routes, req, res, r, pixels->file, numbers, boundary);
  auto syntaxes = acceptedSyntaxes(req.get_header_value("Accept"), "application/octet-stream", kExplicitLittleEndian);
  if (!allows(syntaxes, kExplicitLittleEndian) && !allows(syntaxes, r.transfer_syntax_uid))
    return answerError(res, 406, "frames of " + r.sop_uid + " are stored uncompressed (transfer syntax " +
                                     r.transfer_syntax_uid + "): ask for application/octet-stream in " +
                                     kExplicitLittleEndian + " (this node does not compress)");
  uint64_t frame_bytes = pixels->length / static_cast<uint64_t>(pixels->frames);
  std::ifstream file(pixels->file, std::ios::binary);
  std::vector<FramePart> parts;
  for (int64_t n : numbers) {
    std::string bytes(frame_bytes, '\0');
    file.seekg(static_cast<std::streamoff>(pixels->offset + (n - 1) * frame_bytes));
    file.read(bytes.data(), static_cast<std::streamsize>(frame_bytes));
    if (file.gcount() != static_cast<std::streamsize>(frame_bytes)) return answerError(res, 500, "the file is shorter than its pixel data");
    parts.push_back({std::string("application/octet-stream; transfer-syntax=") + kExplicitLittleEndian, std::move(bytes)});
  }
  answerFrameParts(res, boundary, parts);
}

// WADO-RS bulkdata of Pixel Data (the metadata's BulkDataURI): every frame in one
// application/octet-stream part, native little endian read here, anything else
// decoded by a pixel worker.
void answerPixelBulkData(const RouteContext& routes, DicomWebQueries& queries, const httplib::Request& req,
                         httplib::Response& res, const std::string& study, const std::string& series,
                         const std::string& sop) {
  auto rows = instancesOf(queries, study, series, sop);
  if (rows.empty()) return answerError(res, 404, "no such instance on this node");
  const QidoRow& r = rows.front();
  auto pixels = nativePixels(routes, r, res);
  if (!pixels) return;
  const std::string boundary = "volnode-bulkdata-" + sop;
  auto syntaxes = acceptedSyntaxes(req.get_header_value("Accept"), "application/octet-stream", kExplicitLittleEndian);
  if (pixels->frames == 0) {
    if (!allows(syntaxes, kExplicitLittleEndian))  // bulkdata is decoded, never as stored
      return answerError(res, 406, "bulkdata of " + r.sop_uid + " (stored in transfer syntax " + r.transfer_syntax_uid +
                                       ") is served decoded only: ask for application/octet-stream in " +
                                       kExplicitLittleEndian + ", or for its frames as stored");
    return answerFromWorker(routes, req, res, r, pixels->file, {}, boundary);
  }
  if (!allows(syntaxes, kExplicitLittleEndian) && !allows(syntaxes, r.transfer_syntax_uid))
    return answerError(res, 406, "bulkdata of " + r.sop_uid + " (transfer syntax " + r.transfer_syntax_uid +
                                     ") is served only uncompressed little endian as application/octet-stream");
  std::string bytes(pixels->length, '\0');
  std::ifstream file(pixels->file, std::ios::binary);
  file.seekg(static_cast<std::streamoff>(pixels->offset));
  file.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (file.gcount() != static_cast<std::streamsize>(bytes.size()))
    return answerError(res, 500, "the file is shorter than its pixel data");
  answerFrameParts(res, boundary, {{std::string("application/octet-stream; transfer-syntax=") + kExplicitLittleEndian,
                                    std::move(bytes)}});
}

// WADO-RS rendered (PS3.18 8.3.5): one frame as JPEG or PNG, windowed and fitted into a
// viewport, made by a pixel worker. An instance of several frames is rendered per frame.
void answerRendered(const RouteContext& routes, DicomWebQueries& queries, const httplib::Request& req,
                    httplib::Response& res, const std::string& study, const std::string& series,
                    const std::string& sop, const std::string& frame) {
  auto rows = instancesOf(queries, study, series, sop);
  if (rows.empty()) return answerError(res, 404, "no such instance on this node");
  const QidoRow& r = rows.front();
  const int64_t frames = std::max<int64_t>(1, r.number_of_frames.value_or(1));
  if (!r.rows) return answerError(res, 404, "instance " + r.sop_uid + " has no pixel data to render");
  if (frame.empty() && frames > 1)
    return answerError(res, 406, "instance " + r.sop_uid + " has " + std::to_string(frames) +
                                     " frames; ask for one: .../frames/{n}/rendered");
  if (!frame.empty() && (frame.size() > 9 || std::stoll(frame) < 1 || std::stoll(frame) > frames))
    return answerError(res, 404, "instance " + r.sop_uid + " has " + std::to_string(frames) + " frame(s)");
  // The media type: image/jpeg (the default) or image/png, first acceptable in the header's order.
  std::string accept = req.get_header_value("Accept");
  for (auto& c : accept) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto jpeg = accept.find("image/jpeg"), png = accept.find("image/png");
  const bool any = accept.empty() || accept.find("*/*") != std::string::npos || accept.find("image/*") != std::string::npos;
  if (jpeg == std::string::npos && png == std::string::npos && !any)
    return answerError(res, 406, "rendered images are image/jpeg or image/png");
  const bool as_png = png != std::string::npos && (jpeg == std::string::npos || png < jpeg);

  std::map<std::string, std::string> params{{"frame", frame.empty() ? "1" : frame}, {"png", as_png ? "1" : "0"}};
  // The first `count` (all: SIZE_MAX) comma-separated values of a parameter, as numbers.
  auto numbersOf = [&](const char* name, size_t min, size_t max, size_t count = SIZE_MAX) {
    std::vector<double> out;
    std::istringstream in(req.get_param_value(name));
    for (std::string v; out.size() < count && std::getline(in, v, ',');) {
      try {
        size_t used = 0;
        out.push_back(std::stod(v, &used));
        if (used != v.size()) throw std::invalid_argument(v);
      } catch (const std::exception&) {
        throw Error(Errc::InvalidArgument, std::string(name) + "=" + req.get_param_value(name).substr(0, 40) +
                                               ": expected numbers separated by commas");
      }
    }
    if (out.size() < min || out.size() > max)
      throw Error(Errc::InvalidArgument, std::string(name) + " takes " + std::to_string(min) + " to " +
                                             std::to_string(max) + " values");
    return out;
  };
  for (const auto& [name, value] : req.params)
    if (name != "window" && name != "viewport" && name != "quality")
      return answerError(res, 400, "'" + name.substr(0, 40) + "' is not a parameter of rendered resources here; "
                                                              "supported: window, viewport, quality");
  if (req.has_param("window")) {
    // window=center,width[,function]: the linear function only (what DCMTK's VOI window applies).
    std::vector<std::string> parts;
    std::istringstream in(req.get_param_value("window"));
    for (std::string v; std::getline(in, v, ',');) parts.push_back(v);
    if (parts.size() == 3 && parts[2] != "linear")
      return answerError(res, 400, "window function '" + parts[2].substr(0, 20) + "': only linear is supported");
    const auto w = numbersOf("window", 2, 3, parts.size() == 3 ? 2 : parts.size());
    if (w[1] <= 0) return answerError(res, 400, "window width must be above 0");
    params["window_center"] = parts[0];
    params["window_width"] = parts[1];
  }
  if (req.has_param("viewport")) {
    const auto v = numbersOf("viewport", 2, 2);  // vw,vh: the source rectangle is not supported
    if (v[0] < 1 || v[1] < 1 || v[0] > 4096 || v[1] > 4096)
      return answerError(res, 400, "viewport width and height are 1 to 4096");
    params["viewport_columns"] = std::to_string(static_cast<int>(v[0]));
    params["viewport_rows"] = std::to_string(static_cast<int>(v[1]));
  }
  if (req.has_param("quality")) {
    const auto q = numbersOf("quality", 1, 1);
    if (q[0] < 1 || q[0] > 100) return answerError(res, 400, "quality is 1 to 100");
    params["quality"] = std::to_string(static_cast<int>(q[0]));
  }
  auto path = fileOf(routes, r);
  if (!path) return answerError(res, 404, "instance " + r.sop_uid + " is not on disk");
  if (!routes.node.pixels)
    return answerError(res, 406, "rendered images are made by pixel workers, which this node does not run");
  auto answer = routes.node.pixels->ask("rendered", r.sop_uid, *path, params);
  if (answer.status != 200) {
    if (answer.headers.count("Retry-After")) res.set_header("Retry-After", answer.headers.at("Retry-After"));
    return answerError(res, answer.status, answer.error);
  }
  res.status = 200;
  res.set_header("Cache-Control", "no-store");
  res.set_content(answer.body, answer.content_type);
}

// One resource at the study, series and instance levels (`levels` 3), or at the study
// and series levels only (2): /dicom-web/studies/{s}[/series/{se}[/instances/{i}]]{suffix}.
// The handler gets the path's UIDs, "" for the levels the path does not name.
using LevelHandler = std::function<void(const httplib::Request&, httplib::Response&, const std::string& study,
                                        const std::string& series, const std::string& sop)>;

void onEachLevel(httplib::Server& server, const std::string& suffix, int levels, LevelHandler handler) {
  const std::string uid = "([0-9.]{1,64})";
  std::string path = "/dicom-web/studies/" + uid;
  for (const char* level : {"", "/series/", "/instances/"}) {
    if (levels-- == 0) break;
    if (*level) path += level + uid;
    server.Get(path + suffix, [handler](const httplib::Request& req, httplib::Response& res) {
      auto match = [&](size_t i) { return req.matches.size() > i ? std::string(req.matches[i]) : std::string(); };
      handler(req, res, match(1), match(2), match(3));
    });
  }
}

}  // namespace

void addDicomWebRoutes(httplib::Server& server, RouteContext& routes) {
  auto queries = std::make_shared<DicomWebQueries>(routes.node.index.location(), routes.node.results_root);
  const std::string uid = "([0-9.]{1,64})";

  // QIDO-RS
  server.Get("/dicom-web/studies", [queries](const httplib::Request& req, httplib::Response& res) {
    json out = json::array();
    for (const auto& r : queries->search(qidoQuery(req, QidoLevel::Study, "", ""))) out.push_back(studyJson(r));
    answerDicomJson(res, out);
  });
  server.Get("/dicom-web/series", [queries](const httplib::Request& req, httplib::Response& res) {
    json out = json::array();
    for (const auto& r : queries->search(qidoQuery(req, QidoLevel::Series, "", ""))) {
      json item = studyJson(r);
      const json series = seriesJson(r);
      for (const auto& [tag, value] : series.items()) item[tag] = value;
      out.push_back(item);
    }
    answerDicomJson(res, out);
  });
  server.Get("/dicom-web/instances", [queries](const httplib::Request& req, httplib::Response& res) {
    json out = json::array();
    for (const auto& r : queries->search(qidoQuery(req, QidoLevel::Instance, "", ""))) {
      json item = studyJson(r);
      const json series = seriesJson(r), instance = instanceJson(r);
      for (const auto& [tag, value] : series.items()) item[tag] = value;
      for (const auto& [tag, value] : instance.items()) item[tag] = value;
      out.push_back(item);
    }
    answerDicomJson(res, out);
  });
  server.Get("/dicom-web/studies/" + uid + "/series", [queries](const httplib::Request& req, httplib::Response& res) {
    json out = json::array();
    for (const auto& r : queries->search(qidoQuery(req, QidoLevel::Series, req.matches[1], ""))) out.push_back(seriesJson(r));
    answerDicomJson(res, out);
  });
  onEachLevel(server, "/instances", 2,
              [queries](const httplib::Request& req, httplib::Response& res, const std::string& study,
                        const std::string& series, const std::string&) {
                json out = json::array();
                for (const auto& r : queries->search(qidoQuery(req, QidoLevel::Instance, study, series)))
                  out.push_back(instanceJson(r));
                answerDicomJson(res, out);
              });

  // WADO-RS: instances, metadata, frames, bulkdata
  onEachLevel(server, "", 3,
              [&routes, queries](const httplib::Request& req, httplib::Response& res, const std::string& study,
                                 const std::string& series, const std::string& sop) {
                answerInstances(routes, *queries, req, res, study, series, sop);
              });
  onEachLevel(server, "/metadata", 3,
              [queries](const httplib::Request& req, httplib::Response& res, const std::string& study,
                        const std::string& series, const std::string& sop) {
                auto rows = instancesOf(*queries, study, series, sop);
                if (rows.empty()) return answerError(res, 404, "no such instance, series or study on this node");
                json out = json::array();
                for (const auto& r : rows) out.push_back(metadataJson(r));
                answerDicomJson(res, out);
              });
  server.Get("/dicom-web/studies/" + uid + "/series/" + uid + "/instances/" + uid + "/bulkdata/7FE00010",
             [&routes, queries](const httplib::Request& req, httplib::Response& res) {
               answerPixelBulkData(routes, *queries, req, res, req.matches[1], req.matches[2], req.matches[3]);
             });
  server.Get("/dicom-web/studies/" + uid + "/series/" + uid + "/instances/" + uid + "/rendered",
             [&routes, queries](const httplib::Request& req, httplib::Response& res) {
               answerRendered(routes, *queries, req, res, req.matches[1], req.matches[2], req.matches[3], "");
             });
  server.Get("/dicom-web/studies/" + uid + "/series/" + uid + "/instances/" + uid + "/frames/([0-9]{1,9})/rendered",
             [&routes, queries](const httplib::Request& req, httplib::Response& res) {
               answerRendered(routes, *queries, req, res, req.matches[1], req.matches[2], req.matches[3], req.matches[4]);
             });
  server.Get("/dicom-web/studies/" + uid + "/series/" + uid + "/instances/" + uid + "/frames/([0-9,]{1,200})",
             [&routes, queries](const httplib::Request& req, httplib::Response& res) {
               answerFrames(routes, *queries, req, res, req.matches[1], req.matches[2], req.matches[3], req.matches[4]);
             });
}

}  // namespace volnode::console
