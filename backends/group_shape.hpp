// The rule for a group whose code changed: which shape changes a process may adopt on its own
// (both backends apply it; README "Changing a consumer group" explains it to users).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <cairn/store.hpp>

namespace cairn {

// Same slice count and only added types, none of which a cursor has passed: adopted (the union is
// stored, the generation bumped). Fewer types, other slices, or added types with events already
// passed: refused, with the way forward. `passed(added)` counts events of those types at or
// before the cursor of their slice; `store(types, bump)` records the types. `stored` is a copy:
// `store` may change the original.
ShapeCheck apply_shape_rule(GroupState stored, const GroupShape& shape,
                            const std::function<int64_t(const std::vector<std::string>& added)>& passed,
                            const std::function<void(const std::vector<std::string>& types, bool bump)>& store);

}  // namespace cairn
