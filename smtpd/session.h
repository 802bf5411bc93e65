// session.h: one SMTP session of smtpd, from the greeting to the disconnect line. A state
// machine (session_state.h) driven by one dispatcher, drive(), over a bufferevent (a plain
// one, then an OpenSSL one on the same socket after STARTTLS); every state change goes
// through setState(), which checks the transition. The transaction (MAIL, RCPT, content)
// is the session's data.
//
//   session.cpp           I/O, the dispatcher, replies, error limits, closing
//   session_commands.cpp  HELO EHLO MAIL RCPT RSET NOOP VRFY HELP QUIT and the checks before
//   session_data.cpp      DATA and BDAT content, the commit, the 250
//   session_tls.cpp       STARTTLS and the handshake
//
// A session is owned by the server; when it is over it calls services.finished() once
// (from a callback: the server frees it later, never on the session's own stack).
#pragma once

#include <sys/socket.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client_counter.h"
#include "commit_pool.h"
#include "config.h"
#include "daemon.h"
#include "event.h"
#include "message_content.h"
#include "policy.h"
#include "qmgr_notifier.h"
#include "queue_store.h"
#include "session_log.h"
#include "session_state.h"
#include "smtp_command.h"
#include "unique_fd.h"

namespace postern::smtpd {

class Session;

// What sessions share: configuration, policy, the queue and the helpers around it.
struct SessionServices {
    event_base* base = nullptr;
    const Config* config = nullptr;
    queue::QueueStore* store = nullptr;
    CommitPool* commits = nullptr;
    QmgrNotifier* notifier = nullptr;  // null: no notices (tests)
    SSL_CTX* tls = nullptr;            // null: STARTTLS is not offered
    const RelayPolicy* relay = nullptr;
    MessageLimits limits;
    FreeSpaceCheck* freeSpace = nullptr;  // null: no check
    // The session is over: free it later (not from inside this call).
    std::function<void(Session&)> finished;
};

// Who is on the other end.
struct ClientOrigin {
    std::string hostname = "unknown";  // no reverse lookup: Postfix's "unknown"
    std::string address;               // numeric IP; "127.0.0.1" for local submissions
    bool local = false;                // public/submit
    long uid = -1;                     // local: the submitting user (SO_PEERCRED)
    bool trusted = false;              // may relay anywhere: mynetworks or local
};

class Session {
  public:
    Session(SessionServices& services, UniqueFd fd, ClientOrigin origin, WorkGuard work,
            ClientCounter::Ticket ticket);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Greets the client and starts reading commands.
    void start();
    // Says `refusal` (a 421) instead of the greeting and closes.
    void refuse(const SmtpReply& refusal);
    // The server is stopping: an idle session says 421 and closes now, a busy one after
    // its current message.
    void drain();

    SessionState state() const { return state_; }
    const ClientOrigin& origin() const { return origin_; }

  private:
    struct Transaction {
        std::string sender;  // canonical; empty for <>
        MailParameters params;
        std::vector<queue::Recipient> recipients;
        bool bdatStarted = false;  // a BDAT chunk was taken: DATA is no longer allowed
        int overshoot = 0;         // RCPTs refused for the recipient limit
    };
    struct CommandLine {
        std::string text;
        bool crlf = false;     // ended in CR LF, not a bare LF
        bool tooLong = false;  // longer than the limit: dropped, answered with 500
    };

    // ---- session.cpp: the machine, I/O, replies ----
    bool connect();
    void setState(SessionState next);
    void drive();
    void continueLater();
    void becameIdle();
    // The readers return true when they stopped for want of input.
    bool readCommands();
    std::optional<CommandLine> takeLine();
    void handleLine(const CommandLine& line);
    void answer(const SmtpReply& reply);
    void sendNow(const std::string& wire);
    void closeWith(const SmtpReply& reply);
    void closeNow(const char* why);
    void finishIfDone();
    bool outputBacklogged() const;
    void setReading(bool on);
    void armTimeouts();
    evbuffer* input() const;
    std::string client() const;
    const char* lastCommandName() const;
    void logDisconnect();
    void onDelayOver();
    void onWritten();
    void onConnectionEvent(short events);
    static void readCallback(bufferevent*, void* self);
    static void writeCallback(bufferevent*, void* self);
    static void eventCallback(bufferevent*, short events, void* self);
    static void delayCallback(evutil_socket_t, short, void* self);

    // ---- session_commands.cpp ----
    CommandContext commandContext() const;
    void dispatch(const SmtpCommand& command, const CommandLine& line);
    bool mustEndGroup(Verb verb) const;
    std::optional<SmtpReply> tlsRequiredRefusal(Verb verb) const;
    void onHelo(const SmtpCommand& command, bool ehlo);
    SmtpReply ehloReply() const;
    void onMail(const SmtpCommand& command);
    void onRcpt(const SmtpCommand& command);
    void onRset();
    void onVrfy(const SmtpCommand& command);
    void onQuit();
    void resetTransaction();
    void logReject(std::string_view stage, const SmtpReply& reply, std::string_view recipient,
                   std::string_view queueId = {});
    std::string protocol() const;

    // ---- session_data.cpp ----
    void onData(const CommandLine& line);
    void onBdat(const SmtpCommand& command);
    void openQueueFile(DataReader reader);
    void onQueueFileOpened(Result<std::unique_ptr<queue::MessageWriter>> writer);
    DataOptions dataOptions() const;
    queue::Envelope envelope() const;
    std::string receivedLine(const std::string& queueId) const;
    bool readData();
    bool readChunk();
    void chunkDone();
    void endOfMessage();
    void onCommitted(Status outcome);

    // ---- session_tls.cpp ----
    void onStarttls();
    void beginHandshake();
    void onHandshakeDone();
    void onHandshakeFailed();

    SessionServices& services_;
    ClientOrigin origin_;
    WorkGuard work_;
    ClientCounter::Ticket ticket_;
    // Freed in reverse order: the bufferevent, then the SSL it uses, then the socket.
    UniqueFd fd_;
    SslPtr ssl_;  // after STARTTLS
    BufferEventPtr bev_;
    EventPtr delayTimer_;  // made when first needed
    SessionState state_ = SessionState::Commands;

    Verb currentVerb_ = Verb::unknown;
    bool sawCommand_ = false;
    bool greeted_ = false;  // HELO or EHLO since the start or the last STARTTLS
    bool ehlo_ = false;
    bool tlsActive_ = false;
    bool draining_ = false;
    bool skippingLongLine_ = false;
    bool inputEnded_ = false;   // the client shut its sending side (EOF)
    bool poolPending_ = false;  // an open or a commit will call back: keep the object
    bool finishedCalled_ = false;
    int errors_ = 0;
    std::string helo_;
    std::string tlsSummary_;  // "TLSv1.3 with cipher ..." once TLS is up
    std::string delayedReply_;
    CommandCounters counters_;

    std::optional<Transaction> transaction_;
    std::unique_ptr<MessageContent> content_;
    std::optional<DataReader> openingReader_;  // while Opening
    uint64_t chunkSize_ = 0;
    uint64_t chunkRemaining_ = 0;
    bool chunkLast_ = false;
    std::optional<SmtpReply> chunkRefusal_;  // the chunk is read and dropped, then this
};

}  // namespace postern::smtpd
