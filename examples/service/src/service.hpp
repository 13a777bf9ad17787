// The inventory service: an embedded Cairn runtime, its projectors, and an HTTP edge over both.
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include <httplib.h>

#include <cairn/cairn.hpp>

namespace inventory {

//   POST /streams/{stream}/commands/{type}   JSON payload -> {"seq", "events"}; 422 {"code", "error"} when a rule refuses it
//   GET  /streams/{stream}                   the stream's state
//   GET  /projections/{group}/{key}          a view; with ?stream=S&seq=N, once it includes that write
class Service {
 public:
  // Registers the domain and starts its projectors in this process.
  explicit Service(cairn::Config config);
  ~Service();  // stop()
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Listens on host:port (0: any free port) on a thread of its own; returns the port. Throws when
  // the address cannot be bound.
  int start(const std::string& host, int port);
  // Stops taking requests, then the projectors (their progress saved) and the runtime. Idempotent.
  void stop();

 private:
  void post_command(const httplib::Request& request, httplib::Response& response);
  void get_state(const httplib::Request& request, httplib::Response& response);
  void get_projection(const httplib::Request& request, httplib::Response& response);

  cairn::Limits limits_;
  cairn::Runtime runtime_;
  httplib::Server server_;
  std::thread serving_;
  std::atomic<bool> accept_loop_ended_{false};
};

}  // namespace inventory
