#include "reliability_support.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <dcmtk/dcmdata/dcfilefo.h>

#include "support/dicom_files.hpp"
#include "support/suite_index.hpp"
#include "support/synthetic_series.hpp"

namespace volnode::test::reliability {

std::filesystem::path storageDir(const NodeProcess& node) { return node.dir() / "var"; }
std::filesystem::path storeDir(const NodeProcess& node) { return storageDir(node) / "store"; }

namespace {
std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}
}  // namespace

std::vector<IndexedInstance> indexedInstances(const std::filesystem::path& storage_dir) {
  std::vector<IndexedInstance> out;
  for (const auto& line : lines(suiteIndexQuery(storage_dir, "SELECT sop_uid, file_path FROM instances"))) {
    auto bar = line.find('|');
    if (bar == std::string::npos) continue;
    out.push_back({line.substr(0, bar), line.substr(bar + 1)});
  }
  return out;
}

std::vector<std::string> fileSlots(const std::filesystem::path& storage_dir) {
  return lines(suiteIndexQuery(storage_dir, "SELECT path FROM file_slots"));
}

bool parsesCompletely(const std::filesystem::path& file, std::string* why) {
  DcmFileFormat format;
  OFCondition status = format.loadFile(file.c_str());
  if (status.bad() && why) *why = status.text();
  return status.good();
}

std::optional<std::chrono::milliseconds> echo(const NodeProcess& node, std::chrono::seconds timeout) {
  auto started = std::chrono::steady_clock::now();
  auto result = run(node.scu("echoscu", {"-to", "5", "-ta", "5", "-td", "5"}), timeout);
  if (result.exit_code != 0) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
}

std::string orthancStudyId(const OrthancProcess& orthanc, const std::string& study_uid) {
  auto response = orthanc.post("/tools/lookup", study_uid, "text/plain");
  if (response.status != 200) return {};
  auto found = nlohmann::json::parse(response.body, nullptr, false);
  if (!found.is_array()) return {};
  for (const auto& item : found)
    if (item.value("Type", "") == "Study") return item.value("ID", "");
  return {};
}

std::vector<std::string> orthancSopUids(const OrthancProcess& orthanc, const std::string& study_uid) {
  std::vector<std::string> out;
  std::string id = orthancStudyId(orthanc, study_uid);
  if (id.empty()) return out;
  auto response = orthanc.get("/studies/" + id + "/instances");
  if (response.status != 200) return out;
  auto list = nlohmann::json::parse(response.body, nullptr, false);
  if (!list.is_array()) return out;
  for (const auto& instance : list)
    out.push_back(instance["MainDicomTags"].value("SOPInstanceUID", ""));
  return out;
}

long residentKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

pid_t nodePid(const NodeProcess& node) {
  auto pidIn = [](const std::filesystem::path& lock) {
    std::ifstream in(lock);
    long pid = 0;
    in >> pid;
    return static_cast<pid_t>(pid);
  };
  if (pid_t pid = pidIn(storageDir(node) / "volnode.lock"); pid > 0) return pid;
  // On PostgreSQL the store's lock is shared and each node writes its pid into its own
  // nodes/<node>.lock (one node per storage folder in these tests).
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(storageDir(node) / "nodes", ec))
    if (pid_t pid = pidIn(e.path()); pid > 0) return pid;
  return 0;
}

// ---- raw upper layer -------------------------------------------------------------------------

int connectLoopback(int port, const std::string& from) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in source{};
  source.sin_family = AF_INET;
  if (::inet_pton(AF_INET, from.c_str(), &source.sin_addr) != 1 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&source), sizeof source) != 0) {
    ::close(fd);
    return -1;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  int yes = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
  return fd;
}

bool closedByPeer(int fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return false;
    ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n == 0) return true;                                      // orderly close
    if (n < 0 && errno != EAGAIN && errno != EINTR) return true;  // reset
    // Bytes (an A-ABORT or A-ASSOCIATE-RJ): keep reading until the close.
  }
}

namespace {

void put16(std::string& out, uint16_t v) {
  out.push_back(char(v >> 8));
  out.push_back(char(v & 0xFF));
}
void put32(std::string& out, uint32_t v) {
  put16(out, uint16_t(v >> 16));
  put16(out, uint16_t(v & 0xFFFF));
}
std::string aeField(const std::string& aet) {
  std::string s = aet.substr(0, 16);
  s.resize(16, ' ');
  return s;
}
std::string item(uint8_t type, const std::string& body) {
  std::string out;
  out.push_back(char(type));
  out.push_back(0);
  put16(out, uint16_t(body.size()));
  return out + body;
}
// Implicit VR little endian element of the command set.
void putLe16(std::string& out, uint16_t v) {
  out.push_back(char(v & 0xFF));
  out.push_back(char(v >> 8));
}
void putLe32(std::string& out, uint32_t v) {
  putLe16(out, uint16_t(v & 0xFFFF));
  putLe16(out, uint16_t(v >> 16));
}
void commandElement(std::string& out, uint16_t element, const std::string& value) {
  putLe16(out, 0x0000);
  putLe16(out, element);
  putLe32(out, uint32_t(value.size()));
  out += value;
}
std::string uidValue(const std::string& uid) {
  std::string v = uid;
  if (v.size() % 2) v.push_back('\0');
  return v;
}
std::string us(uint16_t v) {
  std::string s;
  putLe16(s, v);
  return s;
}

}  // namespace

std::string associateRequestPdu(const std::string& called_aet, const std::string& calling_aet,
                                const std::string& abstract_syntax, const std::string& transfer_syntax) {
  std::string body;
  put16(body, 1);  // protocol version
  put16(body, 0);
  body += aeField(called_aet) + aeField(calling_aet) + std::string(32, '\0');
  body += item(0x10, "1.2.840.10008.3.1.1.1");
  std::string context;
  context.push_back(1);  // presentation context id
  context += std::string(3, '\0');
  context += item(0x30, abstract_syntax) + item(0x40, transfer_syntax);
  body += item(0x20, context);
  std::string max_length;
  put32(max_length, 16384);
  body += item(0x50, item(0x51, max_length) + item(0x52, "1.2.826.0.1.3680043.9.7433.1"));
  std::string pdu;
  pdu.push_back(0x01);
  pdu.push_back(0);
  put32(pdu, uint32_t(body.size()));
  return pdu + body;
}

RawAssociation::~RawAssociation() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawAssociation::sendAll(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error_ = std::string("send: ") + std::strerror(errno);
      return false;
    }
    sent += size_t(n);
  }
  return true;
}

bool RawAssociation::readPdu(std::string& pdu, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto readExactly = [&](size_t count, std::string& out) {
    out.clear();
    while (out.size() < count) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        error_ = "timed out waiting for the node";
        return false;
      }
      pollfd p{fd_, POLLIN, 0};
      int ready = ::poll(&p, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) continue;
      char buffer[65536];
      ssize_t n = ::recv(fd_, buffer, std::min(sizeof buffer, count - out.size()), 0);
      if (n <= 0) {
        error_ = "connection closed by the node";
        return false;
      }
      out.append(buffer, size_t(n));
    }
    return true;
  };
  std::string head, body;
  if (!readExactly(6, head)) return false;
  uint32_t length = (uint32_t(uint8_t(head[2])) << 24) | (uint32_t(uint8_t(head[3])) << 16) |
                    (uint32_t(uint8_t(head[4])) << 8) | uint32_t(uint8_t(head[5]));
  if (!readExactly(length, body)) return false;
  pdu = head + body;
  return true;
}

bool RawAssociation::open(int port, const std::string& abstract_syntax, const std::string& transfer_syntax,
                          const std::string& called_aet, const std::string& calling_aet,
                          std::chrono::milliseconds timeout, const std::string& from) {
  fd_ = connectLoopback(port, from);
  if (fd_ < 0) {
    error_ = "cannot connect";
    return false;
  }
  if (!sendAll(associateRequestPdu(called_aet, calling_aet, abstract_syntax, transfer_syntax))) return false;
  std::string pdu;
  if (!readPdu(pdu, timeout)) return false;
  if (pdu[0] != 0x02) {
    error_ = "association not accepted (PDU type " + std::to_string(int(uint8_t(pdu[0]))) + ")";
    return false;
  }
  // Variable items after the 74-byte fixed part: find presentation context result (0x21).
  size_t pos = 74;
  while (pos + 4 <= pdu.size()) {
    uint8_t type = uint8_t(pdu[pos]);
    size_t length = (size_t(uint8_t(pdu[pos + 2])) << 8) | uint8_t(pdu[pos + 3]);
    if (type == 0x21 && pos + 8 <= pdu.size()) {
      if (uint8_t(pdu[pos + 6]) == 0) return true;
      error_ = "presentation context refused (" + std::to_string(int(uint8_t(pdu[pos + 6]))) + ")";
      return false;
    }
    pos += 4 + length;
  }
  error_ = "no presentation context result";
  return false;
}

std::string RawAssociation::storeCommandPdu(const std::string& sop_class, const std::string& sop_instance) {
  std::string elements;
  commandElement(elements, 0x0002, uidValue(sop_class));
  commandElement(elements, 0x0100, us(0x0001));
  commandElement(elements, 0x0110, us(uint16_t(message_id_++)));
  commandElement(elements, 0x0700, us(0));
  commandElement(elements, 0x0800, us(0x0000));
  commandElement(elements, 0x1000, uidValue(sop_instance));
  std::string command;
  std::string group_length;
  putLe32(group_length, uint32_t(elements.size()));
  commandElement(command, 0x0000, group_length);
  command += elements;
  return pDataPdu(command, 0x03);
}

std::string RawAssociation::pDataPdu(const std::string& data, uint8_t control) {
  std::string value;
  put32(value, uint32_t(data.size() + 2));
  value.push_back(1);  // presentation context id
  value.push_back(char(control));
  value += data;
  std::string pdu;
  pdu.push_back(0x04);
  pdu.push_back(0);
  put32(pdu, uint32_t(value.size()));
  return pdu + value;
}

int RawAssociation::store(const std::string& sop_class, const std::string& sop_instance, const std::string& dataset,
                          std::chrono::milliseconds timeout) {
  if (!sendAll(storeCommandPdu(sop_class, sop_instance))) return -1;
  constexpr size_t kFragment = 16000;
  if (dataset.empty() && !sendAll(pDataPdu("", 0x02))) return -1;
  for (size_t at = 0; at < dataset.size(); at += kFragment) {
    bool last = at + kFragment >= dataset.size();
    if (!sendAll(pDataPdu(dataset.substr(at, kFragment), last ? 0x02 : 0x00))) return -1;
  }
  // The response command: P-DATA-TF PDUs until a command fragment marked last.
  std::string response;
  while (true) {
    std::string pdu;
    if (!readPdu(pdu, timeout)) return -1;
    if (pdu[0] != 0x04) {
      error_ = "node answered PDU type " + std::to_string(int(uint8_t(pdu[0])));
      return -1;
    }
    size_t pos = 6;
    bool last = false;
    while (pos + 6 <= pdu.size()) {
      size_t length = (size_t(uint8_t(pdu[pos])) << 24) | (size_t(uint8_t(pdu[pos + 1])) << 16) |
                      (size_t(uint8_t(pdu[pos + 2])) << 8) | uint8_t(pdu[pos + 3]);
      uint8_t control = uint8_t(pdu[pos + 5]);
      response += pdu.substr(pos + 6, length - 2);
      if ((control & 0x01) && (control & 0x02)) last = true;
      pos += 4 + length;
    }
    if (last) break;
  }
  // Find (0000,0900) Status.
  size_t pos = 0;
  while (pos + 8 <= response.size()) {
    uint16_t element = uint16_t(uint8_t(response[pos + 2]) | (uint8_t(response[pos + 3]) << 8));
    uint32_t length = uint32_t(uint8_t(response[pos + 4])) | (uint32_t(uint8_t(response[pos + 5])) << 8) |
                      (uint32_t(uint8_t(response[pos + 6])) << 16) | (uint32_t(uint8_t(response[pos + 7])) << 24);
    if (element == 0x0900 && length == 2 && pos + 10 <= response.size())
      return int(uint8_t(response[pos + 8]) | (uint8_t(response[pos + 9]) << 8));
    pos += 8 + length;
  }
  error_ = "no status in the response";
  return -1;
}

void RawAssociation::release() {
  if (fd_ < 0) return;
  std::string pdu{char(0x05), char(0)};
  put32(pdu, 4);
  pdu += std::string(4, '\0');
  if (sendAll(pdu)) {
    std::string reply;
    readPdu(reply, 3000ms);
  }
  ::close(fd_);
  fd_ = -1;
}

// ---- kill -9 while storescu streams ------------------------------------------------------------

KilledStream killWhileStreaming(NodeProcess& node, const std::filesystem::path& source, int slices,
                                const std::string& description, std::mt19937& random) {
  KilledStream result;
  SyntheticSeries s;
  s.slices = slices;
  s.series_description = description;
  auto written = writeSyntheticSeries(s, source);
  result.series_uid = written.series_instance_uid;
  for (const auto& f : written.files) result.uid_of[f.string()] = sopInstanceUid(f);

  const int kill_after = std::uniform_int_distribution<int>(0, slices - 1)(random);
  const auto extra = std::chrono::microseconds(std::uniform_int_distribution<int>(0, 15000)(random));
  const auto log = source.parent_path() / (source.filename().string() + "-storescu.log");
  auto argv = node.scu("storescu", {"-v", "+sd", "-nh"});
  argv.push_back(source.string());
  ChildProcess storescu(argv, log);
  auto read_log = [&] {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (responsesWith(read_log(), "Success") < kill_after && storescu.running() &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(extra);
  result.mid_stream = storescu.running();
  node.kill9();
  storescu.wait(20s);
  storescu.kill9();
  for (const auto& file : acknowledgedFiles(read_log())) {
    auto found = result.uid_of.find(file);
    if (found == result.uid_of.end()) {
      result.error = "storescu acknowledged an unknown file " + file;
      return result;
    }
    result.acknowledged.insert(found->second);
  }
  return result;
}

}  // namespace volnode::test::reliability
