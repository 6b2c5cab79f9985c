#include "result_headers.hpp"

#include "instance_attributes.hpp"

namespace volnode {

void ResultHeaders::complete(QidoRow& row, const std::filesystem::path& file) {
  auto found = entries_.find(file);
  if (found == entries_.end() || found->second.size != row.file_size) {
    if (entries_.size() >= kMaxEntries) entries_.clear();
    Entry entry{row.file_size, std::nullopt};
    try {
      entry.attributes = readInstanceAttributes(file);
    } catch (const std::exception&) {
      // gone (retention) or not yet complete: answered without these attributes
    }
    found = entries_.insert_or_assign(file, std::move(entry)).first;
  }
  if (!found->second.attributes) return;
  const InstanceAttributes& a = *found->second.attributes;
  row.transfer_syntax_uid = a.transfer_syntax_uid;
  row.specific_character_set = a.specific_character_set;
  row.rows = a.rows;
  row.columns = a.columns;
  row.bits_allocated = a.bits_allocated;
  if (a.number_of_frames) row.number_of_frames = a.number_of_frames;
  row.pixel_spacing = a.pixel_spacing;
  row.image_position = a.image_position;
  row.image_orientation = a.image_orientation;
  row.slice_thickness = a.slice_thickness;
  row.image_type = a.image_type;
  row.frame_of_reference = a.frame_of_reference;
}

}  // namespace volnode
