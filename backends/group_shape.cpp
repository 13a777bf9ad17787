#include "backends/group_shape.hpp"

#include <algorithm>

namespace cairn {
namespace {

std::string joined(const std::vector<std::string>& types) {
  std::string out;
  for (const auto& t : types) out += (out.empty() ? "" : ", ") + t;
  return "[" + out + "]";
}

std::vector<std::string> minus(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::string> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

}  // namespace

ShapeCheck apply_shape_rule(GroupState stored, const GroupShape& shape,
                            const std::function<int64_t(const std::vector<std::string>& added)>& passed,
                            const std::function<void(const std::vector<std::string>& types, bool bump)>& store) {
  const auto& group = stored.group_id;
  auto refuse = [&](std::string reason) { return ShapeCheck{ShapeCheck::Verdict::refused, stored, std::move(reason)}; };
  if (stored.slice_count != shape.slice_count)
    return refuse("consumer group " + group + " has " + std::to_string(stored.slice_count) +
                  " slices, this process has " + std::to_string(shape.slice_count) + ": `cairn reset " + group +
                  " --app MODULE` re-slices it (and replays its history), or keep slices(" +
                  std::to_string(stored.slice_count) + ")");
  if (stored.types.empty() && !shape.types.empty()) {  // recorded by no process yet (cairn.commands reads every type: [])
    store(shape.types, false);
    auto now = stored;
    now.types = shape.types;
    return {ShapeCheck::Verdict::same, now, {}};
  }
  auto added = minus(shape.types, stored.types), missing = minus(stored.types, shape.types);
  if (!missing.empty())
    return refuse("consumer group " + group + " reads " + joined(missing) +
                  ", which this process has no handler for (an older version, or handlers removed): run the "
                  "version that has them, or `cairn reset " + group + " --app MODULE` to drop them");
  if (added.empty()) return {ShapeCheck::Verdict::same, stored, {}};
  if (auto count = passed(added); count > 0)
    return refuse("consumer group " + group + " has already passed " + std::to_string(count) + " events of " +
                  joined(added) + ", which this process handles and the group did not: `cairn reset " + group +
                  " --app MODULE` replays them into the new handlers, or give the consumer a new group name");
  store(shape.types, true);
  auto now = stored;
  now.types = shape.types;
  now.generation += 1;
  return {ShapeCheck::Verdict::adopted, now, {}};
}

}  // namespace cairn
