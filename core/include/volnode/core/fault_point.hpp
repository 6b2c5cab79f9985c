#pragma once
// Crash-consistency tests need the process to die between two particular steps,
// as kill -9 or a power cut would. faultPoint("name") ends the process at once
// (_exit, no destructors, no commit) when the environment variable
// VOLNODE_FAULT_POINT names that point and the marker file
// VOLNODE_FAULT_MARKER does not exist yet; it creates the marker first, so the
// fault fires once and the restarted process runs through. Without the
// variables (always, outside the reliability tests) it does nothing.
#include <string_view>

namespace volnode {

void faultPoint(std::string_view name) noexcept;

}  // namespace volnode
