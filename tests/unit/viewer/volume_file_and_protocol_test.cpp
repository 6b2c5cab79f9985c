// The prepared volume file keeps a volume exactly; the node and a viewer worker
// understand each other over a real Unix socket pair, and a cut-off message is
// no message.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "support/process.hpp"
#include "volnode/core/error.hpp"
#include "volnode/viewer/viewer_protocol.hpp"
#include "volnode/volume/volume_file.hpp"

using namespace volnode;

TEST(VolumeFile, RoundTripsGeometryAndVoxels) {
  test::TempDir dir("volnode-volume-file");
  Volume v;
  v.dimensions = {3, 4, 5};
  v.spacing = {0.5, 0.75, 2.5};
  v.origin = {-10, 20.5, 300};
  v.direction = {1, 0, 0, 0, 0, -1, 0, 1, 0};
  v.modality = "MR";
  v.series_instance_uid = "1.2.3";
  v.frame_of_reference_uid = "1.2.4";
  v.corrections = {"gantry tilt 10 deg resampled"};
  for (size_t n = 0; n < v.voxelCount(); ++n) v.voxels.push_back(int16_t(n * 997 % 65536 - 32768));
  writeVolumeFile(v, dir / "volume.vol");
  Volume back = readVolumeFile(dir / "volume.vol");
  EXPECT_EQ(back.dimensions, v.dimensions);
  EXPECT_EQ(back.spacing, v.spacing);
  EXPECT_EQ(back.origin, v.origin);
  EXPECT_EQ(back.direction, v.direction);
  EXPECT_EQ(back.modality, "MR");
  EXPECT_EQ(back.series_instance_uid, "1.2.3");
  EXPECT_EQ(back.corrections, v.corrections);
  EXPECT_EQ(back.voxels, v.voxels);
}

TEST(VolumeFile, ACutOffOrForeignFileIsRefused) {
  test::TempDir dir("volnode-volume-file");
  Volume v;
  v.dimensions = {8, 8, 8};
  v.voxels.assign(512, 7);
  writeVolumeFile(v, dir / "volume.vol");
  std::filesystem::resize_file(dir / "volume.vol", std::filesystem::file_size(dir / "volume.vol") - 10);
  EXPECT_THROW(readVolumeFile(dir / "volume.vol"), Error);
  std::ofstream(dir / "other.vol") << "P5 8 8 255\n";
  EXPECT_THROW(readVolumeFile(dir / "other.vol"), Error);
  EXPECT_THROW(readVolumeFile(dir / "missing.vol"), Error);
}

TEST(ViewerProtocol, RequestAndReplyCrossASocketPair) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  std::string big(3 << 20, '\0');
  for (size_t n = 0; n < big.size(); ++n) big[n] = char(n * 31);
  std::thread worker([&] {
    auto request = viewer::receiveRequest(fds[1]);
    ASSERT_TRUE(request);
    EXPECT_EQ(request->kind, "view3d");
    EXPECT_EQ(request->series_uid, "1.2.3");
    EXPECT_EQ(request->params.at("azimuth"), "90");
    viewer::ViewerReply reply;
    reply.content_type = "image/jpeg";
    reply.headers["X-Orientation-Letters"] = "A,P,H,F";
    reply.body = big;  // larger than a socket buffer
    EXPECT_TRUE(viewer::sendReply(fds[1], reply));
  });
  ASSERT_TRUE(viewer::sendRequest(fds[0], {"view3d", "1.2.3", {{"azimuth", "90"}, {"preset", "ct-bone"}}}));
  auto reply = viewer::receiveReply(fds[0], 10000);
  worker.join();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->headers.at("X-Orientation-Letters"), "A,P,H,F");
  EXPECT_EQ(reply->body, big);

  // A peer that says half a message and goes away: no reply, no hang.
  const uint32_t length = 100;
  ASSERT_EQ(::write(fds[1], &length, 4), 4);
  ::close(fds[1]);
  EXPECT_FALSE(viewer::receiveReply(fds[0], 10000));
  ::close(fds[0]);
}
