// Unit tests: a command's reply reaches its caller once, and a dropped command still answers.
#include <doctest/doctest.h>

#include "actors/reply.hpp"

using namespace cairn;
using Status = HandleResult::Status;

TEST_CASE("a reply answers its caller once: the first answer counts, from any copy") {
  Reply reply(nullptr);
  auto future = reply.future();
  auto copy = reply;
  copy(HandleResult{Status::ok, {}, {}, {}, 7});
  reply(HandleResult::failure(Status::failed, "too late"));
  auto result = future.get();
  CHECK(result.ok());
  CHECK(result.seq == 7);
}

TEST_CASE("a reply dropped unanswered answers with a failure, and lets go of what it holds then") {
  auto held = std::make_shared<int>(1);
  std::future<HandleResult> future;
  {
    Reply reply(held);
    future = reply.future();
    auto copy = reply;
    CHECK(held.use_count() == 2);
  }
  CHECK(held.use_count() == 1);
  auto result = future.get();
  CHECK(result.status == Status::failed);
  CHECK(result.error.find("dropped before it was answered") != std::string::npos);
}
