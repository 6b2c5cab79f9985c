#include "volnode/core/config.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <fstream>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "volnode/core/error.hpp"

namespace volnode {
namespace {

const char* const kDefaultConfig =
#include "default_config.inc"
    ;

// Keys that were renamed: old name -> current name. The old one still works, with a warning.
const std::map<std::string, std::string> kRenamedKeys = {
    {"dicom.tls_verify_peers", "dicom.tls_verify_peer"},
};

// Where a value came from, for messages: "etc/volnode.toml:12" or "--set dicom.port".
struct Origin {
  std::string source;
  std::set<std::string> overridden;
  std::vector<std::string> renamed_overrides;  // warnings for --set of an old key name

  std::string of(const toml::node& node, const std::string& key) const {
    if (overridden.count(key)) return "--set " + key;
    auto line = node.source().begin.line;
    return line > 0 ? source + ":" + std::to_string(line) : source;
  }
};

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw Error(Errc::InvalidConfig, where + ": " + what);
}

using Setter = std::function<void(const toml::node&, const std::string& key, const Origin&)>;

struct Field {
  Setter set;
};

Setter stringField(std::string& target) {
  return [&target](const toml::node& node, const std::string& key, const Origin& origin) {
    auto value = node.value<std::string>();
    if (!node.is_string() || !value) fail(origin.of(node, key), key + " must be a string");
    target = *value;
  };
}

// A dotted IPv4 address (the DICOM listener binds to one; names would need a resolver
// at start-up and could change under a running node).
Setter ipv4Field(std::string& target) {
  return [&target](const toml::node& node, const std::string& key, const Origin& origin) {
    auto value = node.value<std::string>();
    in_addr address{};
    if (!node.is_string() || !value || ::inet_pton(AF_INET, value->c_str(), &address) != 1)
      fail(origin.of(node, key), key + " must be an IPv4 address such as \"0.0.0.0\" (every interface) or " +
                                     "\"127.0.0.1\" (this host only)" + (value ? ", not \"" + *value + "\"" : ""));
    target = *value;
  };
}

Setter enumField(std::string& target, std::vector<std::string> allowed) {
  return [&target, allowed](const toml::node& node, const std::string& key, const Origin& origin) {
    auto value = node.value<std::string>();
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    if (!node.is_string() || !value) fail(origin.of(node, key), key + " must be one of: " + list);
    for (const auto& a : allowed)
      if (a == *value) {
        target = *value;
        return;
      }
    fail(origin.of(node, key), key + " = \"" + *value + "\" is not allowed; use one of: " + list);
  };
}

template <typename T>
Setter integerField(T& target, int64_t min, int64_t max) {
  return [&target, min, max](const toml::node& node, const std::string& key, const Origin& origin) {
    // Only an integer node is converted: toml++'s value<int64_t>() of a float casts it
    // unchecked, which is undefined for 1e308 (found by fuzz_config).
    auto value = node.is_integer() ? node.value<int64_t>() : std::nullopt;
    if (!value)
      fail(origin.of(node, key), key + " must be an integer between " + std::to_string(min) + " and " +
                                     std::to_string(max));
    if (*value < min || *value > max)
      fail(origin.of(node, key), key + " = " + std::to_string(*value) + " is out of range; allowed " +
                                     std::to_string(min) + ".." + std::to_string(max));
    target = static_cast<T>(*value);
  };
}

Setter numberField(double& target, double min, double max) {
  return [&target, min, max](const toml::node& node, const std::string& key, const Origin& origin) {
    auto value = node.value<double>();  // integers convert too
    std::ostringstream range;
    range << min << ".." << max;
    if (!(node.is_floating_point() || node.is_integer()) || !value)
      fail(origin.of(node, key), key + " must be a number in " + range.str());
    if (*value < min || *value > max)
      fail(origin.of(node, key), key + " is out of range; allowed " + range.str());
    target = *value;
  };
}

Setter boolField(bool& target) {
  return [&target](const toml::node& node, const std::string& key, const Origin& origin) {
    auto value = node.value<bool>();
    if (!node.is_boolean() || !value) fail(origin.of(node, key), key + " must be true or false");
    target = *value;
  };
}

Setter stringListField(std::vector<std::string>& target) {
  return [&target](const toml::node& node, const std::string& key, const Origin& origin) {
    const auto* array = node.as_array();
    if (!array) fail(origin.of(node, key), key + " must be a list of strings");
    target.clear();
    for (const auto& item : *array) {
      auto value = item.value<std::string>();
      if (!item.is_string() || !value) fail(origin.of(item, key), key + " must be a list of strings");
      target.push_back(*value);
    }
  };
}

// A shared secret: "" (not set) or at least `min_length` characters. The value is
// never repeated in the message.
Setter secretField(std::string& target, size_t min_length) {
  return [&target, min_length](const toml::node& node, const std::string& key, const Origin& origin) {
    auto value = node.value<std::string>();
    if (!node.is_string() || !value) fail(origin.of(node, key), key + " must be a string");
    if (!value->empty() && value->size() < min_length)
      fail(origin.of(node, key), key + " is " + std::to_string(value->size()) + " characters long; it must be \"\" (off) or at least " +
                                     std::to_string(min_length) + " characters (e.g. the output of: openssl rand -hex 24)");
    target = *value;
  };
}

// A host name as a browser sends it in the Host header, without the port: a DNS
// name (letters, digits, '-', labels joined by '.'), an IPv4 address or an IPv6
// address in brackets.
bool plausibleHostName(const std::string& host) {
  if (host.empty() || host.size() > 253) return false;
  if (host.front() == '[') {
    if (host.size() < 4 || host.back() != ']') return false;
    for (size_t i = 1; i + 1 < host.size(); ++i) {
      char c = host[i];
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) return false;
    }
    return host.find(':') != std::string::npos;
  }
  size_t label = 0;
  for (size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      if (label == 0 || label > 63 || host[i - 1] == '-' || host[i - label] == '-') return false;
      label = 0;
      continue;
    }
    char c = host[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-')) return false;
    ++label;
  }
  return true;
}

Setter hostListField(std::vector<std::string>& target) {
  return [&target](const toml::node& node, const std::string& key, const Origin& origin) {
    const std::string allowed = key + " must be a list of host names without port, e.g. [\"volnode.hospital.local\", "
                                      "\"10.1.2.3\", \"[fd00::5]\"]";
    const auto* array = node.as_array();
    if (!array) fail(origin.of(node, key), allowed);
    target.clear();
    for (const auto& item : *array) {
      auto value = item.value<std::string>();
      if (!item.is_string() || !value) fail(origin.of(item, key), allowed);
      if (!plausibleHostName(*value))
        fail(origin.of(item, key), key + ": \"" + *value + "\" is not a host name; " + allowed);
      std::string lower = *value;
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      target.push_back(lower);
    }
  };
}

// [[dicom.allowed_peers]] aet = "PACS", host = "10.0.0.5"  (or an inline array of tables)
Setter peerListField(std::vector<PeerRule>& target) {
  return [&target](const toml::node& node, const std::string& key, const Origin& origin) {
    const auto* array = node.as_array();
    const std::string allowed = key + " must be a list of { aet = \"...\", host = \"...\" }";
    if (!array) fail(origin.of(node, key), allowed);
    target.clear();
    for (const auto& item : *array) {
      const auto* table = item.as_table();
      if (!table) fail(origin.of(item, key), allowed);
      PeerRule rule;
      for (const auto& [name, value] : *table) {
        auto text = value.value<std::string>();
        if (!value.is_string() || !text) fail(origin.of(value, key), allowed);
        if (name == "aet") rule.aet = *text;
        else if (name == "host") rule.host = *text;
        else fail(origin.of(value, key), "unknown key '" + std::string(name.str()) + "' in " + key + "; " + allowed);
      }
      if (rule.aet.empty() || rule.host.empty()) fail(origin.of(item, key), allowed);
      target.push_back(rule);
    }
  };
}

std::map<std::string, Field> sectionFields(Config& c) {
  return {
      {"dicom.aet", {stringField(c.dicom.aet)}},
      {"dicom.bind", {ipv4Field(c.dicom.bind)}},
      {"dicom.port", {integerField(c.dicom.port, 1, 65535)}},
      {"dicom.max_associations", {integerField(c.dicom.max_associations, 1, 256)}},
      {"dicom.max_associations_per_host", {integerField(c.dicom.max_associations_per_host, 0, 256)}},
      {"dicom.max_pdu", {integerField(c.dicom.max_pdu, 4096, 4194304)}},
      {"dicom.max_instance_mb", {integerField(c.dicom.max_instance_mb, 0, 1048576)}},
      {"dicom.acse_timeout_s", {integerField(c.dicom.acse_timeout_s, 1, 3600)}},
      {"dicom.dimse_timeout_s", {integerField(c.dicom.dimse_timeout_s, 1, 3600)}},
      {"dicom.idle_timeout_s", {integerField(c.dicom.idle_timeout_s, 1, 86400)}},
      {"dicom.min_receive_kib_per_s", {integerField(c.dicom.min_receive_kib_per_s, 0, 1048576)}},
      {"dicom.allowed_peers", {peerListField(c.dicom.allowed_peers)}},
      {"dicom.check_called_aet", {boolField(c.dicom.check_called_aet)}},
      {"dicom.tls", {boolField(c.dicom.tls)}},
      {"dicom.tls_cert", {stringField(c.dicom.tls_cert)}},
      {"dicom.tls_key", {stringField(c.dicom.tls_key)}},
      {"dicom.tls_ca", {stringField(c.dicom.tls_ca)}},
      {"dicom.tls_crl", {stringField(c.dicom.tls_crl)}},
      {"dicom.tls_verify_peer", {enumField(c.dicom.tls_verify_peer, {"require", "check", "ignore"})}},
      {"storage.dir", {stringField(c.storage.dir)}},
      {"storage.min_free_mb", {integerField(c.storage.min_free_mb, 0, std::numeric_limits<int64_t>::max())}},
      {"storage.fsync", {boolField(c.storage.fsync)}},
      {"storage.index_sync", {enumField(c.storage.index_sync, {"full", "normal"})}},
      {"index.backend", {enumField(c.index.backend, {"sqlite", "postgresql"})}},
      {"index.url", {stringField(c.index.url)}},
      {"index.password_file", {stringField(c.index.password_file)}},
      {"console.bind", {stringField(c.console.bind)}},
      {"console.port", {integerField(c.console.port, 1, 65535)}},
      {"console.token", {secretField(c.console.token, 16)}},
      {"console.launch_secret", {secretField(c.console.launch_secret, 16)}},
      {"console.tls_cert", {stringField(c.console.tls_cert)}},
      {"console.tls_key", {stringField(c.console.tls_key)}},
      {"console.threads", {integerField(c.console.threads, 1, 64)}},
      {"console.allowed_hosts", {hostListField(c.console.allowed_hosts)}},
      {"console.read_requires_token", {boolField(c.console.read_requires_token)}},
      {"console.allow_plain_http", {boolField(c.console.allow_plain_http)}},
      {"log.level", {enumField(c.log.level, {"trace", "debug", "info", "warn", "error"})}},
      {"log.file", {stringField(c.log.file)}},
      {"log.max_size_mb", {integerField(c.log.max_size_mb, 1, 10240)}},
      {"log.max_files", {integerField(c.log.max_files, 1, 1000)}},
      {"completion.quiet_s", {numberField(c.completion.quiet_s, 0.1, 86400)}},
      {"completion.release_grace_s", {numberField(c.completion.release_grace_s, 0, 3600)}},
      {"completion.tick_s", {numberField(c.completion.tick_s, 0.05, 60)}},
      {"completion.speculative_start", {boolField(c.completion.speculative_start)}},
      {"render.backend", {enumField(c.render.backend, {"auto", "cpu", "gpu"})}},
      {"render.cpu_priority", {enumField(c.render.cpu_priority, {"idle", "low"})}},
      {"render.decode_ahead", {boolField(c.render.decode_ahead)}},
      {"render.workers", {integerField(c.render.workers, 0, 64)}},
      {"render.job_timeout_s", {numberField(c.render.job_timeout_s, 1, 604800)}},
      {"render.max_crashes", {integerField(c.render.max_crashes, 1, 100)}},
      {"render.max_memory_mb", {integerField(c.render.max_memory_mb, 0, 16777216)}},
      {"render.size", {integerField(c.render.size, 64, 4096)}},
      {"render.spin_frames", {integerField(c.render.spin_frames, 1, 360)}},
      {"render.annotation", {stringField(c.render.annotation)}},
      {"viewer.max_sessions", {integerField(c.viewer.max_sessions, 1, 64)}},
      {"viewer.memory_mb", {integerField(c.viewer.memory_mb, 64, 16777216)}},
      {"viewer.idle_timeout_s", {numberField(c.viewer.idle_timeout_s, 1, 604800)}},
      {"viewer.wait_s", {numberField(c.viewer.wait_s, 0, 60)}},
      {"viewer.prepare_after_render", {boolField(c.viewer.prepare_after_render)}},
      {"outputs.key_views", {enumField(c.outputs.key_views, {"multiframe", "single"})}},
      {"outputs.uid_root", {stringField(c.outputs.uid_root)}},
      {"outputs.series_number_base", {integerField(c.outputs.series_number_base, 1, 2147483647)}},
      {"outputs.mesh_triangle_budget", {integerField(c.outputs.mesh_triangle_budget, 100, 100000000)}},
      {"outputs.reformats", {boolField(c.outputs.reformats)}},
      {"outputs.reformat_source_references", {integerField(c.outputs.reformat_source_references, 0, 1000000)}},
      {"pipeline.presets_dir", {stringField(c.pipeline.presets_dir)}},
      {"sending.retry_initial_s", {numberField(c.sending.retry_initial_s, 0.1, 86400)}},
      {"sending.retry_max_s", {numberField(c.sending.retry_max_s, 0.1, 604800)}},
      {"sending.max_attempts", {integerField(c.sending.max_attempts, 1, 10000)}},
      {"retention.delete_after_days", {numberField(c.retention.delete_after_days, 0, 36500)}},
      {"retention.max_store_gb", {numberField(c.retention.max_store_gb, 0, 1e6)}},
      {"retention.max_volume_cache_gb", {numberField(c.retention.max_volume_cache_gb, 0, 1e6)}},
      {"retention.check_every_s", {numberField(c.retention.check_every_s, 1, 86400)}},
  };
}

// A destination's tls_verify_peer: "check" (verify only a certificate that is sent)
// means something only to the listener, since a server always sends one.
Setter peerVerifyField(std::string& target) {
  Setter allowed = enumField(target, {"require", "ignore"});
  return [allowed](const toml::node& node, const std::string& key, const Origin& origin) {
    if (node.value<std::string>() == "check")
      fail(origin.of(node, key), key + " = \"check\" is not allowed; use one of: require, ignore (\"check\" is for "
                                     "dicom.tls_verify_peer: a caller may send no certificate, a server always sends one)");
    allowed(node, key, origin);
  };
}

std::map<std::string, Field> destinationFields(Destination& d) {
  return {
      {"type", {[&d](const toml::node& node, const std::string& key, const Origin& origin) {
         std::string type;
         enumField(type, {"dimse", "dicomweb"})(node, key, origin);
         d.type = type == "dicomweb" ? DestinationType::DicomWeb : DestinationType::Dimse;
       }}},
      {"url", {stringField(d.url)}},
      {"username", {stringField(d.username)}},
      {"password_file", {stringField(d.password_file)}},
      {"token_file", {stringField(d.token_file)}},
      {"timeout_s", {integerField(d.timeout_s, 1, 3600)}},
      {"aet", {stringField(d.aet)}},
      {"host", {stringField(d.host)}},
      {"port", {integerField(d.port, 1, 65535)}},
      {"sop_classes", {stringListField(d.sop_classes)}},
      {"associations", {integerField(d.associations, 1, 32)}},
      {"tls", {boolField(d.tls)}},
      {"tls_cert", {stringField(d.tls_cert)}},
      {"tls_key", {stringField(d.tls_key)}},
      {"tls_ca", {stringField(d.tls_ca)}},
      {"tls_crl", {stringField(d.tls_crl)}},
      {"tls_verify_peer", {peerVerifyField(d.tls_verify_peer)}},
      {"tls_verify_host", {boolField(d.tls_verify_host)}},
  };
}

std::string knownKeysOf(const std::map<std::string, Field>& fields, const std::string& prefix) {
  std::string list;
  for (const auto& [name, field] : fields)
    if (name.rfind(prefix, 0) == 0) list += (list.empty() ? "" : ", ") + name.substr(prefix.size());
  return list;
}

// A DICOMweb destination: a URL instead of aet/host/port, and one way to authenticate.
template <typename HasKey, typename Where>
void checkDicomWebDestination(const Destination& dest, const std::string& prefix, HasKey has, Where where) {
  for (const char* key :
       {"aet", "host", "port", "associations", "tls", "tls_cert", "tls_key", "tls_crl", "tls_verify_peer"})
    if (has(key))
      fail(where(key), prefix + key + " is for DIMSE destinations; a type = \"dicomweb\" destination is reached at " +
                           prefix + "url (TLS: an https:// url, with tls_ca and tls_verify_host)");
  if (dest.url.empty()) fail(where("type"), prefix + "url is needed for type = \"dicomweb\" (e.g. \"https://pacs/dicom-web\")");
  bool https = dest.url.rfind("https://", 0) == 0;
  if (!https && dest.url.rfind("http://", 0) != 0)
    fail(where("url"), prefix + "url must start with http:// or https:// (got \"" + dest.url + "\")");
  if (dest.url.find_first_of(" ?#") != std::string::npos)
    fail(where("url"), prefix + "url must be the service's base URL, without spaces, query or fragment");
  if (!https && (!dest.tls_ca.empty() || !dest.tls_verify_host))
    fail(where(dest.tls_ca.empty() ? "tls_verify_host" : "tls_ca"), prefix + "tls_ca and tls_verify_host need an https:// url");
  if (dest.username.empty() != dest.password_file.empty())
    fail(where(dest.username.empty() ? "password_file" : "username"),
         prefix + "username and " + prefix + "password_file go together (HTTP Basic authentication)");
  if (!dest.token_file.empty() && !dest.username.empty())
    fail(where("token_file"), prefix + "token_file (bearer token) and username/password_file (HTTP Basic) exclude each other");
}

// [destinations.<name>], or with `section` = "sources" the [sources.<name>] retrieved
// from (DICOMweb only: a DIMSE peer to retrieve from is a destination).
void bindDestinations(const toml::node& node, Config& config, const Origin& origin,
                      const std::string& section = "destinations") {
  const bool sources = section == "sources";
  auto& peers = sources ? config.sources : config.destinations;
  const auto* table = node.as_table();
  if (!table) fail(origin.of(node, section), section + " must be a table of [" + section + ".<name>]");
  for (const auto& entry : *table) {
    // Named references, not a structured binding: clang before 16 cannot capture a
    // binding in a lambda (`where` below), and the fuzz targets are built with clang 14.
    const toml::node& dest_node = entry.second;
    std::string name(entry.first.str());
    const auto* dest_table = dest_node.as_table();
    if (!dest_table)
      fail(origin.of(dest_node, section + "." + name),
           section + "." + name + (sources ? " must be a table with type = \"dicomweb\" and url" : " must be a table with aet, host, port"));
    Destination dest;
    dest.name = name;
    dest.section = section;
    auto fields = destinationFields(dest);
    for (const auto& [key_key, value] : *dest_table) {
      std::string key(key_key.str());
      std::string full = section + "." + name + "." + key;
      auto it = fields.find(key);
      if (it == fields.end())
        fail(origin.of(value, full), "unknown key '" + full + "'; allowed: " + knownKeysOf(fields, ""));
      it->second.set(value, full, origin);
    }
    const std::string prefix = section + "." + name + ".";
    // Where a key was set, for the message (the file line or the --set override).
    auto where = [&](const char* key) {
      const toml::node* node = dest_table->get(key);
      return node ? origin.of(*node, prefix + key) : origin.of(dest_node, section + "." + name);
    };
    const auto& others = sources ? config.destinations : config.sources;
    if (others.count(name))
      fail(origin.of(dest_node, section + "." + name),
           "'" + name + "' names both a destination and a source; a retrieval names its peer, so give them different names");
    if (sources && dest.type != DestinationType::DicomWeb)
      fail(where("type"), prefix + "type = \"dicomweb\" is needed: sources are DICOMweb archives (a DIMSE peer to "
                                   "retrieve from is configured under [destinations.<name>])");
    if (dest.type == DestinationType::DicomWeb) {
      checkDicomWebDestination(dest, prefix, [&](const char* key) { return dest_table->get(key) != nullptr; }, where);
      peers[name] = dest;
      continue;
    }
    for (const char* key : {"url", "username", "password_file", "token_file", "timeout_s"})
      if (dest_table->get(key))
        fail(where(key), prefix + key + " is for type = \"dicomweb\" destinations; this one is DIMSE (aet, host, port)");
    if (dest.aet.empty() || dest.host.empty())
      fail(origin.of(dest_node, "destinations." + name), "destinations." + name + " needs aet and host");
    if (dest.tls_cert.empty() != dest.tls_key.empty())
      fail(where(dest.tls_cert.empty() ? "tls_key" : "tls_cert"),
           prefix + "tls_cert and " + prefix + "tls_key go together (a client certificate and its key)");
    if (!dest.tls_crl.empty() && dest.tls_ca.empty())
      fail(where("tls_crl"), prefix + "tls_crl needs " + prefix + "tls_ca (the CAs whose revocation lists it holds)");
    if (dest.tls && dest.tls_verify_peer == "require" && dest.tls_ca.empty())
      fail(where("tls"),
           prefix + "tls = true with tls_verify_peer = \"require\" needs " + prefix +
               "tls_ca (the CA certificates that signed the peer's certificate)");
    config.destinations[name] = dest;
  }
}

void bindTable(const toml::table& root, Config& config, const Origin& origin) {
  auto fields = sectionFields(config);
  for (const auto& [section_key, section_node] : root) {
    std::string section(section_key.str());
    if (section == "destinations" || section == "sources") {
      bindDestinations(section_node, config, origin, section);
      continue;
    }
    const auto* table = section_node.as_table();
    std::string known = knownKeysOf(fields, section + ".");
    if (!table || known.empty())
      fail(origin.of(section_node, section),
           "unknown section '" + section +
               "'; allowed: dicom, storage, index, console, log, completion, render, viewer, outputs, pipeline, sending, retention, "
               "destinations, sources");
    for (const auto& [key_key, value] : *table) {
      std::string full = section + "." + std::string(key_key.str());
      if (auto alias = kRenamedKeys.find(full); alias != kRenamedKeys.end()) {
        const std::string& current = alias->second;
        config.warnings.push_back(origin.of(value, full) + ": " + full + " is deprecated; call it " + current +
                                  " (same values)");
        if (origin.overridden.count(current)) continue;  // --set of the current name wins over the file
        if (table->contains(current.substr(section.size() + 1)))
          fail(origin.of(value, full), full + " is the old name of " + current + "; set only " + current);
        fields.at(current).set(value, full, origin);
        continue;
      }
      auto it = fields.find(full);
      if (it == fields.end())
        fail(origin.of(value, full), "unknown key '" + full + "'; allowed in [" + section + "]: " + known);
      it->second.set(value, full, origin);
    }
  }
}

// "dicom.port=11113" -> table["dicom"]["port"] = 11113
void applyOverride(toml::table& root, const std::string& assignment, Origin& origin) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    fail("--set " + assignment, "an override must look like section.key=value");
  std::string key = assignment.substr(0, eq);
  std::string text = assignment.substr(eq + 1);
  // An old key name sets the current key, so it wins over the file as any override does.
  if (auto alias = kRenamedKeys.find(key); alias != kRenamedKeys.end()) {
    origin.renamed_overrides.push_back("--set " + key + ": " + key + " is deprecated; call it " + alias->second +
                                       " (same values)");
    key = alias->second;
  }
  std::vector<std::string> path;
  std::stringstream parts(key);
  for (std::string part; std::getline(parts, part, '.');) {
    if (part.empty()) fail("--set " + assignment, "empty name in key '" + key + "'");
    path.push_back(part);
  }
  if (path.size() < 2) fail("--set " + assignment, "key '" + key + "' needs a section, e.g. dicom.port");

  // The value in TOML syntax (numbers, booleans, "strings", [lists]); anything
  // that does not parse as TOML is taken as a plain string.
  toml::table holder;
  try {
    holder = toml::parse("v = " + text);
  } catch (const toml::parse_error&) {
    holder = toml::table{};
    holder.insert("v", text);
  }

  toml::table* table = &root;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    auto* child = (*table)[path[i]].as_table();
    if (!child) {
      table->insert_or_assign(path[i], toml::table{});
      child = (*table)[path[i]].as_table();
    }
    table = child;
  }
  table->insert_or_assign(path.back(), *holder.get("v"));
  origin.overridden.insert(key);
}

// A PostgreSQL index needs a URL libpq understands; a password inside it would end up in
// process listings and backups of the file, so it is refused (password_file or PGPASSWORD).
void checkIndex(const IndexConfig& index, const Origin& origin) {
  const std::string& where = origin.source;
  if (index.backend == "sqlite") {
    if (!index.url.empty()) fail(where, "index.url is for index.backend = \"postgresql\"");
    return;
  }
  if (index.url.rfind("postgresql://", 0) != 0 && index.url.rfind("postgres://", 0) != 0)
    fail(where, "index.backend = \"postgresql\" needs index.url = \"postgresql://user@host:5432/dbname\"");
  const auto scheme_end = index.url.find("://") + 3;
  const auto at = index.url.find('@', scheme_end);
  const auto userinfo = at == std::string::npos ? std::string() : index.url.substr(scheme_end, at - scheme_end);
  if (userinfo.find(':') != std::string::npos || index.url.find("password=") != std::string::npos)
    fail(where, "index.url must not contain the password; put it in index.password_file or PGPASSWORD");
}

}  // namespace

const char* defaultConfigText() { return kDefaultConfig; }

Config parseConfig(const std::string& toml_text, const std::string& source,
                   const std::vector<std::string>& overrides) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    fail(source + ":" + std::to_string(e.source().begin.line), std::string("TOML syntax error: ") + std::string(e.description()));
  }
  Origin origin{source, {}};
  for (const auto& assignment : overrides) applyOverride(root, assignment, origin);
  Config config;
  config.warnings = origin.renamed_overrides;
  bindTable(root, config, origin);
  checkIndex(config.index, origin);
  return config;
}

Config loadConfig(const std::string& path, const std::vector<std::string>& overrides) {
  if (path.empty()) return parseConfig(kDefaultConfig, "embedded default", overrides);
  std::ifstream in(path);
  if (!in) throw Error(Errc::InvalidConfig, "cannot read configuration file " + path);
  std::stringstream text;
  text << in.rdbuf();
  return parseConfig(text.str(), path, overrides);
}

std::string renderConfig(const Config& c, bool mask_secrets) {
  auto secret = [&](const std::string& s) { return mask_secrets && !s.empty() ? std::string("********") : s; };
  toml::array peers;
  for (const auto& p : c.dicom.allowed_peers) peers.push_back(toml::table{{"aet", p.aet}, {"host", p.host}});
  toml::array allowed_hosts;
  for (const auto& h : c.console.allowed_hosts) allowed_hosts.push_back(h);
  toml::table destinations;
  for (const auto& [name, d] : c.destinations) {
    toml::array classes;
    for (const auto& s : d.sop_classes) classes.push_back(s);
    if (d.type == DestinationType::DicomWeb) {
      destinations.insert(name, toml::table{{"type", "dicomweb"}, {"url", d.url}, {"username", d.username},
                                            {"password_file", d.password_file}, {"token_file", d.token_file},
                                            {"timeout_s", d.timeout_s}, {"sop_classes", classes},
                                            {"tls_ca", d.tls_ca}, {"tls_verify_host", d.tls_verify_host}});
      continue;
    }
    destinations.insert(name, toml::table{{"aet", d.aet}, {"host", d.host}, {"port", d.port}, {"sop_classes", classes},
                                          {"associations", d.associations}, {"tls", d.tls},
                                          {"tls_cert", d.tls_cert}, {"tls_key", d.tls_key},
                                          {"tls_ca", d.tls_ca}, {"tls_crl", d.tls_crl},
                                          {"tls_verify_peer", d.tls_verify_peer},
                                          {"tls_verify_host", d.tls_verify_host}});
  }
  toml::table root{
      {"dicom", toml::table{{"aet", c.dicom.aet}, {"bind", c.dicom.bind}, {"port", c.dicom.port},
                            {"max_associations", c.dicom.max_associations},
                            {"max_associations_per_host", c.dicom.max_associations_per_host},
                            {"max_pdu", int64_t(c.dicom.max_pdu)},
                            {"max_instance_mb", c.dicom.max_instance_mb},
                            {"acse_timeout_s", c.dicom.acse_timeout_s}, {"dimse_timeout_s", c.dicom.dimse_timeout_s},
                            {"idle_timeout_s", c.dicom.idle_timeout_s},
                            {"min_receive_kib_per_s", c.dicom.min_receive_kib_per_s}, {"allowed_peers", peers},
                            {"check_called_aet", c.dicom.check_called_aet}, {"tls", c.dicom.tls},
                            {"tls_cert", c.dicom.tls_cert}, {"tls_key", c.dicom.tls_key}, {"tls_ca", c.dicom.tls_ca},
                            {"tls_crl", c.dicom.tls_crl},
                            {"tls_verify_peer", c.dicom.tls_verify_peer}}},
      {"storage", toml::table{{"dir", c.storage.dir}, {"min_free_mb", int64_t(c.storage.min_free_mb)},
                              {"fsync", c.storage.fsync}, {"index_sync", c.storage.index_sync}}},
      {"index", toml::table{{"backend", c.index.backend}, {"url", c.index.url},
                            {"password_file", c.index.password_file}}},
      {"console", toml::table{{"bind", c.console.bind}, {"port", c.console.port}, {"token", secret(c.console.token)},
                              {"launch_secret", secret(c.console.launch_secret)}, {"tls_cert", c.console.tls_cert},
                              {"tls_key", c.console.tls_key},
                              {"threads", c.console.threads}, {"allowed_hosts", allowed_hosts},
                              {"read_requires_token", c.console.read_requires_token},
                              {"allow_plain_http", c.console.allow_plain_http}}},
      {"log", toml::table{{"level", c.log.level}, {"file", c.log.file}, {"max_size_mb", c.log.max_size_mb},
                          {"max_files", c.log.max_files}}},
      {"completion", toml::table{{"quiet_s", c.completion.quiet_s}, {"release_grace_s", c.completion.release_grace_s},
                                 {"tick_s", c.completion.tick_s}, {"speculative_start", c.completion.speculative_start}}},
      {"render", toml::table{{"backend", c.render.backend}, {"workers", c.render.workers},
                             {"job_timeout_s", c.render.job_timeout_s}, {"max_crashes", c.render.max_crashes},
                             {"max_memory_mb", c.render.max_memory_mb}, {"size", c.render.size},
                             {"spin_frames", c.render.spin_frames}, {"annotation", c.render.annotation},
                             {"cpu_priority", c.render.cpu_priority}, {"decode_ahead", c.render.decode_ahead}}},
      {"viewer", toml::table{{"max_sessions", c.viewer.max_sessions}, {"memory_mb", c.viewer.memory_mb},
                             {"idle_timeout_s", c.viewer.idle_timeout_s}, {"wait_s", c.viewer.wait_s},
                             {"prepare_after_render", c.viewer.prepare_after_render}}},
      {"outputs", toml::table{{"key_views", c.outputs.key_views}, {"uid_root", c.outputs.uid_root},
                              {"series_number_base", c.outputs.series_number_base},
                              {"mesh_triangle_budget", c.outputs.mesh_triangle_budget},
                              {"reformats", c.outputs.reformats},
                              {"reformat_source_references", c.outputs.reformat_source_references}}},
      {"pipeline", toml::table{{"presets_dir", c.pipeline.presets_dir}}},
      {"sending", toml::table{{"retry_initial_s", c.sending.retry_initial_s}, {"retry_max_s", c.sending.retry_max_s},
                              {"max_attempts", c.sending.max_attempts}}},
      {"retention", toml::table{{"delete_after_days", c.retention.delete_after_days},
                                {"max_store_gb", c.retention.max_store_gb},
                                {"max_volume_cache_gb", c.retention.max_volume_cache_gb},
                                {"check_every_s", c.retention.check_every_s}}},
      {"destinations", destinations},
  };
  toml::table sources;
  for (const auto& [name, d] : c.sources)
    sources.insert(name, toml::table{{"type", "dicomweb"}, {"url", d.url}, {"username", d.username},
                                     {"password_file", d.password_file}, {"token_file", d.token_file},
                                     {"timeout_s", d.timeout_s}, {"tls_ca", d.tls_ca},
                                     {"tls_verify_host", d.tls_verify_host}});
  if (!sources.empty()) root.insert("sources", sources);
  std::ostringstream out;
  out << root << "\n";
  return out.str();
}

}  // namespace volnode
