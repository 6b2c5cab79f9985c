#include "volnode/workflow/render_annotation.hpp"

namespace volnode {

std::string expandAnnotation(std::string text, const StudySummary& study, const SeriesSummary& series,
                             bool* has_identifiers) {
  const std::pair<const char*, std::string> fields[] = {
      {"{PatientID}", study.patient_id},       {"{PatientName}", study.patient_name},
      {"{StudyDate}", study.study_date},       {"{AccessionNumber}", study.accession_number},
      {"{Modality}", series.modality},         {"{SeriesDescription}", series.series_description}};
  *has_identifiers = false;
  for (const auto& [key, value] : fields) {
    for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at + value.size())) {
      text.replace(at, std::string(key).size(), value);
      if (std::string(key) != "{Modality}" && std::string(key) != "{SeriesDescription}" && !value.empty())
        *has_identifiers = true;
    }
  }
  auto end = text.find_last_not_of(' ');
  return end == std::string::npos ? std::string() : text.substr(0, end + 1);
}

}  // namespace volnode
