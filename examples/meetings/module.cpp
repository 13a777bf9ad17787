// The meetings example as an application module (for cairn-worker and `cairn handle --app`).
// Its mailer prints each e-mail it would send on stderr; a real one would deduplicate on (meeting_id, seq).
#include <iostream>

#include "meeting.hpp"

CAIRN_MODULE(app) {
  app.add(meetings::meeting_actor());
  app.add(meetings::tables_projector());
  app.add(meetings::email_notifications([](const meetings::Email& mail) {
    // One write per line: handlers of distinct meetings run concurrently.
    std::cerr << ("meetings.email: to " + mail.to + ": " + mail.subject + " [" + mail.meeting_id + " #" +
                  std::to_string(mail.seq) + "]\n");
  }));
}
