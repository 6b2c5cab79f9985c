#include "json_views.hpp"

namespace volnode {

nlohmann::json toJson(const StudySummary& s) {
  return {
      {"StudyInstanceUID", s.study_uid},
      {"StudyDate", s.study_date},
      {"StudyTime", s.study_time},
      {"AccessionNumber", s.accession_number},
      {"StudyID", s.study_id},
      {"StudyDescription", s.study_description},
      {"ReferringPhysicianName", s.referring_physician},
      {"PatientID", s.patient_id},
      {"IssuerOfPatientID", s.issuer_of_patient_id},
      {"PatientName", s.patient_name},
      {"PatientBirthDate", s.patient_birth_date},
      {"PatientSex", s.patient_sex},
      {"ModalitiesInStudy", s.modalities},
      {"series", s.series_count},
      {"instances", s.instances},
      {"first_received", s.first_received},
      {"last_received", s.last_received},
  };
}

nlohmann::json toJson(const SeriesSummary& s) {
  return {
      {"SeriesInstanceUID", s.series_uid},
      {"StudyInstanceUID", s.study_uid},
      {"Modality", s.modality},
      {"SeriesDescription", s.series_description},
      {"SeriesNumber", s.series_number},
      {"BodyPartExamined", s.body_part},
      {"ProtocolName", s.protocol_name},
      {"FrameOfReferenceUID", s.frame_of_reference},
      {"calling_aet", s.calling_aet},
      {"instances", s.instances},
      {"conflicts", s.conflicts},
      {"first_received", s.first_received},
      {"last_received", s.last_received},
      {"state", s.state},
      {"state_reason", s.state_reason},
      {"state_time", s.state_time},
  };
}

nlohmann::json toJson(const SeriesTransition& t) {
  return {{"state", t.state}, {"reason", t.reason}, {"at", t.at}};
}

nlohmann::json toJson(const HealthReport& h, const IndexCounts& c) {
  bool disk_ok = h.accepting_instances;
  bool healthy = h.dicom_listening && disk_ok;
  return {
      {"status", healthy ? "ok" : "degraded"},
      {"version", h.version},
      {"uptime_s", h.uptime_s},
      {"dicom",
       {{"listening", h.dicom_listening},
        {"aet", h.dicom_aet},
        {"port", h.dicom_port},
        {"active_associations", h.active_associations},
        {"associations_total", h.associations_total},
        {"associations_refused", h.associations_refused},
        {"error", h.dicom_error}}},
      {"storage",
       {{"dir", h.storage_dir},
        {"disk_free_mb", h.disk_free_mb},
        {"min_free_mb", h.min_free_mb},
        {"accepting_instances", h.accepting_instances},
        {"reason", h.not_accepting_reason}}},
      {"index",
       {{"patients", c.patients},
        {"studies", c.studies},
        {"series", c.series},
        {"instances", c.instances},
        {"bytes", c.bytes},
        {"instances_today", c.instances_today}}},
  };
}

}  // namespace volnode
