#pragma once
// What the storage SCP hands received data to. The SCP knows nothing of the
// store or the index; the application wires this interface to them.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace volnode {

struct AssociationInfo {
  int64_t id = 0;               // given by the sink when the association is accepted
  std::string calling_aet;
  std::string called_aet;
  std::string peer_host;
};

struct AssociationStats {
  int64_t instances = 0;        // instances answered with Success
  int64_t bytes = 0;
  int64_t failures = 0;         // C-STOREs answered with a failure status
  double duration_s = 0;
  std::string outcome;          // released | aborted | interrupted
};

// Expected outcomes of keeping one instance; the SCP turns them into DIMSE statuses.
enum class InstanceDisposition { Kept, Duplicate, KeptConflict, OutOfSpace, Invalid, Failed };

struct DispositionResult {
  InstanceDisposition disposition = InstanceDisposition::Failed;
  std::string reason;
  uint64_t bytes = 0;
};

// One incoming instance: the SCP writes the received bytes to file(), then calls
// keep(). Destroying it without keep() discards the file.
class PendingInstance {
 public:
  virtual ~PendingInstance() = default;
  virtual const std::filesystem::path& file() const = 0;
  virtual DispositionResult keep(const std::string& sop_class_uid, const std::string& sop_instance_uid,
                                 const AssociationInfo& association) = 0;
};

class InstanceSink {
 public:
  virtual ~InstanceSink() = default;
  // False while instances cannot be kept (e.g. disk below the watermark), with the reason.
  virtual bool acceptsInstances(std::string* why) = 0;
  virtual std::unique_ptr<PendingInstance> prepareInstance() = 0;
  virtual int64_t associationAccepted(const AssociationInfo& association) = 0;
  virtual void associationEnded(const AssociationInfo& association, const AssociationStats& stats) = 0;
  virtual void associationRefused(const AssociationInfo& association, const std::string& reason) = 0;
};

}  // namespace volnode
