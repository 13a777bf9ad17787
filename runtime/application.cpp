#include <cairn/application.hpp>

#include <dlfcn.h>

#include <cstring>

#include <cairn/errors.hpp>
#include <cairn/validation.hpp>

namespace cairn {

Application& Application::add(const ActorSpec& spec) {
  if (spec.stream_prefix.empty()) throw BadInput("actor " + spec.name + ": the stream prefix must not be empty");
  for (const auto& other : actors_)
    if (other.name == spec.name || other.stream_prefix == spec.stream_prefix)
      throw BadInput("actor " + spec.name + " clashes with actor " + other.name + " (same name or stream prefix)");
  for (const auto& type : spec.types) types_.add(type);
  actors_.push_back(spec);
  return *this;
}

Application& Application::add(std::shared_ptr<Consumer> consumer) {
  const auto& options = consumer->options();
  validate_type(options.group);  // group ids follow the type-name rules: letters, digits, . _ - : /
  // Names Cairn gives its own groups: the delivery of commands and each actor's reactions.
  if (options.group.rfind("cairn.", 0) == 0 ||
      (options.group.size() > 10 && options.group.compare(options.group.size() - 10, 10, ".reactions") == 0))
    throw BadInput("consumer group name " + options.group + " is reserved (cairn.* and *.reactions are Cairn's own)");
  if (options.types.empty()) throw BadInput("consumer group " + options.group + " handles no event types");
  for (const auto& other : consumers_)
    if (other->options().group == options.group) throw BadInput("two consumer groups are named " + options.group);
  consumers_.push_back(std::move(consumer));
  return *this;
}

std::vector<ReadModelTable> Application::read_model_tables() const {
  std::vector<ReadModelTable> tables;
  for (const auto& consumer : consumers_)
    for (auto& table : consumer->read_model_tables()) tables.push_back(std::move(table));
  return tables;
}

const ActorSpec* Application::actor_for_stream(std::string_view stream_id) const {
  const ActorSpec* best = nullptr;
  for (const auto& spec : actors_)
    if (stream_id.substr(0, spec.stream_prefix.size()) == spec.stream_prefix &&
        (!best || spec.stream_prefix.size() > best->stream_prefix.size()))
      best = &spec;
  return best;
}

const ActorSpec* Application::actor_named(std::string_view name) const {
  for (const auto& spec : actors_)
    if (spec.name == name) return &spec;
  return nullptr;
}

void load_module(Application& app, const std::string& path) {
  // dlopen searches LD_LIBRARY_PATH and the system's directories for a name without a slash.
  if (path.find('/') == std::string::npos)
    throw BadInput("application module '" + path + "' must be a path (e.g. ./" + path +
                   "): a bare name would be looked up in the system's library paths");
  // Modules stay loaded for the life of the process: the registered handlers point into them.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw BadInput("cannot load application module " + path + ": " + dlerror());
  using Stamp = const char* (*)();
  auto stamp = reinterpret_cast<Stamp>(dlsym(handle, "cairn_module_abi"));
  auto refuse = [&](const std::string& reason) {
    dlclose(handle);
    return BadInput(reason);
  };
  if (!stamp)
    throw refuse(path + " carries no Cairn ABI stamp: rebuild it with CAIRN_MODULE against Cairn " CAIRN_VERSION);
  if (std::strcmp(stamp(), CAIRN_MODULE_ABI) != 0)
    throw refuse(path + " was built for \"" + stamp() + "\" but this is \"" CAIRN_MODULE_ABI
                 "\": rebuild the module against this Cairn");
  using Register = void (*)(Application&);
  auto entry = reinterpret_cast<Register>(dlsym(handle, "cairn_register_module"));
  if (!entry) throw refuse(path + " is not a Cairn module: it has no cairn_register_module (use CAIRN_MODULE)");
  entry(app);
}

}  // namespace cairn
