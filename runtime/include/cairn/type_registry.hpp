// The type registry: every known message type, its current revision, and upcasters for old revisions.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <cairn/message.hpp>

namespace cairn {

enum class MessageKind { command, event };

struct TypeInfo {
  std::string name;
  int revision = 1;
  MessageKind kind = MessageKind::event;
};

class TypeRegistry {
 public:
  using Upcaster = std::function<Json(Json)>;  // payload at revision r -> payload at r + 1

  // Registering the same type twice is fine when it agrees; a different revision or kind throws.
  void add(const TypeInfo& info);
  void add_upcaster(const std::string& type, int from_revision, Upcaster upcaster);
  const TypeInfo* find(std::string_view type) const;

  // Brings a stored message to its type's current revision. Throws BadInput when a step is missing
  // or the stored revision is newer than this build knows.
  void upcast(Message& message) const;

 private:
  std::map<std::string, TypeInfo, std::less<>> types_;
  std::map<std::pair<std::string, int>, Upcaster> upcasters_;
};

}  // namespace cairn
