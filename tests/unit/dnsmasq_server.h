// dnsmasq_server.h: a real dnsmasq for unit tests, serving the given records on a free
// loopback UDP port; started by the constructor, stopped (by pid) by the destructor.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace postern::testing {

class DnsmasqServer {
  public:
    // Starts dnsmasq with `options` (e.g. "--mx-host=a.example,mx.a.example,10"); it answers
    // only from those (no upstream, no /etc/hosts). Check ok() before use.
    explicit DnsmasqServer(const std::vector<std::string>& options);
    // Stops dnsmasq and reaps it.
    ~DnsmasqServer();
    DnsmasqServer(const DnsmasqServer&) = delete;
    DnsmasqServer& operator=(const DnsmasqServer&) = delete;

    // True once dnsmasq answers queries.
    bool ok() const { return pid_ > 0; }
    // Why it did not start.
    const std::string& error() const { return error_; }
    // "127.0.0.1:PORT", for ResolverSettings::servers.
    std::string address() const;

  private:
    bool startOn(uint16_t port, const std::vector<std::string>& options);
    bool waitUntilAnswering();
    void stop();

    pid_t pid_ = -1;
    uint16_t port_ = 0;
    std::string error_;
};

// A loopback UDP port that nothing listens on at the moment of the call.
uint16_t freeUdpPort();

}  // namespace postern::testing
