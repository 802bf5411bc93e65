// session_log.cpp: the disconnect counters and the reject line.
#include "session_log.h"

#include <cctype>

namespace postern::smtpd {

namespace {

// Postfix's order in the disconnect line (its command table), then the rest.
constexpr Verb kOrder[] = {Verb::helo, Verb::ehlo, Verb::starttls, Verb::mail, Verb::rcpt,
                           Verb::data, Verb::bdat, Verb::rset,     Verb::noop, Verb::vrfy,
                           Verb::help, Verb::quit, Verb::unknown};

std::string tally(uint32_t ok, uint32_t total) {
    return ok == total ? std::to_string(total) : std::to_string(ok) + "/" + std::to_string(total);
}

}  // namespace

void CommandCounters::record(Verb verb, bool ok) {
    size_t index = size_t(verb);
    if (index >= kVerbs) index = size_t(Verb::unknown);
    ++total_[index];
    if (ok) ++ok_[index];
}

uint32_t CommandCounters::total() const {
    uint32_t sum = 0;
    for (uint32_t count : total_) sum += count;
    return sum;
}

std::string CommandCounters::summary() const {
    std::string text;
    uint32_t allOk = 0, all = 0;
    for (Verb verb : kOrder) {
        size_t index = size_t(verb);
        if (total_[index] == 0) continue;
        std::string name(verbName(verb));
        for (char& c : name) c = char(std::tolower(static_cast<unsigned char>(c)));
        text += " " + name + "=" + tally(ok_[index], total_[index]);
        allOk += ok_[index];
        all += total_[index];
    }
    if (all == 0) return {};
    return text + " commands=" + tally(allOk, all);
}

std::string clientName(std::string_view host, std::string_view address) {
    return std::string(host) + "[" + std::string(address) + "]";
}

std::string rejectLine(const RejectContext& context, const SmtpReply& reply) {
    std::string line = context.queueId.empty() ? "NOQUEUE" : std::string(context.queueId);
    line += ": reject: " + std::string(context.stage) + " from " + std::string(context.client) +
            ": " + reply.printable() + ";";
    if (context.sender) line += " from=<" + *context.sender + ">";
    if (!context.recipient.empty()) line += " to=<" + std::string(context.recipient) + ">";
    line += " proto=" + std::string(context.protocol);
    if (!context.helo.empty()) line += " helo=<" + std::string(context.helo) + ">";
    return line;
}

}  // namespace postern::smtpd
