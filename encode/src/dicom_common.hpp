#pragma once
// DCMTK helpers shared by the SC and STL encoders (private to volnode_encode).
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcfilefo.h>

#include <filesystem>
#include <span>
#include <string>

#include "volnode/encode/encode.hpp"

namespace volnode::encode_detail {

// Throws Error(InvalidArgument) for a UID that is not <digits and dots>, <= 64, no leading zeros.
void checkUid(const std::string& uid, const char* what);
// Validates a plan (UIDs, series/instance numbers, created).
void checkPlan(const ObjectPlan& plan);

// Text safe for a LO/SH/ST value in the identity's character set: '\\' replaced,
// non-ASCII bytes replaced by '?' unless the set is ISO_IR 192 (UTF-8), cut to
// max_bytes on a character boundary.
std::string safeText(const OutputIdentity& identity, const std::string& text, size_t max_bytes);

// Patient and General Study modules and SpecificCharacterSet, copied from the identity
// (absent Type 2 attributes are written empty, absent Type 3/1C ones are left out).
void putIdentity(DcmDataset& d, const OutputIdentity& identity);

// SOP Common, General Series (Modality given), instance number and the
// Series/Content/InstanceCreation date and time from plan.created.
void putSeriesAndInstance(DcmDataset& d, const OutputIdentity& identity, const ObjectPlan& plan,
                          const char* sop_class_uid, const std::string& modality);

// Coded entry (CodeValue, CodingSchemeDesignator, CodeMeaning) as a new item of `sequence`.
void addCode(DcmDataset& d, const DcmTagKey& sequence, const char* value, const char* scheme, const char* meaning);
void addCode(DcmItem& item, const DcmTagKey& sequence, const char* value, const char* scheme, const char* meaning);

// SourceImageSequence: the images given, purpose (121322, DCM, "Source image for
// image processing operation"). Nothing when none are given.
void putSourceImages(DcmDataset& d, std::span<const SourceInstance> sources);
// ReferencedSeriesSequence (Common Instance Reference) to the source series and the
// images given (every source image of the identity: the overload without them).
// Nothing when none are given: the module lists instances referenced elsewhere.
void putReferencedSeries(DcmDataset& d, const OutputIdentity& identity, std::span<const SourceInstance> sources);
void putReferencedSeries(DcmDataset& d, const OutputIdentity& identity);

// Throws Error(Internal) when a put failed (a programming error, not bad input).
void check(const OFCondition& status, const char* what);

// Writes Explicit VR Little Endian to out_dir/name via a temporary file; returns the size.
// pixel_data, when given: written as the PixelData (OW) after the dataset, straight from
// the caller's memory (a large image is not copied into the dataset first); the
// dataset must then have no PixelData and nothing after it. Only where
// canAppendPixelData() (the words are written in the machine's byte order).
uintmax_t saveFile(DcmFileFormat& file, const std::filesystem::path& path, std::span<const int16_t> pixel_data = {});
bool canAppendPixelData();

// Saves the object as out_dir/fileNameFor(plan) and describes what was written.
EncodedObject saveObject(DcmFileFormat& file, const OutputIdentity& identity, const ObjectPlan& plan,
                         const std::string& sop_class_uid, int frames, const std::filesystem::path& out_dir,
                         std::span<const int16_t> pixel_data = {});

// "<series number>-<instance number>-<slug of the description>.dcm"
std::string fileNameFor(const ObjectPlan& plan);
std::string slug(const std::string& text);

// Formats a DS value (at most 16 characters).
std::string formatDs(double value);

}  // namespace volnode::encode_detail
