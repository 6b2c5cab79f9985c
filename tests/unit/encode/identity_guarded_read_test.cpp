// The identity copier reads its source files through the guarded reader: a source
// nested far deeper than any real object is refused with its reason on an ordinary
// thread instead of overflowing the thread's stack inside DCMTK's parser.
#include <gtest/gtest.h>

#include <thread>

#include "encode_test_support.hpp"
#include "support/hostile_dicom.hpp"

namespace volnode::test {
namespace {

TEST(OutputIdentity, ADeeplyNestedSourceIsRefusedNamingTheDepth) {
  TempDir tmp("encode-guarded");
  const auto source = writeSource(tmp / "src", SourcePatient{});
  insertBeforePixelData(source.files[1], nestedSequences(20000));

  std::string reason;
  Errc code = Errc::Internal;
  std::thread reader([&] {
    try {
      readOutputIdentity(source.files);
    } catch (const Error& e) {
      code = e.code();
      reason = e.what();
    }
  });
  reader.join();
  EXPECT_EQ(code, Errc::InvalidDicom) << reason;
  EXPECT_NE(reason.find(source.files[1].string() + ": byte "), std::string::npos) << reason;
  EXPECT_NE(reason.find("sequences nested deeper than 64 levels"), std::string::npos) << reason;

  // The other files of the series are read as before.
  const OutputIdentity identity = readOutputIdentity({source.files[0], source.files[2]});
  EXPECT_EQ(identity.sourceInstances().size(), 2u);
}

}  // namespace
}  // namespace volnode::test
