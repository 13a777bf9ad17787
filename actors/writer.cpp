#include "actors/writer.hpp"

#include <cairn/errors.hpp>

namespace cairn {

writer_actor::behavior_type writer(writer_actor::stateful_pointer<WriterState> self, Store* store, size_t max_batch,
                                   std::shared_ptr<Wakeup> wakeup, const WritePathMetrics* metrics) {
  // The flush is queued behind whatever is already in the mailbox, so every append that arrived
  // during the previous transaction joins the next one.
  auto queue_flush = [self] {
    if (self->state.flush_queued) return;
    self->state.flush_queued = true;
    self->send(self, flush_atom::value);
  };
  return {
      [self, queue_flush](append_atom, AppendRequest& request) -> caf::result<AppendOutcome> {
        auto promise = self->make_response_promise<AppendOutcome>();
        self->state.pending.push_back({std::move(request), promise});
        queue_flush();
        return promise;
      },
      [self, store, max_batch, queue_flush, wakeup, metrics](flush_atom) {
        auto& pending = self->state.pending;
        self->state.flush_queued = false;
        size_t n = std::min(pending.size(), std::max<size_t>(max_batch, 1));
        std::vector<WriterState::Pending> batch(std::make_move_iterator(pending.begin()),
                                                std::make_move_iterator(pending.begin() + static_cast<long>(n)));
        pending.erase(pending.begin(), pending.begin() + static_cast<long>(n));
        std::vector<AppendRequest> requests;
        requests.reserve(batch.size());
        for (auto& p : batch) requests.push_back(std::move(p.request));  // only the promise is needed after
        metrics->batch_size->observe(static_cast<double>(batch.size()));
        auto started = std::chrono::steady_clock::now();
        try {
          auto outcomes = store->append_many(std::move(requests));
          metrics->append_duration->observe(
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
          for (size_t i = 0; i < batch.size(); ++i) batch[i].promise.deliver(std::move(outcomes[i]));
          wakeup->appended();
        } catch (const Unavailable& e) {
          for (auto& p : batch) p.promise.deliver(AppendOutcome{AppendOutcome::Status::unavailable, {}, 0, e.what()});
        } catch (const std::exception& e) {
          for (auto& p : batch) p.promise.deliver(caf::make_error(caf::sec::runtime_error, std::string(e.what())));
        }
        if (!pending.empty()) queue_flush();
      },
  };
}

}  // namespace cairn
