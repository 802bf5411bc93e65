// commands.cpp: MAIL and RCPT command lines with their ESMTP parameters (see commands.h).
#include "commands.h"

#include <cctype>
#include <utility>

#include "queue_types.h"
#include "xtext.h"

namespace postern::smtp {

namespace {

bool equalsIgnoringCase(const std::string& a, const char* b) {
    size_t i = 0;
    for (; i < a.size() && b[i]; ++i) {
        if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
    }
    return i == a.size() && !b[i];
}

std::string notifyValue(int64_t notify) {
    if (notify & queue::kNotifyNever) return "NEVER";
    std::string value;
    for (auto [flag, name] : {std::pair{queue::kNotifySuccess, "SUCCESS"},
                              std::pair{queue::kNotifyFailure, "FAILURE"},
                              std::pair{queue::kNotifyDelay, "DELAY"}}) {
        if (!(notify & flag)) continue;
        if (!value.empty()) value += ',';
        value += name;
    }
    return value;
}

}  // namespace

bool isSendableAddress(const std::string& address) {
    if (address.size() > 1000) return false;
    for (unsigned char c : address) {
        if (c < 0x20 || c == 0x7f || c == '<' || c == '>') return false;
    }
    return true;
}

std::optional<std::string> orcptParameter(const std::string& stored) {
    const size_t semicolon = stored.find(';');
    if (semicolon == std::string::npos || semicolon == 0 || semicolon + 1 == stored.size())
        return std::nullopt;
    const std::string type = stored.substr(0, semicolon);
    const std::string value = stored.substr(semicolon + 1);
    if (equalsIgnoringCase(type, "utf-8")) {
        if (decodeUtf8AddrXtext(value, false)) return "utf-8;" + value;
        return "utf-8;" + encodeUtf8AddrXtext(value);
    }
    if (!equalsIgnoringCase(type, "rfc822")) return std::nullopt;
    auto decoded = decodeXtext(value);
    if (decoded && encodeXtext(*decoded) == value) return "rfc822;" + value;
    return "rfc822;" + encodeXtext(value);
}

std::string mailCommand(const delivery_protocol::DeliveryRequest& request,
                        const ServerCapabilities& caps, bool esmtp) {
    std::string line = "MAIL FROM:<" + request.sender + ">";
    if (esmtp) {
        if (caps.size) line += " SIZE=" + std::to_string(request.contentLength);
        const bool eightBit = request.bodyType == "8BITMIME" || request.bodyType == "BINARYMIME";
        if (eightBit && caps.eightBitMime) line += " BODY=8BITMIME";
        if (request.smtputf8 && caps.smtputf8) line += " SMTPUTF8";
        if (caps.dsn && !request.ret.empty()) line += " RET=" + request.ret;
        if (caps.dsn && !request.envid.empty()) line += " ENVID=" + encodeXtext(request.envid);
    }
    return line + "\r\n";
}

std::string rcptCommand(const delivery_protocol::RequestRecipient& recipient,
                        const ServerCapabilities& caps, bool esmtp) {
    std::string line = "RCPT TO:<" + recipient.address + ">";
    if (esmtp && caps.dsn) {
        if (recipient.notify != 0) line += " NOTIFY=" + notifyValue(recipient.notify);
        if (auto orcpt = orcptParameter(recipient.orcpt)) line += " ORCPT=" + *orcpt;
    }
    return line + "\r\n";
}

}  // namespace postern::smtp
