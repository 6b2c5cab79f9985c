#pragma once
// Files for the guarded reader's tests: one valid synthetic CT image written by DCMTK,
// then changed with DCMTK or byte by byte.
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>

#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dctk.h>

#include "support/process.hpp"
#include "support/synthetic_series.hpp"

namespace volnode::test {

// A 16x16 CT image in `dir`, Explicit VR Little Endian (or `syntax`).
inline std::filesystem::path writeImage(const std::filesystem::path& dir,
                                        SyntheticTransferSyntax syntax = SyntheticTransferSyntax::ExplicitLittle) {
  SyntheticSeries s;
  s.rows = s.cols = 16;
  s.slices = 1;
  s.transfer_syntax = syntax;
  return writeSyntheticSeries(s, dir).files.front();
}

// Loads `file` with DCMTK, lets `edit` change its data set and saves it in `syntax`.
inline void rewrite(const std::filesystem::path& file, const std::function<void(DcmDataset&)>& edit,
                    E_TransferSyntax syntax = EXS_LittleEndianExplicit,
                    E_EncodingType encoding = EET_UndefinedLength) {
  DcmFileFormat format;
  if (format.loadFile(file.c_str()).bad()) throw std::runtime_error("cannot reload " + file.string());
  // Values DCMTK left on disk would be read from the file while it is overwritten.
  format.loadAllDataIntoMemory();
  edit(*format.getDataset());
  const OFCondition saved = format.saveFile(file.c_str(), syntax, encoding);
  if (saved.bad()) throw std::runtime_error("cannot save " + file.string() + ": " + saved.text());
}

// `depth` nested ReferencedImageSequence items built with DCMTK.
inline void nest(DcmItem& top, int depth) {
  DcmItem* current = &top;
  for (int level = 0; level < depth; ++level) {
    auto* sequence = new DcmSequenceOfItems(DCM_ReferencedImageSequence);
    auto* item = new DcmItem();
    sequence->insert(item);
    current->insert(sequence, true);
    current = item;
  }
  current->putAndInsertString(DCM_ReferencedSOPInstanceUID, "1.2.3.4");
}

}  // namespace volnode::test
