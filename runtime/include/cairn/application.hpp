// An application: its actors and message types. Modules fill one through their registration function:
//
//   CAIRN_MODULE(app) { app.add(cart_actor()).add(order_actor()); }
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <memory>

#include <cairn/actor_definition.hpp>
#include <cairn/consumer.hpp>
#include <cairn/type_registry.hpp>
#include <cairn/version.hpp>

namespace cairn {

class Application {
 public:
  // Each add returns the application, so that a module chains them: app.add(a).add(b).
  Application& add(const ActorSpec& spec);
  template <class State>
  Application& add(const ActorDefinition<State>& definition) {
    return add(definition.spec());
  }

  // A projector or side-effect handler: its own consumer group.
  Application& add(std::shared_ptr<Consumer> consumer);
  const std::vector<std::shared_ptr<Consumer>>& consumers() const { return consumers_; }
  // Every consumer's read-model tables, for `cairn migrate --app` and `cairn grants --app`.
  std::vector<ReadModelTable> read_model_tables() const;

  // Turns payloads of `T` stored at `from_revision` into revision from_revision + 1.
  template <TypedMessage T, class F>
  void upcast(int from_revision, F f) {
    types_.add_upcaster(MessageTraits<T>::name, from_revision, std::function<Json(Json)>(f));
  }

  // The actor owning a stream: the one with the longest matching stream prefix, or null.
  const ActorSpec* actor_for_stream(std::string_view stream_id) const;
  const ActorSpec* actor_named(std::string_view name) const;
  const std::vector<ActorSpec>& actors() const { return actors_; }
  const TypeRegistry& types() const { return types_; }

 private:
  std::vector<ActorSpec> actors_;
  std::vector<std::shared_ptr<Consumer>> consumers_;
  TypeRegistry types_;
};

// Loads the shared library at `path` (a path, never a bare name: the system's library paths are
// not searched) and calls its `cairn_register_module`. Throws BadInput when it cannot, or when the
// module was built against another Cairn (its CAIRN_MODULE_ABI stamp differs from ours).
void load_module(Application& app, const std::string& path);

}  // namespace cairn

// Defines a module's registration function and stamps the module with the ABI it was built for.
#define CAIRN_MODULE(app)                                                    \
  extern "C" const char* cairn_module_abi() { return CAIRN_MODULE_ABI; } \
  extern "C" void cairn_register_module(cairn::Application& app)
