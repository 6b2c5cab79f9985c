// Per-host association accounting (dicom.max_associations_per_host): one address
// holds at most its share, other addresses are not affected, and a claim moves
// with its association until the association ends.
#include "host_claims.hpp"

#include <gtest/gtest.h>

using volnode::HostClaims;

namespace {
// Stand-ins for associations: only their addresses are used, as keys.
int first, second, third, fourth;
}  // namespace

TEST(HostClaims, OneAddressHoldsAtMostItsLimitWhileOthersAreServed) {
  HostClaims claims(2);
  EXPECT_TRUE(claims.claim(&first, "10.0.0.5"));
  EXPECT_TRUE(claims.claim(&second, "10.0.0.5"));
  EXPECT_FALSE(claims.claim(&third, "10.0.0.5"));
  EXPECT_EQ(claims.activeFrom("10.0.0.5"), 2);
  EXPECT_EQ(claims.take(&third), "") << "a refused claim is not recorded";
  EXPECT_TRUE(claims.claim(&fourth, "10.0.0.6"));
  EXPECT_EQ(claims.activeFrom("10.0.0.6"), 1);
}

TEST(HostClaims, ASessionTakesTheClaimOverAndReleasingItFreesTheSlot) {
  HostClaims claims(1);
  ASSERT_TRUE(claims.claim(&first, "10.0.0.5"));
  // The session takes the claim when it starts; its key is no longer needed.
  const std::string peer = claims.take(&first);
  EXPECT_EQ(peer, "10.0.0.5");
  EXPECT_EQ(claims.take(&first), "");
  EXPECT_EQ(claims.activeFrom("10.0.0.5"), 1) << "taken over, still counted";
  EXPECT_FALSE(claims.claim(&second, "10.0.0.5"));
  claims.release(peer);
  EXPECT_EQ(claims.activeFrom("10.0.0.5"), 0);
  EXPECT_TRUE(claims.claim(&second, "10.0.0.5"));
}

TEST(HostClaims, ReleasingNothingChangesNothing) {
  HostClaims claims(1);
  ASSERT_TRUE(claims.claim(&first, "10.0.0.5"));
  claims.release("");  // an association that never had a claim (no limit configured)
  EXPECT_EQ(claims.activeFrom("10.0.0.5"), 1);
  EXPECT_EQ(claims.take(&second), "");
}

TEST(HostClaims, AReusedAssociationAddressCarriesOnlyItsNewClaim) {
  // The acceptor takes a claim back before destroying a refused association, whose
  // address the next association may get at once.
  HostClaims claims(2);
  ASSERT_TRUE(claims.claim(&first, "10.0.0.5"));
  claims.release(claims.take(&first));
  ASSERT_TRUE(claims.claim(&first, "10.0.0.7"));
  EXPECT_EQ(claims.activeFrom("10.0.0.5"), 0);
  EXPECT_EQ(claims.take(&first), "10.0.0.7");
}
