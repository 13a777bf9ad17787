// A child process the test controls: started with fork/exec, signalled, waited for (integration tests).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace cairn::testing {

class ChildProcess {
 public:
  // stdout and stderr go to `log_path`.
  ChildProcess(const std::string& program, const std::vector<std::string>& args, const std::string& log_path);
  ~ChildProcess();  // kills it if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  // The exit code (128 + signal if killed), or -1 if it is still running after `timeout`.
  int wait(std::chrono::milliseconds timeout);
  // The peak resident set size in KiB of the program it runs, as last seen while wait() polled
  // (VmHWM, sampled every 20 ms: a peak in its last moments can be missed).
  long max_rss_kib() const { return max_rss_kib_; }

 private:
  void sample_peak_rss();

  std::string program_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  long max_rss_kib_ = 0;
};

}  // namespace cairn::testing
