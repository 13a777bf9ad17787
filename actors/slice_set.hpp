// The slices of one consumer group that this process owns: their fenced leases, the group as last
// read, and this process's fair share of the slices among the group's members.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/group_runner.hpp"

namespace cairn {

class SliceSet {
 public:
  explicit SliceSet(const RunnerContext& context);
  ~SliceSet();

  const GroupState& group() const { return group_; }
  bool empty() const { return owned_.empty(); }
  std::vector<uint32_t> owned() const;
  Fence fence(uint32_t slice) const { return owned_.at(slice)->fence(); }
  uint32_t slice_of(const std::string& stream_id) const { return stream_hash(stream_id) % group_.slice_count; }

  struct Balance {
    std::vector<uint32_t> taken;     // new slices: their cursors are to be loaded
    std::optional<uint32_t> surplus;  // held beyond the fair share while another member has less
  };
  // Joins the group (while it runs and its stored shape fits this process's) and takes free
  // slices up to the fair share: the slice count over the members, rounded up.
  Balance balance();

  enum class Change { none, generation, stop };
  // The group as stored now. `stop`: paused, or reshaped by another version (give every slice
  // up, with `why`); `generation`: reset or reshaped, so the cursors are to be loaded again.
  Change refresh(std::string& why);
  // Slices whose lease session is gone.
  std::vector<uint32_t> lost();

  void release(uint32_t slice, const std::string& what, const std::string& why = "");
  // Every slice, and the membership: a paused or reshaped group is nobody's share.
  void release_all(const std::string& what, const std::string& why = "");

 private:
  bool admitted();  // the group runs and takes this process's shape
  void log(LogLevel level, std::string message) const;

  const RunnerContext& context_;
  GroupShape shape_;
  GroupState group_;
  std::unique_ptr<GroupMembership> membership_;
  std::map<uint32_t, std::unique_ptr<SliceLease>> owned_;
  std::map<uint32_t, int> free_rounds_;  // balance rounds in a row a slice has been free
  std::string refusal_;                  // the last reason the group's shape was refused (logged once)
};

}  // namespace cairn
