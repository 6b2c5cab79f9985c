// Developer helper: prints what `volnode inspect` will report for a folder
// (the real CLI lives in the app). Usage: volnode_inspect_dir DIR [--json]
#include <cstring>
#include <iostream>

#include "volnode/core/error.hpp"
#include "volnode/workflow/inspect.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " DIR [--json]\n";
    return 2;
  }
  try {
    const auto rules = volnode::RuleSet::defaults();
    const auto report = volnode::inspectDirectory(argv[1], &rules);
    const bool json = argc > 2 && std::strcmp(argv[2], "--json") == 0;
    std::cout << (json ? volnode::toJson(report) : volnode::toText(report)) << "\n";
  } catch (const volnode::Error& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  return 0;
}
