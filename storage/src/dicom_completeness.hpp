#pragma once
// Whether the bytes of a data set are whole: every element's value is there to
// its last byte and every sequence or item of undefined length is closed by its
// delimiter, up to the last byte of the file.
//
// Why not DCMTK's full parse alone: it reports a value cut short (also inside
// Pixel Data), but it accepts a file that ends right after the header of an
// undefined-length element (a pixel sequence or sequence with no item yet), and
// no parser can see a cut exactly between two elements. The walk catches the
// first; the caller catches the second for images by requiring Pixel Data.
#include <string>
#include <string_view>

namespace volnode {

struct DatasetEncoding {
  bool explicit_vr = true;
  bool big_endian = false;
};

struct DatasetStructure {
  std::string incomplete;   // why the data set is not whole; empty when it is
  bool pixel_data = false;  // a top-level (7FE0,0008), (7FE0,0009) or (7FE0,0010) element is present
};

// Walks the element headers only (values are skipped, never interpreted): cheap,
// and safe on hostile bytes (bounds-checked, no recursion).
DatasetStructure walkDataset(std::string_view dataset, DatasetEncoding encoding);

}  // namespace volnode
