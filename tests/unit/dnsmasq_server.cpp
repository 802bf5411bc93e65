// dnsmasq_server.cpp: starts and stops a dnsmasq for the DNS unit tests (see the header).
#include "dnsmasq_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "unique_fd.h"

namespace postern::testing {

namespace {

sockaddr_in loopback(uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

// A DNS query for "probe.invalid" type A: any reply at all means the server is up.
bool answersQuery(uint16_t port) {
    static const unsigned char query[] = {0x42, 0x42, 0x01, 0x00, 0,   1,   0,   0, 0,   0,   0,
                                          0,    5,    'p',  'r',  'o', 'b', 'e', 7, 'i', 'n', 'v',
                                          'a',  'l',  'i',  'd',  0,   0,   1,   0, 1};
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM, 0));
    sockaddr_in address = loopback(port);
    if (::sendto(fd.get(), query, sizeof query, 0, reinterpret_cast<sockaddr*>(&address),
                 sizeof address) < 0) {
        return false;
    }
    pollfd ready{fd.get(), POLLIN, 0};
    if (::poll(&ready, 1, 20) != 1) return false;
    unsigned char reply[512];
    return ::recv(fd.get(), reply, sizeof reply, 0) >= 12;
}

}  // namespace

uint16_t freeUdpPort() {
    UniqueFd fd(::socket(AF_INET, SOCK_DGRAM, 0));
    sockaddr_in address = loopback(0);
    socklen_t length = sizeof address;
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        return 0;
    }
    return ntohs(address.sin_port);
}

DnsmasqServer::DnsmasqServer(const std::vector<std::string>& options) {
    // The port is free when chosen but may be taken before dnsmasq binds it: try again.
    for (int attempt = 0; attempt < 5; ++attempt) {
        if (startOn(freeUdpPort(), options) && waitUntilAnswering()) return;
        stop();
    }
    if (error_.empty()) error_ = "dnsmasq did not start";
}

DnsmasqServer::~DnsmasqServer() {
    stop();
}

std::string DnsmasqServer::address() const {
    return "127.0.0.1:" + std::to_string(port_);
}

bool DnsmasqServer::startOn(uint16_t port, const std::vector<std::string>& options) {
    port_ = port;
    std::vector<std::string> args = {"dnsmasq",
                                     "--keep-in-foreground",
                                     "--conf-file=/dev/null",
                                     "--port=" + std::to_string(port),
                                     "--listen-address=127.0.0.1",
                                     "--bind-interfaces",
                                     "--no-resolv",
                                     "--no-hosts",
                                     "--pid-file=",
                                     "--log-facility=-"};
    args.insert(args.end(), options.begin(), options.end());
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);

    pid_t pid = ::fork();
    if (pid < 0) {
        error_ = "fork failed";
        return false;
    }
    if (pid == 0) {
        int devNull = ::open("/dev/null", O_RDWR);
        ::dup2(devNull, STDOUT_FILENO);
        ::dup2(devNull, STDERR_FILENO);
        ::execvp("dnsmasq", argv.data());
        ::_exit(127);
    }
    pid_ = pid;
    return true;
}

bool DnsmasqServer::waitUntilAnswering() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            error_ = "dnsmasq exited with status " + std::to_string(WEXITSTATUS(status));
            return false;
        }
        if (answersQuery(port_)) return true;
    }
    error_ = "dnsmasq did not answer within 10 s";
    return false;
}

void DnsmasqServer::stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
}

}  // namespace postern::testing
