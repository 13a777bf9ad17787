#include "actors/writer.hpp"

#include <cairn/errors.hpp>

namespace cairn {

Writer::Writer(Store& store, size_t threads, size_t max_batch, std::shared_ptr<Wakeup> wakeup,
               const WritePathMetrics& metrics)
    : store_(store), max_batch_(std::max<size_t>(max_batch, 1)), wakeup_(std::move(wakeup)), metrics_(metrics) {
  courier_ = std::thread([this] { deliver(); });
  for (size_t i = 0; i < std::max<size_t>(threads, 1); ++i) threads_.emplace_back([this] { run(); });
}

Writer::~Writer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  queued_.notify_all();
  for (auto& thread : threads_) thread.join();
  {
    std::lock_guard lock(answers_mutex_);
    delivered_all_ = true;
  }
  answered_.notify_one();
  courier_.join();
}

void Writer::append(AppendRequest request, stream_actor to) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back({std::move(request), std::move(to)});
  }
  queued_.notify_one();
}

void Writer::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    queued_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;
    auto n = static_cast<long>(std::min(queue_.size(), max_batch_));
    std::vector<Queued> batch(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.begin() + n));
    queue_.erase(queue_.begin(), queue_.begin() + n);
    lock.unlock();
    write(std::move(batch));
    lock.lock();
  }
}

void Writer::write(std::vector<Queued> batch) {
  std::vector<AppendRequest> requests;
  requests.reserve(batch.size());
  for (auto& queued : batch) requests.push_back(std::move(queued.request));
  metrics_.batch_size->observe(static_cast<double>(batch.size()));
  Answers answers;
  answers.to_actors.reserve(batch.size());
  for (auto& queued : batch) answers.to_actors.emplace_back(std::move(queued.to), Appended{});
  auto started = std::chrono::steady_clock::now();
  try {
    auto outcomes = store_.append_many(std::move(requests));
    metrics_.append_duration->observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    for (size_t i = 0; i < batch.size(); ++i) answers.to_actors[i].second.outcome = std::move(outcomes[i]);
    answers.wrote = true;
  } catch (const Unavailable& e) {
    for (auto& answer : answers.to_actors)
      answer.second.outcome = AppendOutcome{AppendOutcome::Status::unavailable, {}, 0, e.what()};
  } catch (const std::exception& e) {
    for (auto& answer : answers.to_actors) answer.second.failure = e.what();
  }
  {
    std::lock_guard lock(answers_mutex_);
    answers_.push_back(std::move(answers));
  }
  answered_.notify_one();
}

void Writer::deliver() {
  std::unique_lock lock(answers_mutex_);
  for (;;) {
    answered_.wait(lock, [this] { return delivered_all_ || !answers_.empty(); });
    if (answers_.empty()) return;
    auto answers = std::move(answers_.front());
    answers_.pop_front();
    lock.unlock();
    for (auto& [to, answer] : answers.to_actors) caf::anon_send(to, appended_atom::value, std::move(answer));
    if (answers.wrote) wakeup_->appended();
    lock.lock();
  }
}

}  // namespace cairn
