// smtpd_session_support.h: a real smtpd Session on one end of a socket pair, with the
// in-memory queue, a real commit pool and event loop; the test is the client on the other
// end and talks SMTP to it line by line.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config.h"
#include "event.h"
#include "log.h"
#include "queue_memory_store.h"
#include "smtpd/commit_pool.h"
#include "smtpd/policy.h"
#include "smtpd/session.h"
#include "unique_fd.h"

namespace postern::smtpd::testing {

class SessionDriver {
  public:
    // A configuration for tests: myhostname mx.test, mynetworks 10.0.0.0/8, relay_domains
    // relay.test, short error delays.
    static Config testConfig();

    explicit SessionDriver(Config config = testConfig());
    ~SessionDriver();

    // Starts a session for a client at `address` (local: a public/submit client).
    void open(const std::string& address = "192.0.2.1", bool trusted = false, bool local = false);
    // Makes the session without starting it (the test calls start() or refuse()).
    void create(const std::string& address = "192.0.2.1", bool trusted = false, bool local = false);
    // Writes raw bytes as the client.
    void send(const std::string& bytes);
    // The next complete reply ("250-a\r\n250 b\r\n"), running the loop up to a deadline;
    // "" when none came (or the connection closed first).
    std::string reply(int timeoutMs = 3000);
    // Sends LINE plus CR LF and returns the reply.
    std::string command(const std::string& line);
    // EHLO, MAIL, RCPT; true when each succeeded.
    bool beginTransaction(const std::string& from = "a@sender.test",
                          const std::vector<std::string>& to = {"b@relay.test"});
    // True once the server closed the connection (EOF), running the loop to find out.
    bool closedByServer(int timeoutMs = 3000);
    // Closes the client's end, as a client that goes away.
    void closeClient() { client_.reset(); }
    // Shuts down the client's sending side only (it still reads the replies).
    void shutdownClientWrite();
    // Runs the loop a little (for things that produce no reply).
    void spin(int ms = 50);

    // The IDs in incoming/, and the parsed message and content of one.
    std::vector<std::string> incoming();
    std::optional<queue::QueueMessage> message(const std::string& id);
    std::string content(const std::string& id);

    log::Capture logs;  // first: it outlives everything that logs
    Config config;
    queue::MemoryQueueStore store;
    bool finished = false;  // the session called services.finished
    Session* session() { return session_.get(); }

  private:
    EventBasePtr base_;
    std::unique_ptr<CommitPool> pool_;
    std::unique_ptr<RelayPolicy> relay_;
    std::unique_ptr<FreeSpaceCheck> freeSpace_;
    SessionServices services_;
    std::unique_ptr<Session> session_;
    UniqueFd client_;
    std::string buffered_;
    bool eof_ = false;
};

}  // namespace postern::smtpd::testing
