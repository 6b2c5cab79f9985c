// The STOW-RS response parser on responses shaped as Orthanc's DICOMweb plugin (1.7)
// writes them (JSON and XML, captured from the real plugin), and on the refusal and
// warning shapes PS3.18 allows.
#include <gtest/gtest.h>

#include "volnode/dicomweb/stow_response.hpp"

using volnode::dicomweb::parseStowResponse;

namespace {

// Orthanc's answer (HTTP 409) to a request restricted to a study that held one
// instance of another study: that one failed with 0x0110, the other was stored.
constexpr char kOrthancPartialJson[] = R"({
	"00080005" : { "Value" : [ "ISO_IR 100" ], "vr" : "CS" },
	"00081190" : { "Value" : [ "http://localhost:8042/dicom-web/studies/1.2.3" ], "vr" : "UR" },
	"00081198" : { "Value" : [ {
		"00081150" : { "Value" : [ "1.2.840.10008.5.1.4.1.1.2" ], "vr" : "UI" },
		"00081155" : { "Value" : [ "1.2.826.0.1.3680043.9.4245.635" ], "vr" : "UI" },
		"00081197" : { "Value" : [ 272 ], "vr" : "US" } } ], "vr" : "SQ" },
	"00081199" : { "Value" : [ {
		"00081150" : { "Value" : [ "1.2.840.10008.5.1.4.1.1.7" ], "vr" : "UI" },
		"00081155" : { "Value" : [ "1.3.46.670589.33.1.77" ], "vr" : "UI" },
		"00081190" : { "Value" : [ "http://localhost:8042/dicom-web/studies/1.2.3/series/4/instances/5" ], "vr" : "UR" } } ],
		"vr" : "SQ" }
})";

// Orthanc's XML answer when nothing was stored: both sequences present and empty.
constexpr char kOrthancEmptyXml[] = R"(<?xml version="1.0" encoding="utf-8"?>
<NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDICOM">
  <DicomAttribute tag="00080005" vr="CS" keyword="SpecificCharacterSet">
    <Value number="1">ISO_IR 100</Value>
  </DicomAttribute>
  <DicomAttribute tag="00081198" vr="SQ" keyword="FailedSOPSequence" />
  <DicomAttribute tag="00081199" vr="SQ" keyword="ReferencedSOPSequence" />
</NativeDicomModel>
)";

constexpr char kXmlRefusalAndWarning[] = R"(<?xml version="1.0" encoding="utf-8"?>
<NativeDicomModel xmlns="http://dicom.nema.org/PS3.19/models/NativeDICOM">
  <DicomAttribute tag="00081198" vr="SQ" keyword="FailedSOPSequence">
    <Item number="1">
      <DicomAttribute tag="00081150" vr="UI" keyword="ReferencedSOPClassUID"><Value number="1">1.2.840.10008.5.1.4.1.1.104.3</Value></DicomAttribute>
      <DicomAttribute tag="00081155" vr="UI" keyword="ReferencedSOPInstanceUID"><Value number="1">9.8.7</Value></DicomAttribute>
      <DicomAttribute tag="00081197" vr="US" keyword="FailureReason"><Value number="1">290</Value></DicomAttribute>
    </Item>
  </DicomAttribute>
  <DicomAttribute tag="00081199" vr="SQ" keyword="ReferencedSOPSequence">
    <Item number="1">
      <DicomAttribute tag="00081150" vr="UI" keyword="ReferencedSOPClassUID"><Value number="1">1.2.840.10008.5.1.4.1.1.7.4</Value></DicomAttribute>
      <DicomAttribute tag="00081155" vr="UI" keyword="ReferencedSOPInstanceUID"><Value number="1">9.8.8</Value></DicomAttribute>
      <DicomAttribute tag="00081196" vr="US" keyword="WarningReason"><Value number="1">45056</Value></DicomAttribute>
    </Item>
    <Item number="2">
      <DicomAttribute tag="00081150" vr="UI" keyword="ReferencedSOPClassUID"><Value number="1">1.2.840.10008.5.1.4.1.1.7.4</Value></DicomAttribute>
      <DicomAttribute tag="00081155" vr="UI" keyword="ReferencedSOPInstanceUID"><Value number="1">9.8.9</Value></DicomAttribute>
    </Item>
  </DicomAttribute>
</NativeDicomModel>
)";

}  // namespace

TEST(StowResponse, OrthancJsonWithOneFailedAndOneStoredInstance) {
  auto parsed = parseStowResponse(kOrthancPartialJson, "application/dicom+json");
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->instances.size(), 2u);
  const auto& failed = parsed->instances.at("1.2.826.0.1.3680043.9.4245.635");
  EXPECT_TRUE(failed.failed);
  EXPECT_EQ(failed.sop_class_uid, "1.2.840.10008.5.1.4.1.1.2");
  ASSERT_TRUE(failed.reason);
  EXPECT_EQ(*failed.reason, 0x0110);
  const auto& stored = parsed->instances.at("1.3.46.670589.33.1.77");
  EXPECT_FALSE(stored.failed);
  EXPECT_FALSE(stored.reason);
}

TEST(StowResponse, JsonWithoutContentTypeIsRecognisedByItsFirstCharacter) {
  auto parsed = parseStowResponse(std::string("\n  ") + kOrthancPartialJson, "");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->instances.size(), 2u);
}

TEST(StowResponse, JsonReasonsWrittenAsTextAreRead) {
  auto parsed = parseStowResponse(
      R"({"00081198": {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": ["1.1"]},
          "00081197": {"vr": "US", "Value": ["0xA900"]}}]},
          "00081199": {"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": ["1.2"]},
          "00081196": {"vr": "US", "Value": ["45063"]}}]}})",
      "application/dicom+json; charset=utf-8");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->instances.at("1.1").reason.value_or(0), 0xA900);
  EXPECT_TRUE(parsed->instances.at("1.1").failed);
  EXPECT_EQ(parsed->instances.at("1.2").reason.value_or(0), 0xB007);
  EXPECT_FALSE(parsed->instances.at("1.2").failed);
}

TEST(StowResponse, OrthancXmlWithEmptySequencesMeansNothingStored) {
  auto parsed = parseStowResponse(kOrthancEmptyXml, "application/dicom+xml");
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->instances.empty());
}

TEST(StowResponse, XmlRefusalAndWarningReasonsAreReadPerInstance) {
  auto parsed = parseStowResponse(kXmlRefusalAndWarning, "application/dicom+xml");
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->instances.size(), 3u);
  EXPECT_TRUE(parsed->instances.at("9.8.7").failed);
  EXPECT_EQ(parsed->instances.at("9.8.7").reason.value_or(0), 0x0122);  // SOP class not supported
  EXPECT_EQ(parsed->instances.at("9.8.7").sop_class_uid, "1.2.840.10008.5.1.4.1.1.104.3");
  EXPECT_FALSE(parsed->instances.at("9.8.8").failed);
  EXPECT_EQ(parsed->instances.at("9.8.8").reason.value_or(0), 0xB000);
  EXPECT_FALSE(parsed->instances.at("9.8.9").failed);
  EXPECT_FALSE(parsed->instances.at("9.8.9").reason);
}

TEST(StowResponse, BodiesThatAreNoStowResponseGiveNothing) {
  EXPECT_FALSE(parseStowResponse("", "application/dicom+json"));
  EXPECT_FALSE(parseStowResponse("   \r\n", ""));
  EXPECT_FALSE(parseStowResponse("<html><body>Service Unavailable</body></html>", "text/html"));
  EXPECT_FALSE(parseStowResponse("{\"error\": \"unauthorized\"}", "application/json"));
  EXPECT_FALSE(parseStowResponse("{not json", "application/dicom+json"));
  EXPECT_FALSE(parseStowResponse("Unauthorized", "text/plain"));
}
