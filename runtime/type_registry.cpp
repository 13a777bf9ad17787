#include <cairn/type_registry.hpp>

#include <cairn/errors.hpp>
#include <cairn/validation.hpp>

namespace cairn {

void TypeRegistry::add(const TypeInfo& info) {
  validate_type(info.name);
  auto [it, inserted] = types_.emplace(info.name, info);
  if (inserted) return;
  if (it->second.revision != info.revision)
    throw BadInput("message type " + info.name + " is registered with revisions " +
                   std::to_string(it->second.revision) + " and " + std::to_string(info.revision));
  if (it->second.kind != info.kind)
    throw BadInput("message type " + info.name + " is registered both as a command and as an event");
}

void TypeRegistry::add_upcaster(const std::string& type, int from_revision, Upcaster upcaster) {
  upcasters_[{type, from_revision}] = std::move(upcaster);
}

const TypeInfo* TypeRegistry::find(std::string_view type) const {
  auto it = types_.find(type);
  return it == types_.end() ? nullptr : &it->second;
}

void TypeRegistry::upcast(Message& message) const {
  const auto* info = find(message.type);
  if (!info || message.revision == info->revision) return;
  if (message.revision > info->revision)
    throw BadInput(message.type + " revision " + std::to_string(message.revision) + " (message " + message.id +
                   ") is newer than this build's revision " + std::to_string(info->revision));
  while (message.revision < info->revision) {
    auto it = upcasters_.find({message.type, message.revision});
    if (it == upcasters_.end())
      throw BadInput("no upcaster for " + message.type + " from revision " + std::to_string(message.revision));
    message.payload = it->second(std::move(message.payload));
    ++message.revision;
  }
}

}  // namespace cairn
