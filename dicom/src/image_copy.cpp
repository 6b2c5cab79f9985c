#include "volnode/dicom/image_copy.hpp"

#include <algorithm>
#include <memory>
#include <vector>

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcostrmb.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>

#include "dcmtk_access.hpp"
#include "volnode/core/error.hpp"

namespace volnode::dicom {

std::string decodableGrayscaleCopy(const DicomFile& source, const GrayscaleImage& image) {
  const std::string name = source.path().string();
  DcmDataset* in = DcmtkAccess::format(source).getDataset();
  E_TransferSyntax xfer = in->getOriginalXfer();
  if (xfer == EXS_Unknown || xfer == EXS_DeflatedLittleEndianExplicit) xfer = EXS_LittleEndianExplicit;
  DcmElement* found = nullptr;
  auto* pixels = in->findAndGetElement(DCM_PixelData, found).good() ? dynamic_cast<DcmPixelData*>(found) : nullptr;
  if (!pixels) throw Error(Errc::InvalidDicom, name + ": no pixel data");

  // The decoder's copy of the pixel data: the same bytes or fragments, in a fresh element.
  const bool words = pixels->getVR() != EVR_OB && image.bits_allocated > 8;
  auto fresh = std::make_unique<DcmPixelData>(DcmTag(DCM_PixelData, words ? EVR_OW : EVR_OB));
  OFCondition status;
  if (DcmXfer(xfer).isEncapsulated()) {
    E_TransferSyntax original = EXS_Unknown;
    const DcmRepresentationParameter* parameters = nullptr;
    pixels->getOriginalRepresentationKey(original, parameters);
    DcmPixelSequence* fragments = nullptr;
    if (pixels->getEncapsulatedRepresentation(original, parameters, fragments).bad() || !fragments)
      throw Error(Errc::InvalidDicom, name + ": compressed pixel data without fragments");
    fresh->putOriginalRepresentation(xfer, nullptr, new DcmPixelSequence(*fragments));
  } else {
    Uint8* bytes = nullptr;
    const unsigned long length = pixels->getLength(xfer, EET_ExplicitLength);
    if (pixels->getUint8Array(bytes).bad() || (!bytes && length > 0))
      throw Error(Errc::InvalidDicom, name + ": pixel data cannot be read");
    status = words ? fresh->putUint16Array(reinterpret_cast<const Uint16*>(bytes), length / 2)
                   : fresh->putUint8Array(bytes, length);
    if (status.bad()) throw Error(Errc::InvalidDicom, name + ": pixel data cannot be read: " + status.text());
  }

  DcmFileFormat copy;
  DcmDataset* out = copy.getDataset();
  const int stored = std::clamp(image.bits_stored, 1, image.bits_allocated);
  OFString photometric;
  in->findAndGetOFString(DCM_PhotometricInterpretation, photometric);
  // The SOP class tells the decoder how to read the image (enhanced multi-frame or not);
  // the instance UID is only there for the meta header.
  OFString sop_class;
  in->findAndGetOFString(DCM_SOPClassUID, sop_class);
  if (!sop_class.empty() && sop_class.size() <= 64 &&
      sop_class.find_first_not_of("0123456789.") == OFString_npos)
    out->putAndInsertString(DCM_SOPClassUID, sop_class.c_str());
  out->putAndInsertString(DCM_SOPInstanceUID, "1.2.3");
  out->putAndInsertString(DCM_PhotometricInterpretation,
                          photometric.find("MONOCHROME1") != OFString_npos ? "MONOCHROME1" : "MONOCHROME2");
  out->putAndInsertUint16(DCM_SamplesPerPixel, 1);
  out->putAndInsertUint16(DCM_Rows, Uint16(image.rows));
  out->putAndInsertUint16(DCM_Columns, Uint16(image.columns));
  if (image.number_of_frames > 1)
    out->putAndInsertString(DCM_NumberOfFrames, std::to_string(image.number_of_frames).c_str());
  out->putAndInsertUint16(DCM_BitsAllocated, Uint16(image.bits_allocated));
  out->putAndInsertUint16(DCM_BitsStored, Uint16(stored));
  out->putAndInsertUint16(DCM_HighBit, Uint16(stored - 1));
  out->putAndInsertUint16(DCM_PixelRepresentation, image.pixel_representation != 0 ? 1 : 0);
  out->insert(fresh.release(), true);

  std::string bytes;
  std::vector<char> chunk(size_t(1) << 20);
  DcmOutputBufferStream stream(chunk.data(), offile_off_t(chunk.size()));
  auto drain = [&] {
    void* data = nullptr;
    offile_off_t length = 0;
    stream.flushBuffer(data, length);
    bytes.append(static_cast<const char*>(data), size_t(length));
  };
  copy.transferInit();
  do {
    status = copy.write(stream, xfer, EET_ExplicitLength, nullptr, EGL_recalcGL, EPD_noChange, 0, 0, 0,
                        EWM_createNewMeta);
    drain();
  } while (status == EC_StreamNotifyClient);
  copy.transferEnd();
  if (status.bad())
    throw Error(Errc::InvalidDicom, name + ": cannot prepare the pixel data for decoding: " + status.text());
  stream.flush();
  drain();
  return bytes;
}

}  // namespace volnode::dicom
