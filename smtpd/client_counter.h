// client_counter.h: simultaneous connections per client address, for
// smtpd.client_connection_count_limit (Postfix's anvil, within one smtpd process). A Ticket
// holds one count and gives it back when it goes, so no path can forget the decrement.
#pragma once

#include <string>
#include <unordered_map>
#include <utility>

namespace postern::smtpd {

class ClientCounter {
  public:
    // Holds one connection of one address; move-only.
    class Ticket {
      public:
        Ticket() = default;
        Ticket(Ticket&& other) noexcept
            : counter_(std::exchange(other.counter_, nullptr)),
              address_(std::move(other.address_)) {}
        Ticket& operator=(Ticket&& other) noexcept;
        Ticket(const Ticket&) = delete;
        Ticket& operator=(const Ticket&) = delete;
        ~Ticket() { release(); }
        // Gives the count back now (the destructor does it otherwise).
        void release();

      private:
        friend class ClientCounter;
        Ticket(ClientCounter* counter, std::string address)
            : counter_(counter), address_(std::move(address)) {}
        ClientCounter* counter_ = nullptr;
        std::string address_;
    };

    // Counts one more connection from `address`; the ticket returns it.
    Ticket enter(const std::string& address);
    // Connections from `address` now.
    int count(const std::string& address) const;
    // Addresses with at least one connection.
    size_t addresses() const { return counts_.size(); }

  private:
    void leave(const std::string& address);
    std::unordered_map<std::string, int> counts_;
};

}  // namespace postern::smtpd
