// load_module takes only paths, and only modules built against this Cairn.
#include <doctest/doctest.h>

#include <cairn/application.hpp>
#include <cairn/errors.hpp>

using cairn::Application;
using cairn::BadInput;

namespace {

std::string refusal(const std::string& path) {
  Application app;
  try {
    cairn::load_module(app, path);
  } catch (const BadInput& e) {
    return e.what();
  }
  return "loaded";
}

}  // namespace

TEST_CASE("a module built against this Cairn loads") {
  Application app;
  cairn::load_module(app, CAIRN_COUNTER_MODULE);
  CHECK(app.actor_named("counter") != nullptr);
}

TEST_CASE("a bare library name is refused rather than searched for in the system's paths") {
  auto reason = refusal("libc.so.6");  // dlopen would find this one
  CHECK(reason.find("must be a path") != std::string::npos);
  CHECK(reason.find("./libc.so.6") != std::string::npos);
}

TEST_CASE("a module stamped by another Cairn is refused, and names both stamps") {
  auto reason = refusal(CAIRN_FOREIGN_MODULE);
  CHECK(reason.find("cairn 0.0.1") != std::string::npos);
  CHECK(reason.find(CAIRN_MODULE_ABI) != std::string::npos);
  CHECK(reason.find("rebuild") != std::string::npos);
}

TEST_CASE("a module without a stamp is refused") {
  CHECK(refusal(CAIRN_UNSTAMPED_MODULE).find("no Cairn ABI stamp") != std::string::npos);
}

TEST_CASE("a path that is not there is refused with dlopen's reason") {
  CHECK(refusal("./no-such-module.so").find("cannot load application module ./no-such-module.so") !=
        std::string::npos);
}
