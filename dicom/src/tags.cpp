#include "volnode/dicom/tags.hpp"

#include <cstdio>

namespace volnode::dicom {

std::string toString(Tag tag) {
  char text[16];
  std::snprintf(text, sizeof text, "(%04X,%04X)", unsigned(tag.group), unsigned(tag.element));
  return text;
}

}  // namespace volnode::dicom
