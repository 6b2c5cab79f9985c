// dicom.max_associations counts open associations. A peer that pushes a backlog
// releases one association and opens the next at once (Orthanc does): the worker of
// the released one may still be winding down when the next request arrives. That
// peer must be served, not refused as if the node were full.
#include <gtest/gtest.h>
#include <dcmtk/dcmdata/dcuid.h>

#include "reliability_support.hpp"

using namespace volnode::test;
using namespace volnode::test::reliability;

TEST(AssociationReuse, APeerOpeningItsNextAssociationRightAfterReleaseIsServedAtTheLimit) {
  TempDir dir("volnode-rel-reuse");
  NodeProcess node(dir / "node", {noRendering(dir.path()), "dicom.max_associations=1"});
  constexpr int kRounds = 40;
  int refused = 0;
  std::string last_error;
  for (int i = 0; i < kRounds; ++i) {
    RawAssociation association;
    if (!association.open(node.dicomPort(), UID_VerificationSOPClass, UID_LittleEndianImplicitTransferSyntax)) {
      ++refused;
      last_error = association.lastError();
      continue;
    }
    association.release();  // waits for A-RELEASE-RP, then the next opens at once
  }
  EXPECT_EQ(refused, 0) << refused << " of " << kRounds
                        << " associations opened right after a release were refused; last: " << last_error << "\n"
                        << node.log();
  EXPECT_TRUE(node.running());
  node.kill9();
}
