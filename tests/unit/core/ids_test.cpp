#include <gtest/gtest.h>

#include <set>

#include "volnode/core/ids.hpp"

using namespace volnode;

TEST(Ids, UuidsAreCanonicalAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto uuid = newUuid();
    ASSERT_EQ(uuid.size(), 36u);
    EXPECT_EQ(uuid[14], '4');
    EXPECT_TRUE(seen.insert(uuid).second);
  }
}

TEST(Ids, DicomUidsAreValidUids) {
  for (const std::string root : {"", "1.2.826.0.1.3680043.10.999"}) {
    for (int i = 0; i < 200; ++i) {
      auto uid = newDicomUid(root);
      ASSERT_LE(uid.size(), 64u) << uid;
      EXPECT_EQ(uid.find(".."), std::string::npos);
      EXPECT_NE(uid.back(), '.');
      EXPECT_EQ(uid.find_first_not_of("0123456789."), std::string::npos) << uid;
      // no component with a leading zero
      for (size_t p = uid.find('.'); p != std::string::npos; p = uid.find('.', p + 1))
        EXPECT_FALSE(uid[p + 1] == '0' && p + 2 < uid.size() && uid[p + 2] != '.') << uid;
      EXPECT_EQ(uid.rfind(root.empty() ? "2.25." : root, 0), 0u);
    }
  }
}
