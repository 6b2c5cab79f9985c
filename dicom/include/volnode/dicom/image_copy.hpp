#pragma once
// The copy of a received image that a pixel decoder reads instead of the file itself.
//
// GDCM (the decoder ITK ships) never reads a received file. Debian's GDCM is built with
// its assertions on, and where its reading of a file drifts from DCMTK's, or a value is
// not what it expects, it ends the process or trusts a stray length: a File Meta
// Information VR "uI" (one flipped bit) or a PixelRepresentation of the wrong length
// hits an assert() and aborts; an unknown VR or a misplaced element makes it take text
// for a 32-bit length ("Fuzz": 2 GB, zero-filled, on each decoding thread). A sender can
// do any of these. So the decoder gets a file written here with DCMTK: a new meta
// header, the image attributes the caller read and checked, written as DCMTK writes
// them, and the pixel data taken over as they are -- the bytes, or the fragments of a
// compressed stream -- in the file's own transfer syntax (deflated data sets are
// inflated). The source went through DicomFile::open, so its structure and pixel data
// length were checked before.
#include <string>

#include "volnode/dicom/dicom_file.hpp"

namespace volnode::dicom {

// One grey-scale image (one sample per pixel), as the caller read and checked it.
struct GrayscaleImage {
  int rows = 0;
  int columns = 0;
  int bits_allocated = 16;
  int bits_stored = 16;
  int pixel_representation = 0;  // 1: signed
  int number_of_frames = 1;
};

// The bytes of a Part 10 file holding only `image` and the source's pixel data. Throws
// Error(Errc::InvalidDicom, "<file>: <reason>") when the pixel data cannot be taken over.
std::string decodableGrayscaleCopy(const DicomFile& source, const GrayscaleImage& image);

}  // namespace volnode::dicom
