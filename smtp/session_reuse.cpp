// session_reuse.cpp: a session's life between transactions (see session.h, "Connection
// reuse"): ending reusable, parked and watched, resumed at MAIL FROM for another delivery,
// QUIT from the cache, and telling a cached connection that went stale from a failure.
#include "log.h"
#include "session.h"

namespace postern::smtp {

// The owner gets a reusable end; the connection stays open, nothing armed until park().
void Session::endReusable() {
    SessionEnd end = finished();
    end.reusable = true;
    setState(State::Parked);
    Ended ended = ended_;
    ended(end);
}

void Session::park(std::chrono::seconds idleLimit, IdleEnded idleEnded) {
    if (state_ != State::Parked) log::panic("%s: parking a session in state %s", relay_.c_str(), stateName(state_));
    // Nothing of the last delivery stays reachable: its job, its callbacks.
    job_ = nullptr;
    recipientDone_ = nullptr;
    ended_ = nullptr;
    idleEnded_ = std::move(idleEnded);
    const timeval limit = {static_cast<time_t>(idleLimit.count()), 0};
    evtimer_add(timer_.get(), &limit);
}

void Session::resume(const DeliveryJob& job, std::vector<size_t> positions, RecipientDone recipientDone,
                     Ended ended) {
    if (state_ != State::Parked) log::panic("%s: resuming a session in state %s", relay_.c_str(), stateName(state_));
    evtimer_del(timer_.get());
    job_ = &job;
    positions_ = std::move(positions);
    settled_.assign(positions_.size(), false);
    recipientDone_ = std::move(recipientDone);
    ended_ = std::move(ended);
    idleEnded_ = nullptr;
    resetTransaction();
    resumed_ = true;
    beginTransaction();
}

void Session::quit(Ended ended) {
    if (state_ != State::Parked) log::panic("%s: QUIT from the cache in state %s", relay_.c_str(), stateName(state_));
    evtimer_del(timer_.get());
    ended_ = std::move(ended);
    idleEnded_ = nullptr;
    quitThen(finished());
}

void Session::onParkedEvent(bool expired) {
    if (!expired) {
        connection_.close();
        setState(State::Closed);
    }
    IdleEnded idleEnded = idleEnded_;  // a copy: the cache replaces it
    idleEnded_ = nullptr;
    if (idleEnded) idleEnded(this, expired);
}

// The first reply of a resumed transaction (to MAIL FROM) has not come: if the connection
// fails now, the server never took anything of this delivery.
bool Session::staleCachedConnection() const {
    return resumed_ && state_ == State::Transaction && repliesTaken_ == 0;
}

SessionEnd Session::stale(Verdict verdict) const {
    return {SessionEnd::Next::StaleConnection, std::move(verdict), false, false, via()};
}

void Session::resetTransaction() {
    commands_.clear();
    commandsSent_ = 0;
    repliesTaken_ = 0;
    expectedReplies_ = 0;
    pipelining_ = false;
    mailAccepted_ = false;
    emptyData_ = false;
    accepted_.clear();
    content_.reset();
    transactionStart_ = 0;
    resumed_ = false;
    outOfTurn_ = false;
    pendingEnd_ = {};
}

}  // namespace postern::smtp
