#pragma once
// What storescu's output says was acknowledged: tests that stop a receiver mid-stream
// compare it with what the receiver kept.
#include <string>
#include <vector>

namespace volnode::test {

// Files storescu -v reported "Received Store Response (Success)" for, in order.
std::vector<std::string> acknowledgedFiles(const std::string& storescu_verbose_output);
// Number of "Received Store Response" lines with a given status word (e.g. "Success").
int responsesWith(const std::string& storescu_output, const std::string& word);

}  // namespace volnode::test
