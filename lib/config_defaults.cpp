// config_defaults.cpp: the defaults a Config cannot spell as member initializers
// (machine host name, loopback networks, the service table) and small Config helpers.
#include <netdb.h>
#include <unistd.h>

#include <climits>

#include "config.h"

namespace postern {

namespace {

int cpuCount() {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? static_cast<int>(online) : 1;
}

// The canonical name of a host from the resolver (/etc/hosts first); empty on failure.
std::string canonicalName(const char* host) {
    addrinfo hints{};
    hints.ai_flags = AI_CANONNAME;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(host, nullptr, &hints, &found) != 0 || found == nullptr) return "";
    std::string name = found->ai_canonname ? found->ai_canonname : "";
    freeaddrinfo(found);
    return name;
}

}  // namespace

std::string machineHostName() {
    char host[HOST_NAME_MAX + 1] = {};
    if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "localhost";
    std::string name = host;
    if (name.find('.') == std::string::npos) {
        std::string canonical = canonicalName(host);
        if (canonical.find('.') != std::string::npos) name = canonical;
    }
    return normalizeDomain(name);
}

std::vector<CidrNetwork> loopbackNetworks() {
    return {CidrNetwork::parse("127.0.0.0/8").value(), CidrNetwork::parse("::1/128").value()};
}

std::vector<ServiceConfig> defaultServices() {
    return {{"smtpd", cpuCount(), 0, 0}, {"qmgr", 1, 0, 0}, {"smtp", 2, 0, 0}};
}

Config defaultConfig() {
    Config config;
    config.myhostname = machineHostName();
    return config;
}

const ServiceConfig* Config::service(const std::string& name) const {
    for (const auto& entry : services) {
        if (entry.name == name) return &entry;
    }
    return nullptr;
}

const char* smtpdTlsLevelName(SmtpdTlsConfig::Level level) {
    switch (level) {
        case SmtpdTlsConfig::Level::None:
            return "none";
        case SmtpdTlsConfig::Level::May:
            return "may";
        case SmtpdTlsConfig::Level::Encrypt:
            return "encrypt";
    }
    return "?";
}

}  // namespace postern
