#include <gtest/gtest.h>

#include "volnode/core/config.hpp"
#include "volnode/core/error.hpp"

using namespace volnode;

namespace {

// The message of the InvalidConfig error that parsing `text` raises.
std::string configError(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parseConfig(text, "test.toml", overrides);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::InvalidConfig);
    return e.what();
  }
  ADD_FAILURE() << "no error for:\n" << text;
  return {};
}

}  // namespace

TEST(Config, EmbeddedDefaultFileEqualsTheDefaultsInCode) {
  Config parsed = parseConfig(defaultConfigText(), "embedded");
  Config defaults;
  EXPECT_EQ(renderConfig(parsed, false), renderConfig(defaults, false));
  EXPECT_EQ(parsed.dicom.aet, "VOLNODE");
  EXPECT_EQ(parsed.dicom.port, 11112);
  EXPECT_EQ(parsed.console.bind, "127.0.0.1");
  EXPECT_EQ(parsed.console.port, 8080);
  EXPECT_EQ(parsed.storage.dir, "var");
}

TEST(Config, UnknownKeyNamesKeyLineAndAllowedKeys) {
  auto message = configError("[dicom]\naet = \"X\"\nprot = 104\n");
  EXPECT_NE(message.find("test.toml:3"), std::string::npos) << message;
  EXPECT_NE(message.find("dicom.prot"), std::string::npos) << message;
  EXPECT_NE(message.find("port"), std::string::npos) << message;
}

TEST(Config, UnknownSectionIsRefused) {
  auto message = configError("[dicon]\naet = \"X\"\n");
  EXPECT_NE(message.find("unknown section 'dicon'"), std::string::npos) << message;
}

TEST(Config, OutOfRangeValueSaysWhatIsAllowed) {
  auto message = configError("[dicom]\nport = 70000\n");
  EXPECT_NE(message.find("test.toml:2"), std::string::npos) << message;
  EXPECT_NE(message.find("1..65535"), std::string::npos) << message;
}

TEST(Config, WrongTypeIsRefused) {
  EXPECT_NE(configError("[dicom]\nport = \"eleven\"\n").find("must be an integer"), std::string::npos);
  EXPECT_NE(configError("[storage]\nfsync = 1\n").find("true or false"), std::string::npos);
  EXPECT_NE(configError("[render]\nbackend = \"vulkan\"\n").find("auto, cpu, gpu"), std::string::npos);
  EXPECT_NE(configError("[render]\ncpu_priority = \"realtime\"\n").find("idle, low"), std::string::npos);
}

TEST(Config, DicomBindMustBeAnIpv4Address) {
  EXPECT_EQ(parseConfig("[dicom]\nbind = \"127.0.0.1\"\n", "test.toml").dicom.bind, "127.0.0.1");
  auto message = configError("[dicom]\nbind = \"pacs.local\"\n");
  EXPECT_NE(message.find("test.toml:2"), std::string::npos) << message;
  EXPECT_NE(message.find("dicom.bind must be an IPv4 address"), std::string::npos) << message;
  EXPECT_NE(message.find("not \"pacs.local\""), std::string::npos) << message;
  EXPECT_NE(configError("[dicom]\nbind = \"127.0.0.256\"\n").find("IPv4"), std::string::npos);
  EXPECT_NE(configError("[dicom]\nbind = 1\n").find("IPv4"), std::string::npos);
}

// A float where an integer belongs: refused without converting it (toml++ casts a
// float to int64 unchecked, undefined for 1e308; found by fuzz_config under UBSan).
TEST(Config, FloatWhereAnIntegerBelongsIsRefusedWhateverItsSize) {
  for (const char* text : {"[dicom]\nport = 1e308\n", "[dicom]\nport = -1e308\n", "[dicom]\nport = 104.0\n",
                           "[dicom]\nport = inf\n", "[dicom]\nport = nan\n"}) {
    auto message = configError(text);
    EXPECT_NE(message.find("must be an integer"), std::string::npos) << text << ": " << message;
  }
  EXPECT_NE(configError("", {"dicom.port=1e308"}).find("must be an integer"), std::string::npos);
}

TEST(Config, SyntaxErrorNamesTheLine) {
  auto message = configError("[dicom]\nport = = 3\n");
  EXPECT_NE(message.find("test.toml:2"), std::string::npos) << message;
}

TEST(Config, OverridesApplyOnTopOfTheFile) {
  Config c = parseConfig("[dicom]\nport = 104\n", "test.toml",
                         {"dicom.port=11113", "storage.dir=/srv/volnode", "dicom.aet=NODE3D",
                          "destinations.pacs.aet=ORTHANC", "destinations.pacs.host=127.0.0.1",
                          "destinations.pacs.port=4242"});
  EXPECT_EQ(c.dicom.port, 11113);
  EXPECT_EQ(c.storage.dir, "/srv/volnode");
  EXPECT_EQ(c.dicom.aet, "NODE3D");
  ASSERT_EQ(c.destinations.count("pacs"), 1u);
  EXPECT_EQ(c.destinations["pacs"].aet, "ORTHANC");
  EXPECT_EQ(c.destinations["pacs"].port, 4242);
}

TEST(Config, BadOverrideNamesTheOverride) {
  auto message = configError("", {"dicom.port=abc"});
  EXPECT_NE(message.find("--set dicom.port"), std::string::npos) << message;
  EXPECT_NE(configError("", {"noequals"}).find("section.key=value"), std::string::npos);
  EXPECT_NE(configError("", {"port=3"}).find("needs a section"), std::string::npos);
}

TEST(Config, AllowedPeersAreParsedFromTomlAndOverrides) {
  Config c = parseConfig("[dicom]\nallowed_peers = [ { aet = \"PACS\", host = \"10.1.2.3\" } ]\n", "t");
  ASSERT_EQ(c.dicom.allowed_peers.size(), 1u);
  EXPECT_EQ(c.dicom.allowed_peers[0].aet, "PACS");
  EXPECT_EQ(c.dicom.allowed_peers[0].host, "10.1.2.3");
  Config o = parseConfig("", "t", {"dicom.allowed_peers=[{aet=\"CT1\",host=\"*\"}]"});
  ASSERT_EQ(o.dicom.allowed_peers.size(), 1u);
  EXPECT_EQ(o.dicom.allowed_peers[0].host, "*");
  EXPECT_NE(configError("[dicom]\nallowed_peers = [ { aet = \"X\", hots = \"y\" } ]\n").find("unknown key 'hots'"),
            std::string::npos);
}

TEST(Config, DestinationWithoutHostIsRefused) {
  EXPECT_NE(configError("[destinations.pacs]\naet = \"ORTHANC\"\n").find("needs aet and host"), std::string::npos);
}

TEST(Config, RenderedConfigMasksSecrets) {
  Config c;
  c.console.token = "s3cret";
  EXPECT_EQ(renderConfig(c).find("s3cret"), std::string::npos);
  EXPECT_NE(renderConfig(c, false).find("s3cret"), std::string::npos);
}

TEST(Config, DestinationTlsSettingsAreParsedCheckedAndRendered) {
  Config c = parseConfig(
      "[destinations.pacs]\naet = \"PACS\"\nhost = \"pacs.lan\"\ntls = true\ntls_cert = \"client.pem\"\n"
      "tls_key = \"client.key\"\ntls_ca = \"ca.pem\"\ntls_verify_host = false\n",
      "t");
  const Destination& d = c.destinations.at("pacs");
  EXPECT_TRUE(d.tls);
  EXPECT_EQ(d.tls_cert, "client.pem");
  EXPECT_EQ(d.tls_key, "client.key");
  EXPECT_EQ(d.tls_ca, "ca.pem");
  EXPECT_EQ(d.tls_verify_peer, "require");
  EXPECT_FALSE(d.tls_verify_host);
  // Defaults: plain TCP; when TLS is on, the peer and its host name are verified.
  Config plain = parseConfig("", "t", {"destinations.pacs.aet=PACS", "destinations.pacs.host=h"});
  EXPECT_FALSE(plain.destinations.at("pacs").tls);
  EXPECT_TRUE(plain.destinations.at("pacs").tls_verify_host);
  // The effective configuration says the same when read back.
  Config again = parseConfig(renderConfig(c, false), "rendered");
  EXPECT_TRUE(again.destinations.at("pacs").tls);
  EXPECT_EQ(again.destinations.at("pacs").tls_ca, "ca.pem");
  EXPECT_FALSE(again.destinations.at("pacs").tls_verify_host);

  const std::string base = "[destinations.pacs]\naet = \"PACS\"\nhost = \"h\"\n";
  // A CRL belongs to the CAs in tls_ca; it is read back like the rest.
  EXPECT_NE(configError(base + "tls_crl = \"ca.crl\"\n").find("destinations.pacs.tls_crl needs destinations.pacs.tls_ca"),
            std::string::npos);
  Config with_crl = parseConfig(base + "tls = true\ntls_ca = \"ca.pem\"\ntls_crl = \"ca.crl\"\n", "t");
  EXPECT_EQ(parseConfig(renderConfig(with_crl, false), "rendered").destinations.at("pacs").tls_crl, "ca.crl");
  EXPECT_NE(configError(base + "tls = true\n").find("destinations.pacs.tls_ca"), std::string::npos);
  EXPECT_NE(configError(base + "tls = true\n").find("test.toml:4"), std::string::npos) << configError(base + "tls = true\n");
  EXPECT_NE(configError(base + "tls = true\ntls_verify_peer = \"ignore\"\ntls_cert = \"c.pem\"\n")
                .find("tls_cert and destinations.pacs.tls_key go together"),
            std::string::npos);
  EXPECT_NE(configError(base + "tls_verify_peer = \"check\"\n").find("use one of: require, ignore"), std::string::npos);
  EXPECT_NE(configError(base + "tls_verify_peer = \"check\"\n").find("a server always sends one"), std::string::npos);
  EXPECT_NE(configError(base + "tls_verify_peers = \"require\"\n").find("unknown key 'destinations.pacs.tls_verify_peers'"),
            std::string::npos);
  EXPECT_NE(configError(base + "tls = \"yes\"\n").find("destinations.pacs.tls must be true or false"), std::string::npos);
  EXPECT_NO_THROW(parseConfig(base + "tls = true\ntls_verify_peer = \"ignore\"\n", "t"));
}

TEST(Config, DestinationAssociationsAreParsedCheckedAndRendered) {
  const std::string base = "[destinations.pacs]\naet = \"PACS\"\nhost = \"h\"\n";
  EXPECT_EQ(parseConfig(base, "t").destinations.at("pacs").associations, 8);
  Config one = parseConfig(base + "associations = 1\n", "t");
  EXPECT_EQ(one.destinations.at("pacs").associations, 1);
  EXPECT_EQ(parseConfig(renderConfig(one, false), "rendered").destinations.at("pacs").associations, 1);
  const Config eight = parseConfig(
      "", "t", {"destinations.pacs.aet=PACS", "destinations.pacs.host=h", "destinations.pacs.associations=8"});
  EXPECT_EQ(eight.destinations.at("pacs").associations, 8);
  EXPECT_NE(configError(base + "associations = 0\n")
                .find("destinations.pacs.associations = 0 is out of range; allowed 1..32"),
            std::string::npos);
  EXPECT_NE(configError(base + "associations = 33\n").find("allowed 1..32"), std::string::npos);
  EXPECT_NE(configError(base + "associations = 2.5\n").find("destinations.pacs.associations must be an integer"),
            std::string::npos);
  EXPECT_NE(configError("[destinations.web]\ntype = \"dicomweb\"\nurl = \"http://h/dicom-web\"\nassociations = 2\n")
                .find("destinations.web.associations is for DIMSE destinations"),
            std::string::npos);
}

TEST(Config, ListenerTlsVerifyPeerTakesRequireCheckOrIgnore) {
  EXPECT_EQ(Config().dicom.tls_verify_peer, "require");
  for (const char* mode : {"require", "check", "ignore"}) {
    Config c = parseConfig(std::string("[dicom]\ntls_verify_peer = \"") + mode + "\"\n", "t");
    EXPECT_EQ(c.dicom.tls_verify_peer, mode);
    EXPECT_TRUE(c.warnings.empty());
    EXPECT_EQ(parseConfig(renderConfig(c, false), "rendered").dicom.tls_verify_peer, mode);
  }
  EXPECT_NE(configError("[dicom]\ntls_verify_peer = \"maybe\"\n").find("use one of: require, check, ignore"),
            std::string::npos);
}

// The listener's key was called dicom.tls_verify_peers; files that still say so keep working.
TEST(Config, OldListenerKeyTlsVerifyPeersIsReadWithAWarning) {
  Config c = parseConfig("[dicom]\ntls_verify_peers = \"check\"\n", "test.toml");
  EXPECT_EQ(c.dicom.tls_verify_peer, "check");
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("test.toml:2"), std::string::npos) << c.warnings[0];
  EXPECT_NE(c.warnings[0].find("dicom.tls_verify_peers is deprecated; call it dicom.tls_verify_peer"), std::string::npos)
      << c.warnings[0];
  // Its values are checked as before, under the name the file uses; --set works too.
  EXPECT_NE(configError("[dicom]\ntls_verify_peers = \"maybe\"\n").find("dicom.tls_verify_peers = \"maybe\" is not allowed"),
            std::string::npos);
  EXPECT_EQ(parseConfig("", "t", {"dicom.tls_verify_peers=ignore"}).dicom.tls_verify_peer, "ignore");
  // An override wins over the file whichever name either uses (the shipped file has the new one).
  Config overridden = parseConfig(defaultConfigText(), "embedded", {"dicom.tls_verify_peers=ignore"});
  EXPECT_EQ(overridden.dicom.tls_verify_peer, "ignore");
  ASSERT_EQ(overridden.warnings.size(), 1u);
  EXPECT_NE(overridden.warnings[0].find("--set dicom.tls_verify_peers"), std::string::npos) << overridden.warnings[0];
  EXPECT_EQ(parseConfig("[dicom]\ntls_verify_peers = \"check\"\n", "t", {"dicom.tls_verify_peer=ignore"})
                .dicom.tls_verify_peer,
            "ignore");
  // Both names at once would leave one of them silently unused.
  EXPECT_NE(configError("[dicom]\ntls_verify_peer = \"require\"\ntls_verify_peers = \"ignore\"\n")
                .find("dicom.tls_verify_peers is the old name of dicom.tls_verify_peer; set only dicom.tls_verify_peer"),
            std::string::npos);
  // The effective configuration is written with the current name only.
  EXPECT_EQ(renderConfig(c, false).find("tls_verify_peers"), std::string::npos);
}

TEST(Config, ConsoleAccessSettingsAreParsedCheckedAndRendered) {
  Config c = parseConfig(
      "[console]\nbind = \"10.1.2.3\"\ntoken = \"0123456789abcdef\"\nallowed_hosts = [\"Volnode.Hospital.Local\", "
      "\"10.1.2.3\", \"[fd00::5]\"]\nread_requires_token = true\nallow_plain_http = true\n",
      "t");
  EXPECT_EQ(c.console.allowed_hosts, (std::vector<std::string>{"volnode.hospital.local", "10.1.2.3", "[fd00::5]"}));
  EXPECT_TRUE(c.console.read_requires_token);
  EXPECT_TRUE(c.console.allow_plain_http);
  Config again = parseConfig(renderConfig(c, false), "rendered");
  EXPECT_EQ(again.console.allowed_hosts, c.console.allowed_hosts);
  EXPECT_TRUE(again.console.read_requires_token);
  EXPECT_TRUE(again.console.allow_plain_http);
  // Defaults: loopback names only, reads open on loopback, no plain HTTP beyond it.
  Config defaults = parseConfig("", "t");
  EXPECT_TRUE(defaults.console.allowed_hosts.empty());
  EXPECT_FALSE(defaults.console.read_requires_token);
  EXPECT_FALSE(defaults.console.allow_plain_http);

  for (const std::string bad : {"\"volnode.lan:8080\"", "\"*.lan\"", "\"http://volnode.lan\"", "\"\"", "\"-a.lan\"",
                                 "\"a..lan\"", "\"fd00::5\"", "5"}) {
    auto message = configError("[console]\nallowed_hosts = [" + bad + "]\n");
    EXPECT_NE(message.find("console.allowed_hosts"), std::string::npos) << bad << ": " << message;
    EXPECT_NE(message.find("test.toml:2"), std::string::npos) << bad << ": " << message;
  }
  EXPECT_NE(configError("[console]\nallowed_hosts = \"volnode.lan\"\n").find("must be a list"), std::string::npos);
  EXPECT_NE(configError("[console]\nread_requires_token = \"yes\"\n").find("true or false"), std::string::npos);
  EXPECT_NE(configError("[console]\nallow_plain_http = 1\n").find("true or false"), std::string::npos);

  // Secrets: "" (off) or at least 16 characters; the message does not repeat the value.
  auto message = configError("[console]\ntoken = \"fifteen-chars-x\"\n");
  EXPECT_NE(message.find("console.token"), std::string::npos) << message;
  EXPECT_NE(message.find("at least 16"), std::string::npos) << message;
  EXPECT_EQ(message.find("fifteen-chars-x"), std::string::npos) << message;
  message = configError("", {"console.launch_secret=short"});
  EXPECT_NE(message.find("--set console.launch_secret"), std::string::npos) << message;
  EXPECT_NO_THROW(parseConfig("[console]\ntoken = \"\"\nlaunch_secret = \"0123456789abcdef\"\n", "t"));
}
