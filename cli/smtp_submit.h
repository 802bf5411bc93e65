// smtp_submit.h: sendmail's SMTP client for postern's local submission socket
// (public/submit): greeting, EHLO, MAIL FROM with the DSN parameters, RCPT TO for each
// recipient, DATA with the content dot-stuffed and every line end made CR LF, QUIT. A
// message goes in whole or not at all: one rejected recipient cancels it (RSET), so that a
// caller who retries never sends it twice. The outcome carries a sysexits status.
#pragma once

#include <string>
#include <vector>

#include "timed_socket.h"

namespace postern::cli {

// sysexits.h statuses sendmail returns.
constexpr int kExDataErr = 65;      // bad address syntax, message refused
constexpr int kExNoUser = 67;       // a recipient was refused
constexpr int kExUnavailable = 69;  // the service refused us for good
constexpr int kExSoftware = 70;     // internal error
constexpr int kExTempFail = 75;     // try again later: postern down, 4xx, lost connection
constexpr int kExProtocol = 76;     // the server broke the protocol

struct Submission {
    std::string heloName;
    std::string sender;  // "" for the null sender
    std::vector<std::string> recipients;
    std::string notify;    // NOTIFY= for each recipient, or empty
    std::string ret;       // RET=, or empty
    std::string envid;     // ENVID (plain text: xtext-encoded here), or empty
    std::string bodyType;  // BODY=, or empty (8BITMIME is added for 8-bit content)
    std::string content;   // header and body as read: any line ends
};

struct SubmitOutcome {
    int status = 0;        // 0 or a sysexits status
    std::string queueId;   // from "250 ... queued as ID", when given
    std::vector<std::string> problems;  // for a person, one line each
};

// Runs one SMTP transaction on a connected socket.
SubmitOutcome submitMessage(TimedSocket& socket, const Submission& submission);

}  // namespace postern::cli
