// client_counter.cpp: per-address connection counts.
#include "client_counter.h"

#include "log.h"

namespace postern::smtpd {

ClientCounter::Ticket& ClientCounter::Ticket::operator=(Ticket&& other) noexcept {
    if (this != &other) {
        release();
        counter_ = std::exchange(other.counter_, nullptr);
        address_ = std::move(other.address_);
    }
    return *this;
}

void ClientCounter::Ticket::release() {
    if (!counter_) return;
    counter_->leave(address_);
    counter_ = nullptr;
}

ClientCounter::Ticket ClientCounter::enter(const std::string& address) {
    ++counts_[address];
    return Ticket(this, address);
}

int ClientCounter::count(const std::string& address) const {
    auto found = counts_.find(address);
    return found == counts_.end() ? 0 : found->second;
}

void ClientCounter::leave(const std::string& address) {
    auto found = counts_.find(address);
    if (found == counts_.end() || found->second <= 0)
        log::panic("client counter: %s left more often than it came", address.c_str());
    if (--found->second == 0) counts_.erase(found);
}

}  // namespace postern::smtpd
