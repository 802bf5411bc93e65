// session.h: one SMTP client session with one server address: connect, greeting, EHLO (HELO
// when EHLO gets 5xx), STARTTLS per the route's policy with a fresh TLS context, EHLO again
// over TLS, then MAIL/RCPT/DATA (pipelined in one write when offered, RFC 2920), the
// content, the final dot, QUIT. Each recipient's result is reported as soon as it is final.
//
// An explicit state machine (State, one setter, one reply dispatcher), each state with its
// Postfix timeout (smtp.*_timeout). Whatever a server sends beyond the replies the session
// waits for is dropped, so capabilities or replies a server pipelines ahead of its turn
// (behind its greeting, or behind "220" to STARTTLS) are never believed.
//
// The session ends with a SessionEnd telling its owner what to do next: the recipients are
// all settled, or this server failed before MAIL FROM (try the next address), or a `may`
// handshake failed (retry in plaintext), or a local problem makes other servers pointless.
//
// Connection reuse (connection_cache.h): with Env::keepOpen a transaction that ended
// cleanly (the final dot answered, or an aborted one reset with RSET) ends `reusable`
// instead of with QUIT: the connection stays open, Parked, and the owner hands the session
// to the cache, which watches it (park) and later either gives it to another delivery of
// the same destination and TLS policy (resume: straight to MAIL FROM) or QUITs it. A resumed
// session whose server turns out gone before it answered MAIL (closed, timed out, 421)
// ends StaleConnection, having settled nothing: the owner tries a fresh connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config.h"
#include "connection.h"
#include "content.h"
#include "destination.h"
#include "job.h"
#include "report.h"
#include "smtp_reply.h"
#include "tls_setup.h"
#include "verdict.h"

namespace postern::smtp {

// The smtp.* parameters a session uses; times in seconds.
struct SessionSettings {
    std::string heloName;
    int connectTimeout = 30, heloTimeout = 300, starttlsTimeout = 300, mailTimeout = 300,
        rcptTimeout = 300, dataInitTimeout = 120, dataXferTimeout = 180, dataDoneTimeout = 600,
        quitTimeout = 300, rsetTimeout = 20;
    size_t lineLengthLimit = 998;

    // The settings of an smtp configuration.
    static SessionSettings fromConfig(const SmtpConfig& config);
};

struct SessionEnd {
    enum class Next {
        Finished,         // every recipient of the session has its result
        TryNextServer,    // the server failed before MAIL FROM: `verdict` if none is left
        RetryWithoutTls,  // a `may` handshake failed: this address again, in plaintext
        GiveUp,           // a local problem: every open recipient gets `verdict`
        StaleConnection,  // a resumed connection was gone before MAIL: nothing settled
    };
    Next next = Next::Finished;
    Verdict verdict;        // with every Next but Finished (StaleConnection: why, for the log)
    bool greeted = false;   // the server sent a greeting (smtp.mx_session_limit counts these)
    bool reusable = false;  // Finished with the connection open and ready for MAIL (Parked)
    RelayInfo via;
};

class Session {
  public:
    // A recipient's final result (POSITION indexes job.request.recipients).
    using RecipientDone = std::function<void(size_t position, const Verdict& verdict,
                                             const RelayInfo& via)>;
    // The end; the owner may destroy the session only after this returns (e.g. from a
    // deferred event), since the session is still on the call stack.
    using Ended = std::function<void(const SessionEnd& end)>;

    // While parked: the server closed or spoke (the connection is closed then), or the
    // idle time given to park() passed (expired, the connection still open).
    using IdleEnded = std::function<void(Session* session, bool expired)>;

    struct Env {
        event_base* base;
        const SessionSettings* settings;
        TrustStores* trust;
        bool keepOpen = false;  // a clean end leaves the connection open (reusable)
    };

    // A session with SERVER for the job's recipients at POSITIONS; tlsAllowed false: no
    // STARTTLS (the plaintext retry of `may`).
    Session(Env env, const DeliveryJob& job, Candidate server, std::vector<size_t> positions,
            bool tlsAllowed, RecipientDone recipientDone, Ended ended);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    // Connects; everything else follows from the event loop.
    void start();
    // Drops the connection at once (no QUIT, no callbacks): qmgr cancelled the delivery.
    void abort();
    // When MAIL FROM was sent (µs since the epoch); 0 when it was not.
    int64_t transactionStartMicros() const { return transactionStart_; }

    // A reusable session waits for its next transaction: no job any more; IDLE_ENDED once
    // when the server closes or sends anything, or after IDLE_LIMIT.
    void park(std::chrono::seconds idleLimit, IdleEnded idleEnded);
    // A parked session starts a transaction for JOB's recipients at POSITIONS, at MAIL FROM.
    void resume(const DeliveryJob& job, std::vector<size_t> positions, RecipientDone recipientDone,
                Ended ended);
    // A parked session says QUIT; ENDED once the server answered or closed, or quit_timeout.
    void quit(Ended ended);
    // The server this session talks to.
    const Candidate& server() const { return server_; }
    // Transactions begun on this connection, the current one included.
    int uses() const { return uses_; }
    // When the TCP connection was started.
    std::chrono::steady_clock::time_point connectedAt() const { return connectedAt_; }

    enum class State {
        Idle,          // not started
        Connecting,    // TCP connect
        Greeting,      // waiting for the 220
        Ehlo,          // EHLO sent
        Helo,          // HELO sent (EHLO got 5xx)
        StartTls,      // STARTTLS sent
        TlsHandshake,  // TLS handshake running
        TlsEhlo,       // EHLO sent over TLS
        Transaction,   // MAIL, RCPT, DATA sent (one by one, or pipelined)
        Content,       // sending the message
        DataDone,      // the final dot sent
        Rset,          // RSET sent after an aborted transaction, to keep the connection
        Parked,        // between transactions, connection open (reusable)
        Quit,          // QUIT sent; the session's end is decided
        Closed,        // over
        Count,         // sentinel
    };
    // Where the session is now.
    State state() const { return state_; }

  private:
    enum class CommandKind { Mail, Rcpt, Data };
    struct Command {
        CommandKind kind;
        size_t position;  // Rcpt: the recipient
        std::string text;
    };

    void setState(State state);
    void armTimer();
    void onConnectionEvent(ServerConnection::Event event, const std::string& detail);
    void readReplies();
    void onReply(const SmtpReply& reply);
    void onGreeting(const SmtpReply& reply);
    void onEhlo(const SmtpReply& reply);
    void onHelo(const SmtpReply& reply);
    void afterHandshake();
    void onStartTlsReply(const SmtpReply& reply);
    void beginTls();
    void onTlsReady();
    void onTlsFailed(const std::string& detail);
    void beginTransaction();
    bool checkServerLimits();
    void sendCommand(const std::string& text);
    void sendNextCommand();
    void onTransactionReply(const SmtpReply& reply);
    void continueTransaction(const Command& answered, const SmtpReply& reply);
    void startContent();
    void pumpContent();
    void onDataDoneReply(const SmtpReply& reply);
    void endTransaction(const SmtpReply* last, bool aborted);
    void onRsetReply(const SmtpReply& reply);
    void endReusable();
    void onParkedEvent(bool expired);
    bool staleCachedConnection() const;
    void resetTransaction();
    RelayInfo via() const;
    void onTimeout();
    void onConnectionLost(const std::string& detail, bool malformed);
    void quitThen(SessionEnd end);
    void endNow(SessionEnd end);
    SessionEnd tryNext(Verdict verdict) const;
    SessionEnd finished(Verdict verdict = {}) const;
    SessionEnd stale(Verdict verdict) const;
    void settle(size_t position, const Verdict& verdict);
    void settleOpen(const Verdict& verdict);
    void settleAccepted(const Verdict& verdict);
    std::string phase() const;
    static void onTimer(evutil_socket_t, short, void* self);

    Env env_;
    const DeliveryJob* job_;  // null while parked
    Candidate server_;
    std::string peer_;   // "host[ip]"
    std::string relay_;  // "host[ip]:port"
    std::vector<size_t> positions_;
    std::vector<bool> settled_;  // by index into positions_
    bool tlsAllowed_;
    RecipientDone recipientDone_;
    Ended ended_;
    IdleEnded idleEnded_;

    State state_ = State::Idle;
    ServerConnection connection_;
    ReplyReader reader_;
    EventPtr timer_;
    size_t expectedReplies_ = 0;
    bool connected_ = false;
    std::chrono::steady_clock::time_point connectedAt_{};
    bool greeted_ = false;
    bool tlsActive_ = false;
    bool esmtp_ = false;
    ServerCapabilities caps_;
    std::vector<Command> commands_;
    size_t commandsSent_ = 0;
    size_t repliesTaken_ = 0;
    bool pipelining_ = false;
    bool mailAccepted_ = false;
    bool emptyData_ = false;  // DATA got 354 with no recipient accepted: send "." only
    std::vector<size_t> accepted_;  // positions whose RCPT got 2xx
    std::unique_ptr<ContentStream> content_;
    int64_t transactionStart_ = 0;
    int uses_ = 0;             // transactions begun on this connection
    bool resumed_ = false;     // the current transaction runs on a cached connection
    bool outOfTurn_ = false;   // the server sent bytes beyond a reply: not kept
    SessionEnd pendingEnd_;  // what to report once QUIT is done
};

// "Greeting", "TlsEhlo", ...: a state's name for debug logs.
const char* stateName(Session::State state);

}  // namespace postern::smtp
