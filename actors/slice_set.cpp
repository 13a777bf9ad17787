#include "actors/slice_set.hpp"

#include <algorithm>

namespace cairn {
namespace {

// A slice nobody takes for this many balance rounds is taken beyond the fair share: a member
// that joined but does not take its share (stuck, or on its way out) must not leave it unread.
constexpr int orphan_rounds = 3;

bool same_shape(const GroupState& group, const GroupShape& shape) {
  return group.slice_count == shape.slice_count && group.types == shape.types;
}

}  // namespace

SliceSet::SliceSet(const RunnerContext& context) : context_(context), shape_(context.consumer->options().shape()) {
  group_.group_id = context.consumer->options().group;
}

SliceSet::~SliceSet() { release_all("released"); }

std::vector<uint32_t> SliceSet::owned() const {
  std::vector<uint32_t> out;
  for (const auto& [slice, lease] : owned_) out.push_back(slice);
  return out;
}

bool SliceSet::admitted() {
  const auto& group_id = group_.group_id;
  auto known = context_.store->find_group(group_id);
  if (known && !known->active) {
    membership_.reset();
    context_.report->balanced(0, 0);  // a paused group wants no slice
    return false;
  }
  auto check = context_.store->check_shape(group_id, shape_);
  if (check.verdict == ShapeCheck::Verdict::refused) {
    if (refusal_ != check.reason) log(LogLevel::warn, "not running: " + check.reason);
    refusal_ = check.reason;
    context_.report->refused(refusal_);
    membership_.reset();
    return false;
  }
  refusal_.clear();
  if (check.verdict == ShapeCheck::Verdict::adopted)
    log(LogLevel::info, "group " + group_id + " now reads the event types of this version");
  group_ = check.group;
  return true;
}

SliceSet::Balance SliceSet::balance() {
  Balance out;
  if (owned_.empty() && !admitted()) return out;
  if (!membership_) membership_ = context_.store->join_group(group_.group_id);
  auto census = membership_->census();
  size_t slices = census.owners.size(), members = std::max<size_t>(census.members, 1);
  size_t share = (slices + members - 1) / members, floor = slices / members;
  std::map<std::string, size_t> held;  // by the other members
  size_t free = 0;
  for (uint32_t slice = 0; slice < slices; ++slice) {
    const auto& owner = census.owners[slice];
    // A slice of ours that the census shows free lost its lease: the runner gives it up (its
    // handlers done, its streams forgotten) before it may be taken again. Taken again at once, the
    // old lease's events still in the handlers would mix with the new lease's reads.
    if (!owner.empty() || owned_.count(slice)) {
      if (!owned_.count(slice)) ++held[owner];
      free_rounds_.erase(slice);
      continue;
    }
    ++free;
    bool orphaned = ++free_rounds_[slice] > orphan_rounds;
    if (owned_.size() >= share && !orphaned) continue;
    if (auto lease = context_.store->try_lease_slice(group_.group_id, slice, context_.owner)) {
      lease->free_when_silent(context_.options.stall_timeout);  // lost() asks every refresh
      owned_[slice] = std::move(lease);
      free_rounds_.erase(slice);
      out.taken.push_back(slice);
      context_.metrics->lease_held(slice, true);
      log(LogLevel::info, "took slice " + std::to_string(slice) + " of group " + group_.group_id);
    }
  }
  context_.report->balanced(owned_.size(), floor);
  // Another member short of its share, and no free slice for it: give one up.
  bool short_member = held.size() + 1 < members ||
                      std::any_of(held.begin(), held.end(), [&](const auto& h) { return h.second < floor; });
  if (owned_.size() > floor && short_member && free == 0 && out.taken.empty())
    out.surplus = owned_.rbegin()->first;
  return out;
}

SliceSet::Change SliceSet::refresh(std::string& why) {
  auto current = context_.store->find_group(group_.group_id);
  if (!current || !current->active) {
    why = "paused";
    return Change::stop;
  }
  if (!same_shape(*current, shape_)) {
    why = "gave up";
    return Change::stop;
  }
  bool moved = current->generation != group_.generation;
  group_ = *current;
  return moved ? Change::generation : Change::none;
}

std::vector<uint32_t> SliceSet::lost() {
  std::vector<uint32_t> out;
  for (const auto& [slice, lease] : owned_)
    if (!lease->alive()) out.push_back(slice);
  return out;
}

void SliceSet::release(uint32_t slice, const std::string& what, const std::string& why) {
  if (!owned_.erase(slice)) return;
  context_.metrics->lease_held(slice, false);
  context_.report->held(owned_.size());
  log(what == "lost" ? LogLevel::warn : LogLevel::info,
      what + " slice " + std::to_string(slice) + " of group " + group_.group_id + why);
}

void SliceSet::log(LogLevel level, std::string message) const {
  context_.log({.level = level, .message = std::move(message), .group = group_.group_id});
}

void SliceSet::release_all(const std::string& what, const std::string& why) {
  for (auto slice : owned()) release(slice, what, why);
  membership_.reset();
}

}  // namespace cairn
