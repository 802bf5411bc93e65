// queue_listing.cpp: the queue listing of `postern queue`, mailq and sendmail -bp (see
// queue_listing.h). The text layout is Postfix's showq_compat with long queue IDs:
//   heading  "%-17s %8s %-19s %s"   ----Queue ID----- --Size-- ---Arrival Time---- ...
//   message  "%-17s %8ld %19.19s %s" ID and status (* active, ! hold), size, asctime, sender
//   reason   76-character right-aligned "(reason)" when it differs from the previous one
//   rcpt     the same columns, empty but for the address
#include "queue_listing.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "json_text.h"
#include "text_escape.h"
#include "xtext.h"

namespace postern::cli {

using queue::QueueName;

namespace {

constexpr const char* kNullSenderText = "MAILER-DAEMON";  // Postfix's empty_address_recipient
constexpr int kReasonColumns = 76;

std::string lowerAscii(std::string text) {
    for (char& c : text) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return text;
}

std::string domainOf(const std::string& address) {
    size_t at = address.rfind('@');
    return at == std::string::npos ? "" : lowerAscii(address.substr(at + 1));
}

// The address inside an ORCPT value ("rfc822;a@b", xtext or utf-8-addr form); the raw
// value when it does not decode.
std::string origAddressOf(const std::string& orcpt) {
    size_t semicolon = orcpt.find(';');
    if (semicolon == std::string::npos) return orcpt;
    std::string type = lowerAscii(orcpt.substr(0, semicolon));
    std::string_view value = std::string_view(orcpt).substr(semicolon + 1);
    auto decoded = type == "utf-8" ? decodeUtf8AddrXtext(value, true) : decodeXtext(value);
    return decoded ? decoded.value() : orcpt;
}

// asctime() without its year and newline: "Sun Aug  2 16:49:03".
std::string arrivalText(int64_t seconds) {
    time_t when = static_cast<time_t>(seconds);
    std::tm parts{};
    char text[32] = "??";
    if (localtime_r(&when, &parts)) std::strftime(text, sizeof text, "%a %b %e %H:%M:%S", &parts);
    return text;
}

std::string formatColumns(const std::string& id, const std::string& size,
                          const std::string& time, const std::string& who) {
    char line[96];
    std::snprintf(line, sizeof line, "%-17s %8s %-19s ", id.c_str(), size.c_str(), time.c_str());
    return line + who + "\n";
}

}  // namespace

std::string queueLabel(QueueName queue) { return std::string(queue::queueDirectoryName(queue)); }

bool ListFilter::matches(const ListedMessage& message) const {
    if (!queues.empty() && std::find(queues.begin(), queues.end(), message.queue) == queues.end())
        return false;
    if (sender) {
        std::string wanted = lowerAscii(*sender);
        if (wanted == "<>" || wanted == "mailer-daemon") wanted.clear();
        if (lowerAscii(message.sender) != wanted) return false;
    }
    if (recipientDomain.empty()) return true;
    std::string wanted = lowerAscii(recipientDomain);
    for (const auto& recipient : message.recipients) {
        std::string domain = domainOf(recipient.address);
        if (wanted.front() == '.' ? domain.ends_with(wanted) : domain == wanted) return true;
    }
    return false;
}

std::vector<QueueName> ListFilter::queuesToScan() const {
    std::vector<QueueName> order = {QueueName::Incoming, QueueName::Active, QueueName::Deferred,
                                    QueueName::Hold};
    if (queues.empty()) return order;
    order.push_back(QueueName::Corrupt);  // never listed unless asked for (its files do not parse)
    std::erase_if(order, [&](QueueName queue) {
        return std::find(queues.begin(), queues.end(), queue) == queues.end();
    });
    return order;
}

ListedMessage describeMessage(QueueName queue, const queue::MessageHandle& handle) {
    const queue::QueueMessage& stored = handle.message();
    ListedMessage listed;
    listed.queue = queue;
    listed.id = handle.id();
    listed.arrivalSeconds = stored.envelope.arrivalMicros / 1000000;
    listed.size = stored.contentLength;
    listed.sender = stored.envelope.sender;
    for (const auto& recipient : stored.recipients) {
        if (queue::isFinal(recipient.status.state)) continue;
        listed.recipients.push_back({recipient.recipient.address,
                                     recipient.recipient.orcpt.empty()
                                         ? ""
                                         : origAddressOf(recipient.recipient.orcpt),
                                     recipient.status.reason});
    }
    return listed;
}

Status forEachListedMessage(queue::QueueStore& store, const ListFilter& filter,
                            const std::function<void(const ListedMessage&)>& visit,
                            const std::function<void(const std::string&)>& warn) {
    for (QueueName queue : filter.queuesToScan()) {
        auto ids = store.list(queue);
        if (!ids) return ids.failure();
        for (const auto& id : ids.value()) {
            auto handle = store.open(queue, id, queue::Access::ReadOnly);
            if (!handle) {
                auto where = store.find(id);
                bool moved = where && where.value() != queue;
                if (!moved) warn(id + ": " + handle.error());
                continue;
            }
            ListedMessage listed = describeMessage(queue, *handle.value());
            if (filter.matches(listed)) visit(listed);
        }
    }
    return {};
}

std::string MailqFormatter::message(const ListedMessage& message) {
    std::string text;
    if (count_ == 0) {
        text = formatColumns("----Queue ID-----", "--Size--", "---Arrival Time----",
                             "--Sender/Recipient------");
    } else {
        text = "\n";
    }
    ++count_;
    totalBytes_ += message.size;

    std::string id = message.id;
    if (message.queue == QueueName::Active) id += '*';
    if (message.queue == QueueName::Hold) id += '!';
    std::string sender = message.sender.empty() ? kNullSenderText : printable(message.sender);
    text += formatColumns(id, std::to_string(message.size), arrivalText(message.arrivalSeconds),
                          sender);
    // A reason line whenever the reason changes from the previous recipient's; a recipient
    // without one after one with one gets "(reason unavailable)", as in Postfix.
    std::string previousReason;
    for (const auto& recipient : message.recipients) {
        if (recipient.reason != previousReason) {
            previousReason = recipient.reason;
            std::string shown =
                recipient.reason.empty() ? "reason unavailable" : printable(recipient.reason);
            int padding = std::max(0, kReasonColumns - static_cast<int>(shown.size()));
            text += std::string(static_cast<size_t>(padding), ' ') + "(" + shown + ")\n";
        }
        text += formatColumns("", "", "", printable(recipient.address));
    }
    return text;
}

std::string MailqFormatter::finish() const {
    if (count_ == 0) return "Mail queue is empty\n";
    return "\n-- " + std::to_string(totalBytes_ / 1024) + " Kbytes in " + std::to_string(count_) +
           " Request" + (count_ == 1 ? "" : "s") + ".\n";
}

std::string formatJsonLine(const ListedMessage& message) {
    JsonObject object;
    object.add("queue_name", queueLabel(message.queue));
    object.add("queue_id", message.id);
    object.addNumber("arrival_time", message.arrivalSeconds);
    object.addNumber("message_size", static_cast<int64_t>(message.size));
    object.addBool("forced_expire", false);
    object.add("sender", message.sender.empty() ? kNullSenderText : message.sender);
    std::vector<std::string> recipients;
    for (const auto& recipient : message.recipients) {
        JsonObject entry;
        entry.add("address", recipient.address);
        if (!recipient.origAddress.empty()) entry.add("orig_address", recipient.origAddress);
        if (!recipient.reason.empty()) entry.add("delay_reason", recipient.reason);
        recipients.push_back(entry.text());
    }
    object.addRaw("recipients", jsonArray(recipients));
    return object.text() + "\n";
}

}  // namespace postern::cli
