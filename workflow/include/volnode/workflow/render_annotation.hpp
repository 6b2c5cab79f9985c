#pragma once
// The line a render burns into its frames (render.annotation, e.g. "{PatientID}
// {StudyDate}"), expanded for one series: the batch render and the interactive
// viewer draw the same text, so their frames agree.
#include <string>

#include "volnode/storage/index.hpp"

namespace volnode {

// Replaces {PatientID}, {PatientName}, {StudyDate}, {AccessionNumber}, {Modality} and
// {SeriesDescription}; *has_identifiers tells whether a patient identifier went in.
std::string expandAnnotation(std::string text, const StudySummary& study, const SeriesSummary& series,
                             bool* has_identifiers);

}  // namespace volnode
