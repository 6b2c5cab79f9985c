// destinations.<name>.type = "dicomweb": parsed, checked with messages that name the
// key, and rendered (secret files by path only).
#include <gtest/gtest.h>

#include "volnode/core/config.hpp"
#include "volnode/core/error.hpp"

using namespace volnode;

namespace {

std::string dicomwebConfigError(const std::string& text) {
  try {
    parseConfig(text, "test.toml");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::InvalidConfig);
    return e.what();
  }
  ADD_FAILURE() << "no error for:\n" << text;
  return {};
}

}  // namespace

TEST(ConfigDicomWeb, DestinationIsParsedAndRendered) {
  Config c = parseConfig(
      "[destinations.cloud]\ntype = \"dicomweb\"\nurl = \"https://pacs.example.org/dicom-web\"\n"
      "token_file = \"/etc/volnode/token\"\ntls_ca = \"ca.pem\"\ntls_verify_host = false\ntimeout_s = 30\n",
      "test.toml");
  const Destination& d = c.destinations.at("cloud");
  EXPECT_EQ(d.type, DestinationType::DicomWeb);
  EXPECT_EQ(d.url, "https://pacs.example.org/dicom-web");
  EXPECT_EQ(d.token_file, "/etc/volnode/token");
  EXPECT_EQ(d.tls_ca, "ca.pem");
  EXPECT_FALSE(d.tls_verify_host);
  EXPECT_EQ(d.timeout_s, 30);
  std::string rendered = renderConfig(c);
  EXPECT_NE(rendered.find("dicomweb"), std::string::npos) << rendered;
  EXPECT_NE(rendered.find("/etc/volnode/token"), std::string::npos) << rendered;
  // What is rendered parses back to the same destination.
  Config again = parseConfig(rendered, "rendered");
  EXPECT_EQ(renderConfig(again), rendered);
}

TEST(ConfigDicomWeb, DimseIsTheDefaultType) {
  Config c = parseConfig("[destinations.pacs]\naet = \"PACS\"\nhost = \"10.0.0.1\"\n", "test.toml");
  EXPECT_EQ(c.destinations.at("pacs").type, DestinationType::Dimse);
  auto message = dicomwebConfigError("[destinations.pacs]\ntype = \"dicom-web\"\naet = \"PACS\"\nhost = \"10.0.0.1\"\n");
  EXPECT_NE(message.find("destinations.pacs.type"), std::string::npos) << message;
  EXPECT_NE(message.find("dicomweb"), std::string::npos) << message;
}

TEST(ConfigDicomWeb, MissingOrBadUrlIsRefused) {
  auto message = dicomwebConfigError("[destinations.cloud]\ntype = \"dicomweb\"\n");
  EXPECT_NE(message.find("destinations.cloud.url"), std::string::npos) << message;
  message = dicomwebConfigError("[destinations.cloud]\ntype = \"dicomweb\"\nurl = \"ftp://pacs/dicom-web\"\n");
  EXPECT_NE(message.find("http:// or https://"), std::string::npos) << message;
  EXPECT_NE(message.find("test.toml:3"), std::string::npos) << message;
  message = dicomwebConfigError("[destinations.cloud]\ntype = \"dicomweb\"\nurl = \"http://pacs/dicom-web?x=1\"\n");
  EXPECT_NE(message.find("query"), std::string::npos) << message;
}

TEST(ConfigDicomWeb, KeysOfTheOtherTransportAreRefused) {
  auto message = dicomwebConfigError("[destinations.cloud]\ntype = \"dicomweb\"\nurl = \"http://pacs/dicom-web\"\naet = \"X\"\n");
  EXPECT_NE(message.find("destinations.cloud.aet is for DIMSE"), std::string::npos) << message;
  message = dicomwebConfigError("[destinations.pacs]\naet = \"PACS\"\nhost = \"h\"\nurl = \"http://pacs/dicom-web\"\n");
  EXPECT_NE(message.find("destinations.pacs.url is for type = \"dicomweb\""), std::string::npos) << message;
  message = dicomwebConfigError("[destinations.cloud]\ntype = \"dicomweb\"\nurl = \"http://pacs/dicom-web\"\ntls_ca = \"ca.pem\"\n");
  EXPECT_NE(message.find("https://"), std::string::npos) << message;
}

TEST(ConfigDicomWeb, CredentialsMustBeCompleteAndOfOneKind) {
  auto message = dicomwebConfigError("[destinations.cloud]\ntype = \"dicomweb\"\nurl = \"http://pacs/dicom-web\"\nusername = \"u\"\n");
  EXPECT_NE(message.find("password_file go together"), std::string::npos) << message;
  message = dicomwebConfigError(
      "[destinations.cloud]\ntype = \"dicomweb\"\nurl = \"http://pacs/dicom-web\"\nusername = \"u\"\n"
      "password_file = \"p\"\ntoken_file = \"t\"\n");
  EXPECT_NE(message.find("exclude each other"), std::string::npos) << message;
}

TEST(ConfigDicomWeb, SourceIsADicomWebArchiveToRetrieveFromAndIsRendered) {
  Config c = parseConfig("[sources.archive]\ntype = \"dicomweb\"\nurl = \"https://archive.example.org/dicomWeb\"\n"
                         "username = \"volnode\"\npassword_file = \"/etc/volnode/archive-password\"\n",
                         "test.toml");
  ASSERT_TRUE(c.destinations.empty());
  const Destination& s = c.sources.at("archive");
  EXPECT_EQ(s.type, DestinationType::DicomWeb);
  EXPECT_EQ(s.section, "sources");
  EXPECT_EQ(s.name, "archive");
  EXPECT_EQ(s.username, "volnode");
  std::string rendered = renderConfig(c);
  EXPECT_NE(rendered.find("[sources.archive]"), std::string::npos) << rendered;
  EXPECT_EQ(renderConfig(parseConfig(rendered, "rendered")), rendered);
}

TEST(ConfigDicomWeb, SourceMustBeDicomWebAndNotShareADestinationsName) {
  auto message = dicomwebConfigError("[sources.pacs]\naet = \"PACS\"\nhost = \"10.0.0.1\"\n");
  EXPECT_NE(message.find("sources.pacs.type = \"dicomweb\" is needed"), std::string::npos) << message;
  message = dicomwebConfigError("[sources.archive]\ntype = \"dicomweb\"\n");
  EXPECT_NE(message.find("sources.archive.url"), std::string::npos) << message;
  message = dicomwebConfigError("[destinations.pacs]\naet = \"PACS\"\nhost = \"10.0.0.1\"\n"
                        "[sources.pacs]\ntype = \"dicomweb\"\nurl = \"http://pacs/dicom-web\"\n");
  EXPECT_NE(message.find("names both a destination and a source"), std::string::npos) << message;
  message = dicomwebConfigError("[sources.archive]\ntype = \"dicomweb\"\nurl = \"http://a/dicom-web\"\ntoken = \"x\"\n");
  EXPECT_NE(message.find("unknown key 'sources.archive.token'"), std::string::npos) << message;
}
